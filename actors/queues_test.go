package actors

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"prerenderd/browser"
	"prerenderd/storage"
	"prerenderd/storage/storetest"
)

func TestNormalPaceIsCachedPagesOverTTLInDays(t *testing.T) {
	tests := []struct {
		name    string
		pages   int64
		ttl     time.Duration
		perHour float64
		every   time.Duration
	}{
		{"100,000 pages a day apart", 100_000, 24 * time.Hour, 100_000.0 / 24, 864 * time.Millisecond},
		{"2,400 pages over two days", 2400, 48 * time.Hour, 50, 72 * time.Second},
		{"one page", 1, time.Hour, 1, time.Hour},
		{"an empty cache waits a TTL", 0, time.Hour, 0, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := normalPerHour(tc.pages, tc.ttl); got != tc.perHour {
				t.Errorf("normalPerHour = %v, want %v", got, tc.perHour)
			}
			if got := normalInterval(tc.pages, tc.ttl); got != tc.every {
				t.Errorf("normalInterval = %v, want %v", got, tc.every)
			}
		})
	}
}

// TestPacerSpreadsAnHourEvenly runs an hour of fake time: at 3,600 URLs an hour
// the pacer lets exactly one go a second, none in bursts, also after a pause.
func TestPacerSpreadsAnHourEvenly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p pacer
		interval := time.Hour / 3600
		start := time.Now()
		var gaps []time.Duration
		last := start
		for time.Since(start) < time.Hour {
			if d := p.wait(time.Now()); d > 0 {
				time.Sleep(d)
				continue
			}
			p.took(time.Now(), interval)
			gaps = append(gaps, time.Since(last))
			last = time.Now()
			if len(gaps) == 1800 {
				time.Sleep(10 * time.Minute) // idle: no credit is saved up
			}
		}
		// One at 0 s, one a second to 1799 s, a pause to 2399 s, one a second again
		// to 3599 s: 1800 + 1201.
		if n := len(gaps); n != 3001 {
			t.Errorf("%d dispatches in an hour with a 10-minute pause, want 3001", n)
		}
		for i, g := range gaps[1:] {
			if g < interval {
				t.Fatalf("dispatch %d came %v after the one before, under the %v interval", i+1, g, interval)
			}
		}
	})
}

// TestNormalQueueHeadIsTheOldestDuePageNotInFlight reads the due index of a real
// store the way a tick does.
func TestNormalQueueHeadIsTheOldestDuePageNotInFlight(t *testing.T) {
	store, err := storage.Open(storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	for i, age := range []time.Duration{2 * time.Hour, 3 * time.Hour, time.Hour, -time.Hour} {
		u := fmt.Sprintf("https://a.example/%d", i)
		if err := store.PutPage(&storage.Page{Key: "desktop|" + u, URL: u, Status: 200, RenderedAt: now.Add(-age - time.Hour),
			ExpiresAt: now.Add(-age), Plain: []byte("<p>x</p>")}); err != nil {
			t.Fatal(err)
		}
	}
	q := newNormalQueue(&Appliance{store: store})
	var order []string
	for {
		key, url, _, next, err := q.head(now)
		if err != nil {
			t.Fatal(err)
		}
		if key == "" {
			if !next.IsZero() {
				t.Errorf("every due page in flight: next = %v, want zero (a render's end wakes the queue)", next)
			}
			break
		}
		if "desktop|"+url != key {
			t.Errorf("head %q has URL %q", key, url)
		}
		order = append(order, url)
		q.inflight[key] = true
	}
	want := []string{"https://a.example/1", "https://a.example/0", "https://a.example/2"}
	if !slices.Equal(order, want) {
		t.Errorf("order = %q, want oldest first %q", order, want)
	}
	// Recached pages move to their new expiry; then nothing is due and the head
	// tells when the next page expires.
	for _, u := range order {
		if err := store.SetPageExpiry("desktop|"+u, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		delete(q.inflight, "desktop|"+u)
	}
	key, _, _, next, err := q.head(now)
	if err != nil || key != "" || next.Sub(now.Add(time.Hour)).Abs() > time.Microsecond {
		t.Errorf("nothing due: head = %q, next = %v, %v; want the fresh page's expiry %v", key, next, err, now.Add(time.Hour))
	}
}

// orderOrigin serves JS-built pages and records the order of document requests.
type orderOrigin struct {
	*httptest.Server
	mu    sync.Mutex
	order []string
	count map[string]int
}

func newOrderOrigin(t *testing.T) *orderOrigin {
	o := &orderOrigin{count: make(map[string]int)}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		o.mu.Lock()
		o.order = append(o.order, r.URL.Path)
		o.count[r.URL.Path]++
		o.mu.Unlock()
		fmt.Fprintf(w, `<!doctype html><html><body><p id="p"></p><script>document.getElementById("p").textContent = %q;</script></body></html>`, r.URL.Path)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *orderOrigin) documents() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.order)
}

