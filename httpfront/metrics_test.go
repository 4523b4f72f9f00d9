package httpfront

import (
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"prerenderd/analytics"
	"prerenderd/browser/fixture"
)

// scrapeMetrics reads GET /metrics with Prometheus's own text parser (the one
// its client library ships), which refuses what a Prometheus server refuses: a
// second TYPE or HELP line for a family, a malformed sample, a bad label.
func scrapeMetrics(t *testing.T, front string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(front + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type %q, want Prometheus text 0.0.4", ct)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	return fams
}

// sampleValue is the value of the series of fam whose labels are all of want.
func sampleValue(fam *dto.MetricFamily, want map[string]string) (float64, bool) {
	for _, m := range fam.GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// histogramQuantile is Prometheus's histogram_quantile on one histogram: the
// bucket holding rank q·count, interpolated linearly within it.
func histogramQuantile(q float64, h *dto.Histogram) float64 {
	count := float64(h.GetSampleCount())
	if count == 0 {
		return math.NaN()
	}
	rank := q * count
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		upper, cum := b.GetUpperBound(), float64(b.GetCumulativeCount())
		if cum >= rank {
			if math.IsInf(upper, 1) {
				return lower
			}
			return lower + (upper-lower)*(rank-below)/(cum-below)
		}
		lower, below = upper, cum
	}
	return lower
}

func TestMetricsArePrometheusTextWithHelpAndLeBuckets(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{AllowPrivate: true, Store: testStore}).URL
	for _, v := range []struct {
		ua, target, cache string
		status            int
	}{
		{uaGooglebot, origin.URL + "/product?metrics=1", "MISS", 200},
		{uaGooglebot, origin.URL + "/product?metrics=1", "HIT", 200},
		{uaGPTBot, origin.URL + "/notfound-static?metrics=1", "BYPASS", 404},
		{"curl/8.5", "notaurl", "", 400},
	} {
		a := get(t, front, v.target, "User-Agent", v.ua)
		if a.status != v.status || a.header.Get("X-Prerender-Cache") != v.cache {
			t.Fatalf("%s: %d %s, want %d %s", v.target, a.status, a.header.Get("X-Prerender-Cache"), v.status, v.cache)
		}
	}
	fams := scrapeMetrics(t, front)
	family := func(t *testing.T, name string, typ dto.MetricType) *dto.MetricFamily {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Fatalf("/metrics has no %s", name)
		}
		if f.GetType() != typ {
			t.Fatalf("%s is a %v, want a %v", name, f.GetType(), typ)
		}
		return f
	}

	t.Run("every prerender family has a help text and a type", func(t *testing.T) {
		var bare []string
		for name, f := range fams {
			if strings.HasPrefix(name, "prerender_") && (f.GetHelp() == "" || f.GetType() == dto.MetricType_UNTYPED) {
				bare = append(bare, name)
			}
		}
		sort.Strings(bare)
		if len(bare) > 0 {
			t.Fatalf("families without # HELP text or # TYPE (add them to help in httpfront/metrics.go): %v", bare)
		}
	})

	t.Run("the prerender families pass the lint of promtool check metrics", func(t *testing.T) {
		// promtool check metrics is this linter (promlint). The library's go_*
		// families are left out: some lack a help text, go_cgo_calls_count is
		// a counter without _total; they are the library's to fix.
		var own []*dto.MetricFamily
		for name, f := range fams {
			if strings.HasPrefix(name, "prerender_") {
				own = append(own, f)
			}
		}
		problems, err := promlint.NewWithMetricFamilies(own).Lint()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	})

	t.Run("render time and tab wait are histograms of le buckets with _sum and _count", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			series int
			top    float64
		}{{"prerender_render_duration_seconds", 1, 60}, {"prerender_tab_wait_seconds", 3, 60}} {
			f := family(t, c.name, dto.MetricType_HISTOGRAM)
			if len(f.GetMetric()) != c.series {
				t.Errorf("%s has %d series, want %d", c.name, len(f.GetMetric()), c.series)
			}
			for _, m := range f.GetMetric() {
				h := m.GetHistogram()
				bs := h.GetBucket()
				if len(bs) < 10 {
					t.Fatalf("%s has %d buckets", c.name, len(bs))
				}
				// The parser folds +Inf into the sample count; the bounds it keeps rise to the top one.
				if got := bs[len(bs)-1].GetUpperBound(); got != c.top && !math.IsInf(got, 1) {
					t.Errorf("%s: top bucket %v, want %v", c.name, got, c.top)
				}
				for i := 1; i < len(bs); i++ {
					if bs[i].GetUpperBound() <= bs[i-1].GetUpperBound() || bs[i].GetCumulativeCount() < bs[i-1].GetCumulativeCount() {
						t.Fatalf("%s: buckets out of order at %d: %v", c.name, i, bs)
					}
				}
				if bs[len(bs)-1].GetCumulativeCount() > h.GetSampleCount() {
					t.Errorf("%s: a bucket counts more than _count", c.name)
				}
			}
		}
		render := family(t, "prerender_render_duration_seconds", dto.MetricType_HISTOGRAM).GetMetric()[0].GetHistogram()
		if render.GetSampleCount() == 0 || render.GetSampleSum() <= 0 {
			t.Fatalf("after a render, _count %d and _sum %v", render.GetSampleCount(), render.GetSampleSum())
		}
		p50, p95 := histogramQuantile(0.5, render), histogramQuantile(0.95, render)
		if !(p50 > 0 && p50 <= p95 && p95 <= 60) {
			t.Fatalf("histogram_quantile of the render time: p50 %v, p95 %v", p50, p95)
		}
	})

	t.Run("answers are counted by cache result, status class and crawler group", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"prerender_requests_total", map[string]string{"cache": "MISS"}, 1},
			{"prerender_requests_total", map[string]string{"cache": "HIT"}, 1},
			{"prerender_requests_total", map[string]string{"cache": "BYPASS"}, 1},
			{"prerender_requests_total", map[string]string{"cache": "error"}, 1},
			{"prerender_responses_total", map[string]string{"code": "2xx"}, 2},
			{"prerender_responses_total", map[string]string{"code": "4xx"}, 2},
			{"prerender_responses_total", map[string]string{"code": "5xx"}, 0},
			{"prerender_crawler_requests_total", map[string]string{"group": "search", "cache": "MISS"}, 1},
			{"prerender_crawler_requests_total", map[string]string{"group": "search", "cache": "HIT"}, 1},
			{"prerender_crawler_requests_total", map[string]string{"group": "ai_training", "cache": "BYPASS"}, 1},
			{"prerender_crawler_requests_total", map[string]string{"group": analytics.GroupOtherBots, "cache": "error"}, 1},
			{"prerender_crawler_requests_total", map[string]string{"group": analytics.GroupUnknown, "cache": "HIT"}, 0},
		} {
			got, ok := sampleValue(family(t, c.name, dto.MetricType_COUNTER), c.labels)
			if !ok || got != c.want {
				t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
			}
		}
	})

	t.Run("crawler groups are the list's groups plus other_bots and unknown, nothing else", func(t *testing.T) {
		f := family(t, "prerender_crawler_requests_total", dto.MetricType_COUNTER)
		groups := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "group" {
					groups[l.GetValue()] = true
				}
			}
		}
		want := analytics.Groups()
		if len(groups) != len(want) || len(f.GetMetric()) != len(want)*len(cacheLabels) {
			t.Fatalf("groups %v (%d series), want %v × %d cache results", groups, len(f.GetMetric()), want, len(cacheLabels))
		}
		for _, g := range want {
			if !groups[g] {
				t.Errorf("no group %q", g)
			}
		}
	})

	t.Run("Pebble's health is there", func(t *testing.T) {
		for _, c := range []struct {
			name string
			typ  dto.MetricType
		}{
			{"prerender_storage_compactions_total", dto.MetricType_COUNTER},
			{"prerender_storage_compactions_in_progress", dto.MetricType_GAUGE},
			{"prerender_storage_compaction_debt_bytes", dto.MetricType_GAUGE},
			{"prerender_storage_flushes_total", dto.MetricType_COUNTER},
			{"prerender_storage_read_amplification", dto.MetricType_GAUGE},
			{"prerender_storage_sstables", dto.MetricType_GAUGE},
			{"prerender_storage_memtable_bytes", dto.MetricType_GAUGE},
			{"prerender_storage_wal_files", dto.MetricType_GAUGE},
			{"prerender_storage_wal_bytes", dto.MetricType_GAUGE},
			{"prerender_storage_wal_written_bytes_total", dto.MetricType_COUNTER},
			{"prerender_storage_block_cache_hits_total", dto.MetricType_COUNTER},
			{"prerender_storage_block_cache_misses_total", dto.MetricType_COUNTER},
			{"prerender_storage_block_cache_bytes", dto.MetricType_GAUGE},
			{"prerender_storage_hot_cache_hits_total", dto.MetricType_COUNTER},
			{"prerender_storage_hot_cache_misses_total", dto.MetricType_COUNTER},
			{"prerender_storage_hot_cache_bytes", dto.MetricType_GAUGE},
			{"prerender_storage_disk_bytes", dto.MetricType_GAUGE},
			{"prerender_storage_body_segments", dto.MetricType_GAUGE},
			{"prerender_storage_body_bytes", dto.MetricType_GAUGE},
			{"prerender_storage_body_dead_bytes", dto.MetricType_GAUGE},
			{"prerender_storage_body_index_bytes", dto.MetricType_GAUGE},
			{"prerender_storage_corrupt_records_total", dto.MetricType_COUNTER},
			{"prerender_storage_reclaimed_segments_total", dto.MetricType_COUNTER},
			{"prerender_storage_reclaimed_bytes_total", dto.MetricType_COUNTER},
			{"prerender_storage_garbage_moved_bytes_total", dto.MetricType_COUNTER},
		} {
			family(t, c.name, c.typ)
		}
		if v, _ := sampleValue(fams["prerender_storage_wal_written_bytes_total"], nil); v <= 0 {
			t.Errorf("pages were stored, yet %v WAL bytes written", v)
		}
		if v, _ := sampleValue(fams["prerender_storage_body_bytes"], nil); v <= 0 {
			t.Errorf("pages were stored, yet %v bytes in the body segments", v)
		}
	})

	t.Run("build info and the Go runtime are there", func(t *testing.T) {
		family(t, "prerender_build_info", dto.MetricType_GAUGE)
		for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes"} {
			family(t, name, dto.MetricType_GAUGE)
		}
		family(t, "process_cpu_seconds_total", dto.MetricType_COUNTER)
	})

	t.Run("the README's Metrics section names every prerender family", func(t *testing.T) {
		b, err := os.ReadFile("../README.md")
		if err != nil {
			t.Fatal(err)
		}
		_, section, _ := strings.Cut(string(b), "\n### Metrics\n")
		section, _, _ = strings.Cut(section, "\n## ")
		for name := range fams {
			if strings.HasPrefix(name, "prerender_") && !strings.Contains(section, "`"+name+"`") {
				t.Errorf("README.md's ### Metrics does not list %s", name)
			}
		}
	})

	t.Run("no label holds a URL and no family has an unbounded set of series", func(t *testing.T) {
		for name, f := range fams {
			if len(f.GetMetric()) > 100 {
				t.Errorf("%s has %d series", name, len(f.GetMetric()))
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if strings.Contains(l.GetValue(), "://") || strings.Contains(l.GetValue(), origin.URL) {
						t.Errorf("%s: label %s=%q", name, l.GetName(), l.GetValue())
					}
				}
			}
		}
	})
}

