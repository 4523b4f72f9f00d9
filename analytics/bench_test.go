package analytics_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"prerenderd/analytics"
	"prerenderd/storage"
)

// A traffic model for the benchmarks: crawlers in the proportions a busy site
// sees, a few thousand URLs per site, one answer in ten a render.
var benchAgents = []string{
	googlebot, googlebot, googlebot, googlebot, gptbot, gptbot,
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
	"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
	"Twitterbot/1.0", "curl/8.5.0", chrome,
}

var benchResults = []analytics.Result{
	analytics.Hit, analytics.Hit, analytics.Hit, analytics.Hit, analytics.Hit, analytics.Hit,
	analytics.Stale, analytics.Prerender, analytics.Miss, analytics.Error,
}

func benchSites(n int) []string {
	sites := make([]string, n)
	for i := range sites {
		sites[i] = fmt.Sprintf("shop%d.example", i)
	}
	return sites
}

func benchURLs(sites []string, perSite int) []string {
	var urls []string
	for _, s := range sites {
		for i := range perSite {
			urls = append(urls, fmt.Sprintf("https://%s/category/%d/product/%d?color=blue", s, i%40, i))
		}
	}
	return urls
}

// BenchmarkRecord is the analytics' cost per answer on the hit path, from
// goroutines in parallel: crawler matching, site lookup, the minute's counters
// and the hour's top lists.
func BenchmarkRecord(b *testing.B) {
	sites := benchSites(10)
	urls := benchURLs(sites, 2000)
	r, err := analytics.Open(analytics.Options{Sites: sites, Logger: slog.New(slog.DiscardHandler)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		now := time.Now()
		for i := 0; pb.Next(); i++ {
			if i%1024 == 0 {
				now = time.Now()
			}
			r.Record(analytics.Request{Time: now, Result: benchResults[rng.IntN(len(benchResults))], Status: 200, Bytes: 30000,
				UserAgent: benchAgents[rng.IntN(len(benchAgents))], URL: urls[rng.IntN(len(urls))], Wait: time.Second})
		}
	})
}

// fill drives a recorder over [from, to) with the traffic model: perMinute
// answers per site and minute, one render in ten, a flush every hour as the
// flusher would have done (a flush every 10 s writes the same rows more often).
func fill(b *testing.B, r *analytics.Recorder, clk *clock, sites []string, from, to time.Time, perMinute int) {
	b.Helper()
	urls := benchURLs(sites, 2000)
	rng := rand.New(rand.NewPCG(1, 2))
	for t := from; t.Before(to); t = t.Add(time.Minute) {
		clk.Set(t)
		for range perMinute * len(sites) {
			u := urls[rng.IntN(len(urls))]
			res := benchResults[rng.IntN(len(benchResults))]
			r.Record(analytics.Request{Time: t, Result: res, Status: 200, Bytes: 20000 + rng.IntN(20000),
				UserAgent: benchAgents[rng.IntN(len(benchAgents))], URL: u, Wait: time.Duration(rng.IntN(3000)) * time.Millisecond})
			if res == analytics.Miss {
				r.RecordRender(analytics.Render{Time: t, URL: u, Result: analytics.RenderOK, Queue: analytics.Queue(rng.IntN(3)),
					Status: 200, Duration: time.Duration(300+rng.IntN(4000)) * time.Millisecond})
			}
		}
		if t.Minute() == 59 {
			if err := r.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	clk.Set(to)
	for range 2 {
		if err := r.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStats48h answers /api/stats for the last 48 hours of minute
// buckets of 10 sites (the whole appliance, and one site), JSON included.
func BenchmarkStats48h(b *testing.B) {
	store, err := storage.Open(storage.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	sites := benchSites(10)
	now := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
	clk := &clock{t: now.Add(-48 * time.Hour)}
	r, err := analytics.Open(analytics.Options{Sites: sites, FlushInterval: time.Minute, Clock: clk.Now, Logger: slog.New(slog.DiscardHandler)}, store)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	fill(b, r, clk, sites, now.Add(-48*time.Hour), now, 10)
	for _, tc := range []struct {
		name string
		q    analytics.StatsQuery
	}{
		{"all_sites_default_step", analytics.StatsQuery{From: now.Add(-48 * time.Hour)}},
		{"all_sites_1m_step", analytics.StatsQuery{From: now.Add(-48 * time.Hour), Step: time.Minute}},
		{"one_site_1m_step", analytics.StatsQuery{From: now.Add(-48 * time.Hour), Step: time.Minute, Site: sites[3]}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				st, err := r.Stats(tc.q)
				if err != nil {
					b.Fatal(err)
				}
				out, err := json.Marshal(st)
				if err != nil {
					b.Fatal(err)
				}
				size = len(out)
				if st.Total.Requests == 0 {
					b.Fatal("no requests")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
			b.ReportMetric(float64(size), "json-bytes")
		})
	}
}

// BenchmarkStorage90Days10Sites fills 90 days of analytics for 10 sites (10
// answers per site and minute from 14 kinds of clients over 20,000 URLs: every
// minute row and every top list as full as traffic makes them) through the
// recorder and its retention, then reports what the database takes on disk.
// It does the work once whatever b.N: run it with -benchtime 1x.
func BenchmarkStorage90Days10Sites(b *testing.B) {
	dir := b.TempDir()
	store, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	sites := benchSites(10)
	end := time.Date(2026, 6, 1, 0, 0, 30, 0, time.UTC)
	start := end.Add(-90 * 24 * time.Hour)
	clk := &clock{t: start}
	r, err := analytics.Open(analytics.Options{Sites: sites, FlushInterval: time.Minute, Clock: clk.Now, Logger: slog.New(slog.DiscardHandler)}, store)
	if err != nil {
		b.Fatal(err)
	}
	fill(b, r, clk, sites, start, end, 10)
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
	var rows, logical int64
	for _, kind := range []byte{'m', 'h', 't', 'd'} {
		names, err := store.AnalyticsNames(kind)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range names {
			err := store.ScanAnalytics(kind, name, 0, 1<<40, func(_ int64, v []byte) bool {
				rows++
				logical += int64(len(name) + len(v) + 13)
				return true
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := store.Close(); err != nil {
		b.Fatal(err)
	}
	// Reopened, as after a restart: the memtable is flushed, the WAL short.
	store, err = storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	b.ReportMetric(float64(store.DiskUsage()), "disk-bytes")
	b.ReportMetric(float64(logical), "row-bytes")
	b.ReportMetric(float64(rows), "rows")
}
