package actors

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"prerenderd/browser"
)

// This file is the actor tree's metrics: one metrics.Set per appliance,
// registered once in newApplianceMetrics, written by WriteMetrics (GET
// /metrics).

// WriteMetrics writes the actor tree's metrics in Prometheus text format.
func (a *Appliance) WriteMetrics(w io.Writer) { a.metrics.set.WritePrometheus(w) }

type applianceMetrics struct {
	set              *metrics.Set
	renderDuration   *metrics.PrometheusHistogram
	rendersOK        *metrics.Counter
	rendersIncompl   *metrics.Counter
	rendersFailed    *metrics.Counter
	rendersRefused   *metrics.Counter
	tabWait          [numClasses]*metrics.PrometheusHistogram
	rendersJoined    *metrics.Counter
	storeFailed      *metrics.Counter
	markdownFailed   *metrics.Counter
	markdownSeconds  *metrics.PrometheusHistogram
	restarts         map[string]*metrics.Counter // by reason
	renderInflight   atomic.Int64
	tabsBusy         atomic.Int64
	queueLen         atomic.Int64
	browsersUp       atomic.Int64
	browsersDraining atomic.Int64
	browsersStarting atomic.Int64
	// chromium is the last measured usage of each browser's process tree, by id.
	chromium []chromiumUsage

	evictions *metrics.Counter // eviction passes
	evicted   *metrics.Counter // pages evicted
	cleared   *metrics.Counter // pages removed by wildcard clears
	sitemap   sitemapMetrics

	priorityLen  atomic.Int64
	normalLen    atomic.Int64 // pages past their TTL, counted once a minute
	priorityPace atomic.Int64 // URLs per hour, 0 = automatic
	normalPace   atomic.Int64 // URLs per hour from the seed's formula
	recaches     map[string]*metrics.Counter
	removals     map[string]*metrics.Counter
}

// recache counts a queue's recache by result (a small fixed set).
func (m *applianceMetrics) recache(queue, result string) *metrics.Counter {
	return m.recaches[queue+"/"+result]
}

// removed counts a page removal by reason (a small fixed set).
func (m *applianceMetrics) removed(reason string) *metrics.Counter {
	return m.removals[reason]
}

type chromiumUsage struct{ rss, pss atomic.Int64 }

func (m *applianceMetrics) setUsage(id int, u browser.Usage) {
	if id < len(m.chromium) {
		m.chromium[id].rss.Store(u.RSS)
		m.chromium[id].pss.Store(u.PSS)
	}
}

func (m *applianceMetrics) sumUsage(field func(*chromiumUsage) *atomic.Int64) float64 {
	var sum int64
	for i := range m.chromium {
		sum += field(&m.chromium[i]).Load()
	}
	return float64(sum)
}

