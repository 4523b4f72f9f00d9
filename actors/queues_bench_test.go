package actors

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"prerenderd/storage"
)

// fillStore writes n synthetic pages straight into Pebble, every one of them
// already past its TTL, with expiries a second apart.
func fillStore(b *testing.B, dir string, n int) {
	b.Helper()
	st, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	base := time.Now().Add(-time.Duration(n+10) * time.Second)
	body := []byte("<!doctype html><html><body><p>synthetic page</p></body></html>")
	for i := range n {
		u := fmt.Sprintf("https://shop.example/p/%d", i)
		if err := st.PutPage(&storage.Page{Key: "desktop|" + u, URL: u, Status: 200,
			RenderedAt: base.Add(-24 * time.Hour), ExpiresAt: base.Add(time.Duration(i) * time.Second), Plain: body}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalQueueTick measures one tick of the normal queue on 100,000
// stored pages: find the oldest due page, then move it as its recache would.
// Multiply by the ticks an hour (pages / TTL in hours) for the cost per hour.
//
// PRERENDERD_BENCH_STORE names a store to tick on instead (make bench-scale's
// million pages, fresh for days): the queue then looks a month ahead, so that
// every page is due.
func BenchmarkNormalQueueTick(b *testing.B) {
	dir := os.Getenv("PRERENDERD_BENCH_STORE")
	now := time.Now()
	if dir == "" {
		dir = b.TempDir()
		fillStore(b, dir, 100_000)
	} else {
		now = now.Add(30 * 24 * time.Hour)
	}
	st, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	pages := st.PageCount()
	q := newNormalQueue(&Appliance{store: st})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key, _, expires, _, err := q.head(now)
		if err != nil || key == "" {
			b.Fatalf("head: %q %v", key, err)
		}
		q.cursor = expires
		b.StopTimer() // the recache's own write is not the queue's cost
		if err := st.SetPageExpiry(key, now.Add(24*time.Hour+time.Duration(i))); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	perTick := b.Elapsed() / time.Duration(b.N)
	ticksPerHour := normalPerHour(pages, 24*time.Hour)
	b.ReportMetric(float64(perTick)*ticksPerHour/1e6, "ms-per-hour-of-pacing")
}

// BenchmarkStartWith100kPages measures what start-up adds for a store of
// 100,000 pages and 10,000 queued recaches: opening the store and loading the
// priority queue.
func BenchmarkStartWith100kPages(b *testing.B) {
	dir := b.TempDir()
	fillStore(b, dir, 100_000)
	st, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	items := make([]storage.QueueItem, 10_000)
	for i := range items {
		u := fmt.Sprintf("https://shop.example/q/%d", i)
		items[i] = storage.QueueItem{Key: "desktop|" + u, URL: u, Source: "sitemap", EnqueuedAt: time.Now()}
	}
	if err := st.PushQueue(items, true); err != nil {
		b.Fatal(err)
	}
	st.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		a := &Appliance{store: st, log: slog.New(slog.DiscardHandler), metrics: &applianceMetrics{}}
		q := newPriorityQueue(a)
		if q.items.Len() != len(items) {
			b.Fatalf("loaded %d items", q.items.Len())
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}
