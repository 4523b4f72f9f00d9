package httpfront

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
func hammer(b *testing.B, url string, gz bool) {
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
