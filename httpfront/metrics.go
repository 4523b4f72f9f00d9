package httpfront

import (
	"bytes"
	"io"
	"net/http"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"prerenderd/analytics"
)

// GET /metrics is Prometheus's text format (0.0.4): every family with # HELP
// and # TYPE, histograms as le buckets with _sum and _count, labels from small
// fixed sets only. The families come from the appliance (actors: renders,
// queues, browsers, cache, egress), this front (page answers, crawler groups,
// build) and the store (Pebble's health), plus the library's go_* and
// process_* ones.

// cacheLabels are the values of prerender_requests_total's cache label.
var cacheLabels = [...]string{cacheHit, cacheMiss, cacheBypass, cacheStale, cacheRevalidated, cachePrerender, cacheError}

// codeLabels are the status classes of prerender_responses_total; "other" is
// a status outside 1xx–5xx (an origin may declare one).
var codeLabels = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// frontMetrics counts the answers of the render route.
type frontMetrics struct {
	cacheIndex map[string]int // a cacheLabels value → its index
	byCache    [len(cacheLabels)]*metrics.Counter
	byCode     [len(codeLabels)]*metrics.Counter
	// byGroup[g][c] counts the answers to crawler group g (analytics.Groups)
	// with cache result cacheLabels[c]: 9 groups × 7 results, a fixed set.
	byGroup [][len(cacheLabels)]*metrics.Counter
}

func newFrontMetrics(set *metrics.Set) *frontMetrics {
	m := &frontMetrics{cacheIndex: make(map[string]int, len(cacheLabels))}
	for i, c := range cacheLabels {
		m.cacheIndex[c] = i
		m.byCache[i] = set.NewCounter(`prerender_requests_total{cache="` + c + `"}`)
	}
	for i, c := range codeLabels {
		m.byCode[i] = set.NewCounter(`prerender_responses_total{code="` + c + `"}`)
	}
	groups := analytics.Groups()
	m.byGroup = make([][len(cacheLabels)]*metrics.Counter, len(groups))
	for g, group := range groups {
		for c, cache := range cacheLabels {
			m.byGroup[g][c] = set.NewCounter(`prerender_crawler_requests_total{group="` + group + `",cache="` + cache + `"}`)
		}
	}
	return m
}

// count counts one answer of the render route: its cache result (an
// X-Prerender-Cache value or cacheError; anything else counts as cacheError),
// its status and its crawler class. It is on the hit path: no allocation, no
// lock.
func (m *frontMetrics) count(label string, status int, class analytics.Class) {
	c, ok := m.cacheIndex[label]
	if !ok {
		c = m.cacheIndex[cacheError]
	}
	m.byCache[c].Inc()
	code := len(codeLabels) - 1
	if status >= 100 && status <= 599 {
		code = status/100 - 1
	}
	m.byCode[code].Inc()
	m.byGroup[class.GroupIndex()][c].Inc()
}