// TestThePriorityQueueIsFIFOAndGoesBeforeTheNormalQueue starts an appliance on a
// store that already holds expired pages and a persisted priority queue (as after
// a restart), with one tab: the priority items render first in their order, then
// the expired pages oldest first.
func TestThePriorityQueueIsFIFOAndGoesBeforeTheNormalQueue(t *testing.T) {
	origin := newOrderOrigin(t)
	store, err := storage.Open(storage.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	for i, age := range []time.Duration{time.Hour, 3 * time.Hour, 2 * time.Hour} {
		u := fmt.Sprintf("%s/n%d", origin.URL, i)
		if err := store.PutPage(&storage.Page{Key: "desktop|" + u, URL: u, Status: 200, RenderedAt: now.Add(-age - time.Minute),
			ExpiresAt: now.Add(-age), Plain: []byte("<p>old</p>")}); err != nil {
			t.Fatal(err)
		}
	}
	var items []storage.QueueItem
	for _, p := range []string{"/p2", "/p0", "/p1"} {
		items = append(items, storage.QueueItem{Key: "desktop|" + origin.URL + p, URL: origin.URL + p, Source: "api", EnqueuedAt: now})
	}
	if err := store.PushQueue(items, true); err != nil {
		t.Fatal(err)
	}
	app := startOn(t, store, func(c *Config) {
		c.TabsPerBrowser = 1
		c.TTL = 3 * time.Second // three pages: one recache a second
	})
	waitUntil(t, "six recaches", func() bool { return len(origin.documents()) >= 6 })
	want := []string{"/p2", "/p0", "/p1", "/n1", "/n2", "/n0"}
	if got := origin.documents()[:6]; !slices.Equal(got, want) {
		t.Errorf("render order = %q, want %q", got, want)
	}
	_ = app
}

// TestAPriorityQueueSurvivesARestart stops an appliance with URLs still queued
// and starts another on the same store: each URL is rendered exactly once.
func TestAPriorityQueueSurvivesARestart(t *testing.T) {
	origin := newOrderOrigin(t)
	dir := t.TempDir()
	open := func() *storage.Store {
		s, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	store := open()
	cfg := func(c *Config) { c.RecacheURLsPerHour = 3600 } // one a second
	app := startOnNoCleanup(t, store, cfg)
	var items []RecacheItem
	for i := range 4 {
		u := fmt.Sprintf("%s/r%d", origin.URL, i)
		items = append(items, RecacheItem{Key: "desktop|" + u, URL: u, Source: "api"})
	}
	items = append(items, items[1]) // a URL queued twice is rendered once
	res, err := app.Recache(context.Background(), items)
	if err != nil || res.Queued != 4 || res.Duplicate != 1 {
		t.Fatalf("Recache = %+v, %v; want 4 queued, 1 duplicate", res, err)
	}
	waitUntil(t, "the first render", func() bool {
		_, err := storetest.Page(store, items[0].Key)
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(origin.documents()); n >= 4 {
		t.Fatalf("all %d rendered before the restart; the test needs some left in the queue", n)
	}
	store = open()
	defer store.Close()
	startOn(t, store, func(c *Config) {})
	waitUntil(t, "every queued URL to be stored", func() bool {
		for _, it := range items {
			if _, err := storetest.Page(store, it.Key); err != nil {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond)
	for i := range 4 {
		p := fmt.Sprintf("/r%d", i)
		origin.mu.Lock()
		n := origin.count[p]
		origin.mu.Unlock()
		if n != 1 {
			t.Errorf("%s rendered %d times, want once", p, n)
		}
	}
}

func startOn(t *testing.T, store *storage.Store, mutate func(*Config)) *Appliance {
	app := startOnNoCleanup(t, store, mutate)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return app
}

func startOnNoCleanup(t *testing.T, store *storage.Store, mutate func(*Config)) *Appliance {
	t.Helper()
	cfg := Config{
		Shards: 2, TTL: time.Hour, Browsers: 1, TabsPerBrowser: 2,
		Browser: browser.Options{Path: chromiumPath, PageTimeout: 5 * time.Second},
		Egress:  loopbackOrigins,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	mutate(&cfg)
	app, err := Start(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, app)
	return app
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