func TestWithHelpFillsTheBareHelpLinesItKnows(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"a bare HELP line of a known family gets its text",
			"# HELP prerender_tabs_busy\n# TYPE prerender_tabs_busy gauge\nprerender_tabs_busy 2\n",
			"# HELP prerender_tabs_busy " + help["prerender_tabs_busy"] + "\n# TYPE prerender_tabs_busy gauge\nprerender_tabs_busy 2\n"},
		{"a HELP line that has a text keeps it",
			"# HELP prerender_tabs_busy tabs\nprerender_tabs_busy 2\n", "# HELP prerender_tabs_busy tabs\nprerender_tabs_busy 2\n"},
		{"an unknown family stays bare", "# HELP go_threads\ngo_threads 9\n", "# HELP go_threads\ngo_threads 9\n"},
		{"a last line without a newline is kept", "prerender_tabs_busy 2", "prerender_tabs_busy 2"},
		{"nothing stays nothing", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := string(withHelp([]byte(c.in))); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestEveryHelpTextIsOneLineOfPrometheusText(t *testing.T) {
	for name, text := range help {
		if text == "" || strings.ContainsAny(text, "\\\n") || !strings.HasSuffix(text, ".") {
			t.Errorf("help[%q] = %q: want one sentence, no backslash or newline", name, text)
		}
	}
}

// BenchmarkCountAnswer is what /metrics adds to each answer: classifying the
// User-Agent once (shared with the analytics) and three counter increments.
func BenchmarkCountAnswer(b *testing.B) {
	m := newFrontMetrics(metrics.NewSet())
	for _, c := range []struct{ name, ua string }{{"crawler", uaGooglebot}, {"browser", uaBrowser}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.count(cacheHit, http.StatusOK, analytics.Classify(c.ua))
			}
		})
	}
}
