package actors

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"prerenderd/browser"
	"prerenderd/browser/fixture"
	"prerenderd/storage"
)

// pollerRig is a poller on a real in-memory store and a real origin, whose queue
// records what it is given.
type pollerRig struct {
	p      *sitemapPoller
	store  *storage.Store
	origin *fixture.Origin
	m      *sitemapMetrics

	mu     sync.Mutex
	queued []string
}

func newPollerRig(t testing.TB, mutate func(*SitemapsConfig)) *pollerRig {
	t.Helper()
	store, err := storage.Open(storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := SitemapsConfig{policy: loopbackOrigins.Policy}
	if mutate != nil {
		mutate(&cfg)
	}
	cfg.EnsureDefaults()
	m := newSitemapMetrics(metrics.NewSet())
	r := &pollerRig{store: store, origin: fixture.New(t), m: &m}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r.p = newSitemapPoller(cfg, store, log, r.m, time.Now)
	r.p.queue = func(_ context.Context, items []queueItem) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, it := range items {
			if it.Key != "desktop|"+it.URL {
				t.Errorf("item key %q does not match its URL %q", it.Key, it.URL)
			}
			r.queued = append(r.queued, strings.TrimPrefix(it.URL, r.origin.URL))
		}
		return nil
	}
	r.p.save = func(url string, st storage.SitemapState) {
		if err := store.PutSitemap(url, st); err != nil {
			t.Error(err)
		}
	}
	return r
}