// writeStorageMetrics writes Pebble's health (storage.Health). A closed store
// writes nothing: the process is stopping.
func (s *Server) writeStorageMetrics(w io.Writer) {
	if s.cfg.Store == nil {
		return
	}
	h, err := s.cfg.Store.Health()
	if err != nil {
		return
	}
	metrics.WriteCounterUint64(w, "prerender_storage_compactions_total", uint64(h.Compactions))
	metrics.WriteGaugeUint64(w, "prerender_storage_compactions_in_progress", uint64(h.CompactionsInProgress))
	metrics.WriteGaugeUint64(w, "prerender_storage_compaction_debt_bytes", h.CompactionDebtBytes)
	metrics.WriteCounterUint64(w, "prerender_storage_flushes_total", uint64(h.Flushes))
	metrics.WriteGaugeUint64(w, "prerender_storage_read_amplification", uint64(h.ReadAmp))
	metrics.WriteGaugeUint64(w, "prerender_storage_sstables", uint64(h.Tables))
	metrics.WriteGaugeUint64(w, "prerender_storage_memtable_bytes", h.MemtableBytes)
	metrics.WriteGaugeUint64(w, "prerender_storage_wal_files", uint64(h.WALFiles))
	metrics.WriteGaugeUint64(w, "prerender_storage_wal_bytes", h.WALBytes)
	metrics.WriteCounterUint64(w, "prerender_storage_wal_written_bytes_total", h.WALWrittenBytes)
	metrics.WriteCounterUint64(w, "prerender_storage_block_cache_hits_total", uint64(h.BlockCacheHits))
	metrics.WriteCounterUint64(w, "prerender_storage_block_cache_misses_total", uint64(h.BlockCacheMisses))
	metrics.WriteGaugeUint64(w, "prerender_storage_block_cache_bytes", uint64(h.BlockCacheBytes))
	b := h.Bodies
	metrics.WriteGaugeUint64(w, "prerender_storage_body_segments", uint64(b.Segments))
	metrics.WriteGaugeUint64(w, "prerender_storage_body_bytes", uint64(max(b.Bytes, 0)))
	metrics.WriteGaugeUint64(w, "prerender_storage_body_dead_bytes", uint64(max(b.DeadBytes, 0)))
	metrics.WriteGaugeUint64(w, "prerender_storage_body_index_bytes", uint64(b.IndexBytes))
	metrics.WriteCounterUint64(w, "prerender_storage_corrupt_records_total", b.CorruptRecords)
	metrics.WriteCounterUint64(w, "prerender_storage_reclaimed_segments_total", b.ReclaimedSegs)
	metrics.WriteCounterUint64(w, "prerender_storage_reclaimed_bytes_total", b.ReclaimedBytes)
	metrics.WriteCounterUint64(w, "prerender_storage_garbage_moved_bytes_total", b.GarbageMovedByte)
	hot := s.cfg.Store.HotCacheStats()
	metrics.WriteCounterUint64(w, "prerender_storage_hot_cache_hits_total", hot.Hits)
	metrics.WriteCounterUint64(w, "prerender_storage_hot_cache_misses_total", hot.Misses)
	metrics.WriteGaugeUint64(w, "prerender_storage_hot_cache_bytes", uint64(max(hot.Bytes, 0)))
}

// serveMetrics answers GET /metrics. The exposition is built in a buffer, so
// each # HELP line the library writes bare gets its text (withHelp) and a slow
// scraper holds no lock.
func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	buf := metricsBufs.Get().(*bytes.Buffer)
	defer metricsBufs.Put(buf)
	buf.Reset()
	metrics.WriteProcessMetrics(buf)
	s.app.WriteMetrics(buf)
	s.set.WritePrometheus(buf)
	s.writeStorageMetrics(buf)
	out := withHelp(buf.Bytes())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(out)
}

var metricsBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// withHelp gives every bare "# HELP family" line the family's text from help.
// VictoriaMetrics/metrics (v1.44, and v1.45) writes # HELP with the family name
// only: it has no way to register a help text.
func withHelp(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/4)
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line = b[:i+1]
		}
		b = b[len(line):]
		if name, ok := bytes.CutPrefix(bytes.TrimSuffix(line, []byte("\n")), []byte("# HELP ")); ok && bytes.IndexByte(name, ' ') < 0 {
			if text, ok := help[string(name)]; ok {
				out = append(out, "# HELP "...)
				out = append(out, name...)
				out = append(out, ' ')
				out = append(out, text...)
				out = append(out, '\n')
				continue
			}
		}
		out = append(out, line...)
	}
	return out
}

