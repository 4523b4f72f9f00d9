package httpfront

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"prerenderd/analytics"
	"prerenderd/cachekey"
	"prerenderd/storage"
)

// benchPage is a 30 KB page of ordinary HTML: repetitive enough to compress the way
// real pages do.
func benchPage() []byte {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html><html><head><title>Product</title></head><body>")
	for i := 0; b.Len() < 30<<10; i++ {
		fmt.Fprintf(&b, `<div class="item" id="i%d"><h2>Item %d</h2><p>Price $%d.99, in stock, ships in %d days.</p></div>`, i, i, i%97, i%5+1)
	}
	b.WriteString("</body></html>")
	return b.Bytes()
}

func gzipBytes(tb testing.TB, p []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(p)
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// hammer runs parallel keep-alive clients against url and reports requests/s.
func hammer(b *testing.B, url string, gz bool) { hammerAs(b, url, gz, "") }

// hammerAs is hammer with a User-Agent.
func hammerAs(b *testing.B, url string, gz bool, ua string) {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		if ua != "" {
			req.Header.Set("User-Agent", ua)
		}
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkHit serves a stored 30 KB page through the whole HTTP front: request
// parsing, URL normalization, Pebble read, headers, body.
func BenchmarkHit(b *testing.B) {
	page := benchPage()
	target := "https://bench.example/product/1"
	u, _ := cachekey.Normalize(target, cachekey.StripTracking)
	now := time.Now()
	err := testStore.PutPage(&storage.Page{
		Key: cachekey.Key(cachekey.Desktop, u), URL: u.String(), Status: 200,
		RenderedAt: now, ExpiresAt: now.Add(time.Hour),
		Plain: page, Gzip: gzipBytes(b, page),
	})
	if err != nil {
		b.Fatal(err)
	}
	front := newFront(b, Config{})
	for _, gz := range []bool{false, true} {
		b.Run(encodingName(gz), func(b *testing.B) { hammer(b, front.URL+"/"+target, gz) })
	}
}

// BenchmarkHitAnalytics is BenchmarkHit for a crawler, with the analytics off
// and on, alternating in short rounds within one run so that the machine's
// noise falls on both alike. It reports both rates and the median ratio of
// the rounds, on/off (goal: at least 0.97).
func BenchmarkHitAnalytics(b *testing.B) {
	page := benchPage()
	target := "https://bench.example/product/analytics"
	u, _ := cachekey.Normalize(target, cachekey.StripTracking)
	now := time.Now()
	err := testStore.PutPage(&storage.Page{
		Key: cachekey.Key(cachekey.Desktop, u), URL: u.String(), Status: 200,
		RenderedAt: now, ExpiresAt: now.Add(time.Hour),
		Plain: page, Gzip: gzipBytes(b, page),
	})
	if err != nil {
		b.Fatal(err)
	}
	store, err := storage.Open(storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	rec, err := analytics.Open(analytics.Options{Sites: []string{"bench.example"}}, store)
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	urls := [2]string{
		newFront(b, Config{}).URL + "/" + target,
		newFront(b, Config{Analytics: rec}).URL + "/" + target,
	}
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	// burst sends n requests from 4 keep-alive clients and returns how long
	// they took.
	burst := func(url string, n int) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range 4 {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				req.Header.Set("User-Agent", uaGooglebot)
				for next.Add(1) <= int64(n) {
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	// Many short rounds, each off then on or on then off; the ratio reported is
	// the median of the rounds' ratios, which a burst of load on a shared
	// machine moves less than a total.
	const rounds = 100
	per := max(b.N/(2*rounds), 50)
	burst(urls[0], per) // warm both up: connections, page cache
	burst(urls[1], per)
	b.ResetTimer()
	var took [2]time.Duration
	ratios := make([]float64, rounds)
	for r := range rounds {
		var d [2]time.Duration
		for k := range 2 {
			i := (r + k) % 2
			d[i] = burst(urls[i], per)
			took[i] += d[i]
		}
		ratios[r] = d[0].Seconds() / d[1].Seconds() // on's rate over off's
	}
	sort.Float64s(ratios)
	b.ReportMetric(float64(per*rounds)/took[0].Seconds(), "off-req/s")
	b.ReportMetric(float64(per*rounds)/took[1].Seconds(), "on-req/s")
	b.ReportMetric(ratios[rounds/2], "on/off")
}

// BenchmarkHitBaseline is the ceiling: a bare net/http handler writing the same bytes
// from memory, measured in the same run so the ratio holds on a noisy machine.
func BenchmarkHitBaseline(b *testing.B) {
	page := benchPage()
	gz := gzipBytes(b, page)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := page
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			body = gz
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	}))
	defer srv.Close()
	for _, g := range []bool{false, true} {
		b.Run(encodingName(g), func(b *testing.B) { hammer(b, srv.URL+"/https://bench.example/product/1", g) })
	}
}

func encodingName(gz bool) string {
	if gz {
		return "gzip"
	}
	return "plain"
}

// discardWriter is a ResponseWriter that keeps nothing but its headers, reset
// for each request, so BenchmarkHitHandler counts the handler's allocations
// alone.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkHitHandler serves a stored 30 KB page through the handler, in
// process: the hit path's own cost and allocations per request, without the
// network (go test -bench HitHandler -benchmem ./httpfront/).
func BenchmarkHitHandler(b *testing.B) {
	page := benchPage()
	target := "https://bench.example/product/handler"
	u, _ := cachekey.Normalize(target, cachekey.StripTracking)
	now := time.Now()
	err := testStore.PutPage(&storage.Page{
		Key: cachekey.Key(cachekey.Desktop, u), URL: u.String(), Status: 200,
		RenderedAt: now, ExpiresAt: now.Add(time.Hour),
		Plain: page, Gzip: gzipBytes(b, page),
	})
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{}, testApp)
	for _, gz := range []bool{false, true} {
		b.Run(encodingName(gz), func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/"+target, nil)
			if gz {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			w := &discardWriter{h: make(http.Header, 16)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				s.ServeHTTP(w, req)
				if w.h.Get("X-Prerender-Cache") != "HIT" {
					b.Fatalf("X-Prerender-Cache = %q", w.h.Get("X-Prerender-Cache"))
				}
			}
		})
	}
}