// poll polls the root at path of the origin and returns what was queued, sorted.
func (r *pollerRig) poll(t *testing.T, path string) []string {
	t.Helper()
	r.mu.Lock()
	r.queued = nil
	r.mu.Unlock()
	root := sitemapRoot{URL: r.origin.URL + path, Host: strings.TrimPrefix(r.origin.URL, "http://"), Source: "config"}
	if strings.HasSuffix(path, "robots.txt") {
		root.Robots = true
	}
	if err := r.p.poll(context.Background(), root); err != nil {
		t.Fatalf("poll: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	q := slices.Clone(r.queued)
	slices.Sort(q)
	return q
}

func (r *pollerRig) state(t *testing.T, path string) storage.SitemapState {
	t.Helper()
	st, err := r.store.GetSitemap(r.origin.URL + path)
	if err != nil {
		t.Fatalf("state of %s: %v", path, err)
	}
	return st
}

// rendered stores a page for path as if it had been rendered at when.
func (r *pollerRig) rendered(t *testing.T, path string, when time.Time) {
	t.Helper()
	putTestPage(t, r.store, "desktop|"+r.origin.URL+path, when, 100)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestSitemapIndexWithPlainAndGzippedURLSets(t *testing.T) {
	r := newPollerRig(t, nil)
	all := []string{"/", "/chain", "/jsonld", "/notfound-static", "/product", "/ready"}
	t.Run("the first poll queues every URL of both urlsets", func(t *testing.T) {
		if got := r.poll(t, "/sitemap-index.xml"); !slices.Equal(got, all) {
			t.Fatalf("queued %q, want %q", got, all)
		}
		idx := r.state(t, "/sitemap-index.xml")
		if idx.Kind != "sitemapindex" || len(idx.Children) != 2 || idx.ETag == "" || idx.LastError != "" {
			t.Fatalf("index state %+v", idx)
		}
		if st := r.state(t, "/sitemap-products.xml.gz"); st.Kind != "urlset" || st.URLs != 3 || st.ETag == "" {
			t.Fatalf("gzipped urlset state %+v", st)
		}
		if r.m.found.Get() != 6 || r.m.queued.Get() != 6 {
			t.Fatalf("found %d queued %d", r.m.found.Get(), r.m.queued.Get())
		}
	})
	// Everything has been rendered since (after every lastmod of the fixture).
	renderedAt := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	for _, p := range all {
		r.rendered(t, p, renderedAt)
	}
	t.Run("a second poll with nothing changed queues nothing and reads nothing again", func(t *testing.T) {
		before := r.m.fetches["not_modified"].Get()
		if got := r.poll(t, "/sitemap-index.xml"); len(got) != 0 {
			t.Fatalf("queued %q", got)
		}
		if n := r.m.fetches["not_modified"].Get() - before; n != 3 {
			t.Fatalf("%d answers were 304, want 3 (the index and both urlsets)", n)
		}
		if r.origin.Header("/sitemap-index.xml").Get("If-None-Match") == "" {
			t.Fatal("no conditional request")
		}
	})
	t.Run("a second poll after a lastmod changed queues only that URL", func(t *testing.T) {
		products, err := os.ReadFile(fixture.Dir() + "/sitemap-products.xml")
		if err != nil {
			t.Fatal(err)
		}
		changed := bytes.Replace(products, []byte("<loc>{{ORIGIN}}/product</loc><lastmod>2026-11-20</lastmod>"),
			[]byte("<loc>{{ORIGIN}}/product</loc><lastmod>2026-11-24T09:00:00Z</lastmod>"), 1)
		if bytes.Equal(changed, products) {
			t.Fatal("fixture sitemap is not as this test expects")
		}
		changed = bytes.ReplaceAll(changed, []byte("{{ORIGIN}}"), []byte(r.origin.URL))
		r.origin.SetFile("sitemap-products.xml.gz", gzipBytes(t, changed))
		if got := r.poll(t, "/sitemap-index.xml"); !slices.Equal(got, []string{"/product"}) {
			t.Fatalf("queued %q, want only /product", got)
		}
		// The 304 poll read no URL; this one read the three of the products file.
		if got := r.m.skipped["unchanged"].Get(); got != 2 {
			t.Fatalf("unchanged skips %d, want 2 (/ready and /notfound-static)", got)
		}
	})
	t.Run("a URL not rendered yet is queued again on the next full read", func(t *testing.T) {
		if err := r.store.DeletePage("desktop|" + r.origin.URL + "/ready"); err != nil {
			t.Fatal(err)
		}
		r.origin.SetFile("sitemap-products.xml.gz", gzipBytes(t, []byte(strings.ReplaceAll(
			"<urlset><url><loc>{{ORIGIN}}/product</loc></url><url><loc>{{ORIGIN}}/ready</loc></url></urlset>", "{{ORIGIN}}", r.origin.URL))))
		if got := r.poll(t, "/sitemap-index.xml"); !slices.Equal(got, []string{"/ready"}) {
			t.Fatalf("queued %q, want /ready", got)
		}
	})
}

// bombOf is a urlset with two URLs followed by size bytes of empty elements, in
// gzip members of 1 MiB: a few KB on the wire.
func bombOf(t *testing.T, origin string, size int) []byte {
	head := gzipBytes(t, []byte("<urlset><url><loc>"+origin+"/a</loc></url><url><loc>"+origin+"/b</loc></url>"))
	pad := gzipBytes(t, bytes.Repeat([]byte("<x/>"), (1<<20)/4))
	out := slices.Clone(head)
	for n := 0; n < size; n += 1 << 20 {
		out = append(out, pad...)
	}
	return out
}

func TestSitemapsThatMustStopWithAClearError(t *testing.T) {
	index := func(locs ...string) string {
		var b strings.Builder
		b.WriteString("<sitemapindex>")
		for _, l := range locs {
			fmt.Fprintf(&b, "<sitemap><loc>{{ORIGIN}}/%s</loc></sitemap>", l)
		}
		b.WriteString("</sitemapindex>")
		return b.String()
	}
	urlset := func(paths ...string) string {
		var b strings.Builder
		b.WriteString("<urlset>")
		for _, p := range paths {
			fmt.Fprintf(&b, "<url><loc>%s</loc></url>", strings.ReplaceAll(p, "~", "{{ORIGIN}}"))
		}
		b.WriteString("</urlset>")
		return b.String()
	}
	tests := []struct {
		name       string
		files      map[string]string // raw bodies; a name ending in .gz is sent as given
		bomb       bool
		root       string
		cfg        func(*SitemapsConfig)
		queued     []string
		errState   string // the root's LastError contains this
		readErrs   uint64
		notFetched string
	}{
		{name: "a gzip bomb stops at the size limit and keeps the URLs before it", bomb: true, root: "/bomb.xml.gz",
			cfg:    func(c *SitemapsConfig) { c.Limits.MaxBytes = 1 << 20 },
			queued: []string{"/a", "/b"}, errState: "larger than the uncompressed size limit", readErrs: 1},
		{name: "an index loop is read once and reported", root: "/loop-a.xml",
			files:  map[string]string{"loop-a.xml": index("loop-b.xml"), "loop-b.xml": index("loop-a.xml", "leaf.xml"), "leaf.xml": urlset("~/leaf")},
			queued: []string{"/leaf"}, readErrs: 1},
		{name: "an index nested deeper than 3 levels is refused", root: "/d1.xml",
			files:    map[string]string{"d1.xml": index("d2.xml"), "d2.xml": index("d3.xml"), "d3.xml": index("d4.xml"), "d4.xml": index("leaf.xml"), "leaf.xml": urlset("~/leaf")},
			readErrs: 1, notFetched: "/leaf.xml"},
		{name: "a urlset under three levels of index is read", root: "/d1.xml",
			files:  map[string]string{"d1.xml": index("d2.xml"), "d2.xml": index("d3.xml"), "d3.xml": index("leaf.xml"), "leaf.xml": urlset("~/leaf")},
			queued: []string{"/leaf"}},
		{name: "URLs of another host are skipped", root: "/mixed.xml",
			files:  map[string]string{"mixed.xml": urlset("~/mine", "https://other.example/theirs", "not a url")},
			queued: []string{"/mine"}},
		{name: "URLs of a host in security.allow_hosts are taken", root: "/mixed.xml",
			cfg:    func(c *SitemapsConfig) { c.AllowHosts = []string{"other.example"} },
			files:  map[string]string{"mixed.xml": urlset("~/mine", "https://other.example/theirs")},
			queued: []string{"/mine", "https://other.example/theirs"}},
		{name: "a sitemap of another host listed in an index is not fetched", root: "/idx.xml",
			files:    map[string]string{"idx.xml": "<sitemapindex><sitemap><loc>https://other.example/s.xml</loc></sitemap></sitemapindex>"},
			readErrs: 1},
		{name: "malformed XML keeps what was read", root: "/broken.xml",
			files:  map[string]string{"broken.xml": strings.TrimSuffix(urlset("~/one", "~/two"), "</urlset>") + "<url><loc>"},
			queued: []string{"/one", "/two"}, errState: "malformed", readErrs: 1},
		{name: "a page that is not a sitemap is malformed", root: "/product", errState: "malformed", readErrs: 1},
		{name: "a non-200 answer is recorded", root: "/missing.xml", errState: "answered 404"},
		{name: "a private address is refused unless security.allow_private", root: "/sitemap-pages.xml",
			cfg:      func(c *SitemapsConfig) { c.policy = nil },
			errState: "private-address", notFetched: "/sitemap-pages.xml"},
		{name: "robots.txt Sitemap: lines are read", root: "/robots.txt",
			files:  map[string]string{"robots.txt": "User-agent: *\nDisallow:\nSitemap: {{ORIGIN}}/sitemap-pages.xml\n"},
			queued: []string{"/", "/chain", "/jsonld"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newPollerRig(t, tc.cfg)
			for name, body := range tc.files {
				r.origin.SetFile(name, []byte(body))
			}
			if tc.bomb {
				r.origin.SetFile("bomb.xml.gz", bombOf(t, r.origin.URL, 1<<30))
			}
			got := r.poll(t, tc.root)
			if !slices.Equal(got, tc.queued) && !(len(got) == 0 && len(tc.queued) == 0) {
				t.Fatalf("queued %q, want %q", got, tc.queued)
			}
			if tc.errState != "" {
				st := r.state(t, tc.root)
				if !strings.Contains(st.LastError, tc.errState) {
					t.Fatalf("LastError %q, want it to contain %q", st.LastError, tc.errState)
				}
				if st.ETag != "" {
					t.Fatalf("a file read in part kept its ETag %q: the next poll would skip it", st.ETag)
				}
			}
			if got := r.m.readErrors.Get(); got != tc.readErrs {
				t.Fatalf("read errors %d, want %d", got, tc.readErrs)
			}
			if tc.notFetched != "" && r.origin.Hits(tc.notFetched) != 0 {
				t.Fatalf("%s was fetched", tc.notFetched)
			}
		})
	}
}

// BenchmarkPoll50kGzip is a whole poll of a 50,000-URL gzipped sitemap (every URL
// with lastmod) served over HTTP: fetch, gunzip, parse, one cache lookup per URL in
// a real store, and queueing in batches of 500 (the queue here only counts). The
// peak-heap-MB metric is the largest heap in use sampled during the poll, above the
// heap before it.
func BenchmarkPoll50kGzip(b *testing.B) {
	r := newPollerRig(b, nil)
	var body bytes.Buffer
	body.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` + "\n")
	for i := range 50_000 {
		fmt.Fprintf(&body, "  <url>\n    <loc>{{ORIGIN}}/products/category-%d/espresso-machine-model-%d?color=black</loc>\n    <lastmod>2026-11-%02dT10:00:00+00:00</lastmod>\n    <changefreq>daily</changefreq>\n  </url>\n", i%97, i, 1+i%28)
	}
	body.WriteString("</urlset>\n")
	plain := bytes.ReplaceAll(body.Bytes(), []byte("{{ORIGIN}}"), []byte(r.origin.URL))
	gz := gzipBytes(b, plain)
	r.origin.SetFile("big.xml.gz", gz)
	var queued int
	r.p.queue = func(_ context.Context, items []queueItem) error { queued += len(items); return nil }
	root := sitemapRoot{URL: r.origin.URL + "/big.xml.gz", Host: strings.TrimPrefix(r.origin.URL, "http://")}
	var peak, base atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				if b := base.Load(); ms.HeapAlloc > b {
					peak.Store(max(peak.Load(), ms.HeapAlloc-b))
				}
			}
		}
	}()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		// Every run reads the file whole: no validators from the run before.
		if err := r.store.PutSitemap(root.URL, storage.SitemapState{}); err != nil {
			b.Fatal(err)
		}
		queued = 0
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base.Store(ms.HeapAlloc)
		b.StartTimer()
		if err := r.p.poll(context.Background(), root); err != nil {
			b.Fatal(err)
		}
		if queued != 50_000 {
			b.Fatalf("queued %d", queued)
		}
	}
	b.StopTimer()
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak.Load())/1e6, "peak-heap-MB")
	b.ReportMetric(float64(len(gz))/1e6, "gzip-MB")
	b.ReportMetric(float64(len(plain))/1e6, "uncompressed-MB")
}

func TestTheSitemapsActorPollsConfiguredSitesAndTheirRobotsTxtOnSchedule(t *testing.T) {
	origin := fixture.New(t)
	origin.SetFile("robots.txt", []byte("User-agent: *\nSitemap: {{ORIGIN}}/sitemap-products.xml.gz\n"))
	app, store := startApp(t, func(c *Config) {
		c.Sitemaps = SitemapsConfig{
			Interval: 300 * time.Millisecond,
			Sites:    []Site{{Host: origin.URL, Sitemaps: []string{origin.URL + "/sitemap-pages.xml"}, Robots: true}},
		}
	})
	m := &app.metrics.sitemap
	for deadline := time.Now().Add(30 * time.Second); m.fetches["not_modified"].Get() < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no second poll: fetches ok %d, not modified %d", m.fetches["ok"].Get(), m.fetches["not_modified"].Get())
		}
	}
	// The first poll found the six URLs of both files and queued them; the next
	// ones were answered 304.
	if m.found.Get() != 6 || m.queued.Get() < 6 || m.fetches["ok"].Get() != 2 || origin.Hits("/robots.txt") < 2 {
		t.Fatalf("found %d queued %d fetched %d, robots.txt read %d times", m.found.Get(), m.queued.Get(), m.fetches["ok"].Get(), origin.Hits("/robots.txt"))
	}
	for _, p := range []string{"/sitemap-pages.xml", "/sitemap-products.xml.gz"} {
		st, err := store.GetSitemap(origin.URL + p)
		if err != nil || st.Kind != "urlset" || st.URLs != 3 || st.Added {
			t.Fatalf("%s: %+v %v", p, st, err)
		}
	}
}

func TestAnAddedSitemapSurvivesARestart(t *testing.T) {
	origin := fixture.New(t)
	store, err := storage.Open(storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	start := func() *Appliance {
		app, err := Start(Config{Shards: 2, Browsers: 1, Browser: browser.Options{Path: chromiumPath, PageTimeout: 5 * time.Second}, Egress: loopbackOrigins,
			Logger: slog.New(slog.DiscardHandler)}, store)
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	stop := func(app *Appliance) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	app := start()
	if err := app.AddSitemap(context.Background(), origin.URL+"/sitemap-pages.xml"); err != nil {
		t.Fatal(err)
	}
	stop(app)
	hits := origin.Hits("/sitemap-pages.xml")
	app = start()
	defer stop(app)
	for deadline := time.Now().Add(20 * time.Second); origin.Hits("/sitemap-pages.xml") == hits; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the added sitemap was not polled after the restart")
		}
	}
	list, err := app.Sitemaps()
	if err != nil || len(list) != 1 || !list[0].State.Added {
		t.Fatalf("Sitemaps() = %+v, %v", list, err)
	}
}

// syncLog collects log lines from the poll goroutine for a test to read.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestABigSitemapShowsItsProgress(t *testing.T) {
	r := newPollerRig(t, nil)
	var logs syncLog
	r.p.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var b strings.Builder
	b.WriteString("<urlset>")
	for i := range 25_000 {
		fmt.Fprintf(&b, "<url><loc>{{ORIGIN}}/p/%d</loc></url>", i)
	}
	b.WriteString("</urlset>")
	r.origin.SetFile("big.xml", []byte(b.String()))
	if got := r.poll(t, "/big.xml"); len(got) != 25_000 {
		t.Fatalf("queued %d", len(got))
	}
	out := logs.String()
	if n := strings.Count(out, `msg="sitemap progress"`); n != 2 || !strings.Contains(out, "found=20000") {
		t.Fatalf("%d progress lines:\n%s", n, out)
	}
	if !strings.Contains(out, `msg="sitemap read"`) || !strings.Contains(out, "entries=25000") || !strings.Contains(out, `msg="sitemap poll done"`) {
		t.Fatalf("no summary lines:\n%s", out)
	}
	if r.m.found.Get() != 25_000 || r.m.queued.Get() != 25_000 {
		t.Fatalf("metrics: found %d queued %d", r.m.found.Get(), r.m.queued.Get())
	}
}

func TestASiteCanWarmBothVariants(t *testing.T) {
	r := newPollerRig(t, func(c *SitemapsConfig) { c.Variants = []string{"desktop", "mobile"} })
	var keys []string
	r.p.queue = func(_ context.Context, items []queueItem) error {
		for _, it := range items {
			keys = append(keys, it.Key)
		}
		return nil
	}
	u := func(variant, path string) string { return variant + "|" + r.origin.URL + path }
	// The mobile render of / is current; the desktop one is older than its lastmod.
	putTestPage(t, r.store, u("mobile", "/"), time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 100)
	putTestPage(t, r.store, u("desktop", "/"), time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC), 100)
	root := sitemapRoot{URL: r.origin.URL + "/sitemap-pages.xml", Host: strings.TrimPrefix(r.origin.URL, "http://"), Source: "config"}
	if err := r.p.poll(context.Background(), root); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{u("desktop", "/"), u("desktop", "/chain"), u("desktop", "/jsonld"), u("mobile", "/chain"), u("mobile", "/jsonld")}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("queued %q, want %q (each variant judged by its own render)", keys, want)
	}

	// A site that names its variants overrides the default.
	keys = nil
	root.Variants = []string{"mobile"}
	root.URL = r.origin.URL + "/sitemap-products.xml"
	if err := r.p.poll(context.Background(), root); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "mobile|") {
			t.Errorf("a mobile-only site queued %q", k)
		}
	}
	if len(keys) != 3 {
		t.Errorf("queued %q, want the 3 products for mobile", keys)
	}
}
