package actors

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"prerenderd/browser"
	"prerenderd/storage"
)

const benchPages = 100_000

// benchApp starts an appliance on an on-disk store holding benchPages pages of 2 KB
// on two hosts (a.example and b.example, half each).
func benchApp(b *testing.B) (*Appliance, *storage.Store) {
	b.Helper()
	store, err := storage.Open(storage.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	fill(b, store, 0, benchPages)
	app, err := Start(Config{Shards: 8, TTL: time.Hour, Browsers: 1, TabsPerBrowser: 1,
		Browser: browser.Options{Path: chromiumPath}, Egress: loopbackOrigins, Logger: slog.New(slog.DiscardHandler)}, store)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = app.Stop(ctx)
		_ = store.Close()
	})
	return app, store
}

// fill writes pages [from, to) with synced PutPage calls from 32 goroutines, which
// Pebble commits in groups.
func fill(b *testing.B, store *storage.Store, from, to int) {
	var wg sync.WaitGroup
	const workers = 32
	now := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from + w; i < to; i += workers {
				host := "a.example"
				if i%2 == 1 {
					host = "b.example"
				}
				putTestPage(b, store, fmt.Sprintf("desktop|https://%s/p/%06d", host, i), now, 2000)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkSearch100k is one POST /search on 100,000 stored pages: a substring that
// matches 10 pages (the scan still reads every summary to count the total), and a
// first page of 200 results out of 50,000.
func BenchmarkSearch100k(b *testing.B) {
	app, _ := benchApp(b)
	for _, tc := range []struct {
		name  string
		q     SearchQuery
		total int
	}{
		{"rare", SearchQuery{Query: "/p/00001"}, 10},
		{"one-host", SearchQuery{Query: "https://a.example/%"}, benchPages / 2},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				r, err := app.Search(tc.q)
				if err != nil || r.Total != tc.total {
					b.Fatalf("total %d, want %d: %v", r.Total, tc.total, err)
				}
			}
		})
	}
}

// BenchmarkClear100k is one wildcard POST /cache-clear of one host (50,000 of the
// 100,000 pages) through the shard owners, to the end of the job; and one exact-URL
// clear. The cleared pages are written back between runs, off the clock.
func BenchmarkClear100k(b *testing.B) {
	app, store := benchApp(b)
	b.Run("one-host-wildcard", func(b *testing.B) {
		for b.Loop() {
			st, err := app.StartClear("https://a.example/%", "")
			if err != nil {
				b.Fatal(err)
			}
			for app.ClearProgress().State == "running" {
				time.Sleep(time.Millisecond)
			}
			if done := app.ClearProgress(); done.ID != st.ID || done.Deleted != benchPages/2 {
				b.Fatalf("clear ended %+v", done)
			}
			b.StopTimer()
			fill(b, store, 0, benchPages)
			b.StartTimer()
		}
	})
	b.Run("exact-url", func(b *testing.B) {
		i := 0
		for b.Loop() {
			url := fmt.Sprintf("https://a.example/p/%06d", 2*i)
			i++
			if n, err := app.ClearURL(context.Background(), url, ""); err != nil || n != 1 {
				b.Fatalf("ClearURL(%s) = %d, %v", url, n, err)
			}
		}
	})
}