// newApplianceMetrics registers in a set of the appliance's own, so two appliances in
// one test binary never register a name twice.
func newApplianceMetrics(a *Appliance) *applianceMetrics {
	m := &applianceMetrics{set: metrics.NewSet()}
	s := m.set
	m.renderDuration = s.NewPrometheusHistogramExt("prerender_render_duration_seconds", renderBuckets)
	m.rendersOK = s.NewCounter(`prerender_renders_total{result="ok"}`)
	m.rendersIncompl = s.NewCounter(`prerender_renders_total{result="incomplete"}`)
	m.rendersFailed = s.NewCounter(`prerender_renders_total{result="error"}`)
	m.rendersRefused = s.NewCounter(`prerender_renders_total{result="overloaded"}`)
	for c := range m.tabWait {
		m.tabWait[c] = s.NewPrometheusHistogramExt(fmt.Sprintf(`prerender_tab_wait_seconds{class=%q}`, Class(c)), tabWaitBuckets)
	}
	m.rendersJoined = s.NewCounter("prerender_render_joins_total")
	m.storeFailed = s.NewCounter("prerender_store_errors_total")
	m.markdownFailed = s.NewCounter("prerender_markdown_errors_total")
	m.markdownSeconds = s.NewPrometheusHistogramExt("prerender_markdown_duration_seconds", markdownBuckets)
	m.restarts = make(map[string]*metrics.Counter)
	for _, r := range []string{reasonCrash, reasonUnresponsive, reasonRenders, reasonAge, reasonMemory} {
		m.restarts[r] = s.NewCounter(fmt.Sprintf(`prerender_browser_restarts_total{reason=%q}`, r))
	}
	m.chromium = make([]chromiumUsage, a.cfg.Browsers)
	s.NewGauge(`prerender_browsers{state="up"}`, func() float64 { return float64(m.browsersUp.Load()) })
	s.NewGauge(`prerender_browsers{state="draining"}`, func() float64 { return float64(m.browsersDraining.Load()) })
	s.NewGauge(`prerender_browsers{state="starting"}`, func() float64 { return float64(m.browsersStarting.Load()) })
	s.NewGauge("prerender_chromium_rss_bytes", func() float64 { return m.sumUsage(func(u *chromiumUsage) *atomic.Int64 { return &u.rss }) })
	s.NewGauge("prerender_chromium_pss_bytes", func() float64 { return m.sumUsage(func(u *chromiumUsage) *atomic.Int64 { return &u.pss }) })
	s.NewGauge("prerender_renders_in_flight", func() float64 { return float64(m.renderInflight.Load()) })
	// The pool's shape (render.browsers, render.tabs_per_browser, "auto"
	// resolved): what prerender_tabs_busy and prerender_browsers count against.
	s.NewGauge("prerender_pool_browsers", func() float64 { return float64(a.cfg.Browsers) })
	s.NewGauge("prerender_pool_tabs", func() float64 { return float64(a.cfg.Browsers * a.cfg.TabsPerBrowser) })
	s.NewGauge("prerender_tabs_busy", func() float64 { return float64(m.tabsBusy.Load()) })
	s.NewGauge("prerender_tab_queue_length", func() float64 { return float64(m.queueLen.Load()) })
	s.NewGauge("prerender_pages_cached", func() float64 { return float64(a.store.PageCount()) })
	s.NewGauge(`prerender_recache_queue_length{queue="priority"}`, func() float64 { return float64(m.priorityLen.Load()) })
	s.NewGauge(`prerender_recache_queue_length{queue="normal"}`, func() float64 { return float64(m.normalLen.Load()) })
	s.NewGauge(`prerender_recache_pace_urls_per_hour{queue="priority"}`, func() float64 { return float64(m.priorityPace.Load()) })
	s.NewGauge(`prerender_recache_pace_urls_per_hour{queue="normal"}`, func() float64 { return float64(m.normalPace.Load()) })
	m.recaches = make(map[string]*metrics.Counter)
	for _, q := range []string{"priority", "normal"} {
		for _, r := range []string{"stored", "renewed", "removed", "kept", "skipped", "failed", "not_stored", "deferred"} {
			m.recaches[q+"/"+r] = s.NewCounter(`prerender_recaches_total{queue="` + q + `",result="` + r + `"}`)
		}
	}
	m.removals = make(map[string]*metrics.Counter)
	for _, r := range []string{"status", "5xx"} {
		m.removals[r] = s.NewCounter(`prerender_cache_removals_total{reason="` + r + `"}`)
	}
	s.NewGauge("prerender_storage_disk_bytes", func() float64 { return float64(a.store.DiskUsage()) })
	s.NewGauge("prerender_cache_stored_bytes", func() float64 { return float64(a.store.StoredBytes()) })
	s.NewGauge("prerender_cache_max_bytes", func() float64 { return float64(a.cfg.MaxBytes) })
	m.evictions = s.NewCounter("prerender_cache_evictions_total")
	m.evicted = s.NewCounter("prerender_cache_evicted_pages_total")
	m.cleared = s.NewCounter("prerender_cache_cleared_pages_total")
	m.sitemap = newSitemapMetrics(s)
	return m
}
