package actors

// The buckets (upper bounds, in seconds) of the histograms /metrics exposes
// as Prometheus le buckets, so histogram_quantile reads them.
var (
	// renderBuckets span a quick page (50 ms) to render.page_timeout's upper
	// range (60 s), closer where most renders fall (0.5–5 s).
	renderBuckets = []float64{0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 45, 60}
	// tabWaitBuckets: most waits are 0 (a tab was free); a wait past a few
	// seconds is a saturated pool, and render.queue_timeout ends it.
	tabWaitBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60}
	// markdownBuckets: a page's Markdown takes about 1 ms for an article,
	// 20 ms for 30 KB of markup, 0.3 s per MiB up to the 2 MiB bound.
	markdownBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
)