// help is the # HELP text of each family prerenderd exposes, and of the
// library's Go and process families a dashboard reads. A new prerender_ family
// needs its line here: TestEveryPrerenderFamilyHasHelpAndType fails without it.
var help = map[string]string{
	// This front: the render route's answers.
	"prerender_requests_total":         "Answers to page requests by cache result (the X-Prerender-Cache value, or error for a refusal or failure).",
	"prerender_responses_total":        "Answers to page requests by status class (1xx-5xx, other).",
	"prerender_crawler_requests_total": "Answers to page requests by crawler group (crawlers/crawlers.json's groups, other_bots, unknown) and cache result.",
	"prerender_build_info":             "Always 1; the labels describe the build (git describe, commit, Go version).",

	// Renders (actors).
	"prerender_render_duration_seconds":   "Time from the start of a render to its end, retries included, in seconds.",
	"prerender_renders_total":             "Renders by result: ok, incomplete (a snapshot at render.page_timeout), error, overloaded (refused: queue full or timed out).",
	"prerender_render_joins_total":        "Requests that joined a render of the same page already running instead of starting one.",
	"prerender_renders_in_flight":         "Renders running now.",
	"prerender_pool_browsers":             "Chromium browsers of the pool (render.browsers, \"auto\" resolved).",
	"prerender_pool_tabs":                 "Tabs of the whole pool (render.browsers × render.tabs_per_browser, \"auto\" resolved).",
	"prerender_store_errors_total":        "Rendered pages that could not be stored.",
	"prerender_markdown_duration_seconds": "Time to make the Markdown rendition of a rendered page, in seconds.",
	"prerender_markdown_errors_total":     "Rendered pages whose Markdown rendition could not be made (stored and answered as HTML only).",
	"prerender_tab_wait_seconds":          "Time a render waited for a Chromium tab, by class of work (live, priority, normal), in seconds.",
	"prerender_tabs_busy":                 "Chromium tabs rendering now.",
	"prerender_tab_queue_length":          "Renders waiting for a tab now.",

	// Browsers (actors).
	"prerender_browsers":                   "Chromium processes by state (up, starting, draining).",
	"prerender_browser_restarts_total":     "Chromium restarts by reason (crash, unresponsive, renders, age, memory).",
	"prerender_chromium_rss_bytes":         "Resident memory of all Chromium process trees, in bytes.",
	"prerender_chromium_pss_bytes":         "Proportional set size of all Chromium process trees, in bytes (shared pages split between processes).",
	"prerender_egress_requests_total":      "Requests of Chromium through the egress proxy by result (allowed, refused by the address rules, dns_failure, failed).",
	"prerender_recache_queue_length":       "Pages waiting in a recache queue (priority: queued now; normal: past their TTL, counted once a minute).",
	"prerender_recache_pace_urls_per_hour": "Pace of a recache queue in URLs per hour (priority: 0 = automatic; in a cluster, this node's part of the cluster's rate).",
	"prerender_recaches_total":             "Recaches by queue (priority, normal) and result (stored, renewed, removed, kept, skipped, failed, not_stored, deferred).",

	// Cache (actors).
	"prerender_pages_cached": "Pages in the cache (every variant counts).",
	// A cluster (actors/cluster.go), only when [cluster] is enabled.
	"prerender_cluster_members":                  "Members of the cluster this node sees, itself included.",
	"prerender_cluster_virtual_shards":           "Virtual shards of the cluster (cluster.virtual_shards).",
	"prerender_cluster_virtual_shards_owned":     "Virtual shards this node owns (their keys are rendered and stored here).",
	"prerender_cluster_forwarded_total":          "Requests forwarded between members: out (sent to the owner) and in (answered for another member).",
	"prerender_cluster_forward_errors_total":     "Forwards that failed even after one failover.",
	"prerender_cluster_failovers_total":          "Forwards sent again after their member did not answer.",
	"prerender_cluster_membership_changes_total": "Changes of the members this node sees.",
	"prerender_cluster_hop_seconds":              "Time of a request forwarded to the owner, until its whole answer is back.",
	"prerender_cluster_queue_copy_errors_total":  "Batches of queued priority recaches whose backup member did not keep a copy.",
	"prerender_cluster_queue_handed_over_total":  "Copies of a departed member's queued priority recaches this node queued on their new owners.",
	"prerender_cluster_queue_moved_total":        "Queued priority recaches this node handed to the member that owns their key since a change of membership.",
	"prerender_cache_stored_bytes":               "Bytes of the stored pages, the figure storage.max_bytes bounds.",
	"prerender_cache_max_bytes":                  "storage.max_bytes, 0 when unbounded.",
	"prerender_cache_evictions_total":            "Eviction passes that removed pages to stay under storage.max_bytes.",
	"prerender_cache_evicted_pages_total":        "Pages removed by eviction.",
	"prerender_cache_cleared_pages_total":        "Pages removed by wildcard cache clears.",
	"prerender_cache_removals_total":             "Pages removed by a recache's answer: status (a status that is not kept, such as 404 or 410), 5xx (server errors several times in a row).",
	"prerender_storage_disk_bytes":               "Bytes the store uses on disk: Pebble's tables and WAL, and the body segments.",

	// Sitemaps (actors).
	"prerender_sitemap_polls_total":        "Sitemap polls.",
	"prerender_sitemap_urls_found_total":   "URLs found in polled sitemaps.",
	"prerender_sitemap_urls_queued_total":  "Sitemap URLs queued for a render.",
	"prerender_sitemap_urls_skipped_total": "Sitemap URLs not queued, by reason (unchanged, off_host, bad_url).",
	"prerender_sitemap_fetches_total":      "Sitemap fetches by result (ok, not_modified, error).",
	"prerender_sitemap_read_errors_total":  "Sitemaps that could not be read or parsed.",

	// Pebble (storage.Health).
	"prerender_storage_compactions_total":         "Pebble compactions finished since the store opened.",
	"prerender_storage_compactions_in_progress":   "Pebble compactions running now.",
	"prerender_storage_compaction_debt_bytes":     "Bytes Pebble estimates its compactions must rewrite to settle.",
	"prerender_storage_flushes_total":             "Pebble memtable flushes since the store opened.",
	"prerender_storage_read_amplification":        "Tables a point read may look at: L0 sublevels plus non-empty levels below.",
	"prerender_storage_sstables":                  "Live Pebble sstables.",
	"prerender_storage_memtable_bytes":            "Bytes in Pebble's memtables.",
	"prerender_storage_wal_files":                 "Live Pebble WAL files.",
	"prerender_storage_wal_bytes":                 "Physical size of Pebble's live WAL files, in bytes.",
	"prerender_storage_wal_written_bytes_total":   "Bytes written to Pebble's WAL since the store opened.",
	"prerender_storage_block_cache_hits_total":    "Lookups Pebble's block cache answered.",
	"prerender_storage_block_cache_misses_total":  "Lookups Pebble's block cache missed (a read from disk).",
	"prerender_storage_block_cache_bytes":         "Bytes Pebble's block cache holds.",
	"prerender_storage_hot_cache_hits_total":      "Page reads answered from the hot-body cache (storage.hot_cache), without Pebble or gunzip.",
	"prerender_storage_hot_cache_misses_total":    "Page reads the hot-body cache missed (read from Pebble); 0 when it is off.",
	"prerender_storage_hot_cache_bytes":           "Bytes the hot-body cache holds (storage.hot_cache bounds it).",
	"prerender_storage_body_segments":             "Body segment files: the page records, outside Pebble.",
	"prerender_storage_body_bytes":                "Bytes in the body segment files, live and dead.",
	"prerender_storage_body_dead_bytes":           "Bytes of overwritten or deleted page records the garbage pass has not reclaimed yet.",
	"prerender_storage_body_index_bytes":          "Bytes of the in-memory index of the page records.",
	"prerender_storage_corrupt_records_total":     "Page records read missing or damaged (answered as not found, so rendered again).",
	"prerender_storage_reclaimed_segments_total":  "Body segments the garbage pass removed.",
	"prerender_storage_reclaimed_bytes_total":     "Bytes of the body segments the garbage pass removed.",
	"prerender_storage_garbage_moved_bytes_total": "Live page record bytes the garbage pass copied out of the segments it removed.",

	// The library's Go and process families that the Grafana board reads.
	"go_goroutines":                 "Goroutines that exist now.",
	"go_memstats_heap_inuse_bytes":  "Bytes in in-use heap spans.",
	"go_memstats_heap_alloc_bytes":  "Bytes of allocated heap objects.",
	"go_memstats_sys_bytes":         "Bytes of memory obtained from the OS by the Go runtime.",
	"go_gc_duration_seconds":        "Quantiles of the last GC pauses, in seconds.",
	"go_info":                       "Always 1; the label is the Go version.",
	"process_resident_memory_bytes": "Resident memory of the prerenderd process (Chromium not included), in bytes.",
	"process_cpu_seconds_total":     "CPU time of the prerenderd process (user and system), in seconds.",
	"process_open_fds":              "Open file descriptors of the prerenderd process.",
	"process_start_time_seconds":    "Start time of the process, in seconds since the Unix epoch.",
}
