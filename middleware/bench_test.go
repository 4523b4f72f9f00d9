package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"prerenderd/middleware"
)

// nopWriter is the cheapest ResponseWriter, so the benchmarks measure handlers only.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header         { return w.h }
func (w nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w nopWriter) WriteHeader(int)             {}

var hello = []byte("hello")

// BenchmarkBrowserRequest is the middleware's cost on what most requests are, a
// browser asking for a page: the "bare" handler is the baseline, "middleware" the same
// handler wrapped; the difference is the overhead per request.
func BenchmarkBrowserRequest(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(hello) })
	wrapped := middleware.New(middleware.Options{ServiceURL: "http://127.0.0.1:1/"})(bare)
	req := httptest.NewRequest("GET", "http://shop.example/products/walnut-desk-lamp?color=oak&size=m", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	w := nopWriter{http.Header{}}
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"middleware", wrapped}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tc.h.ServeHTTP(w, req)
			}
		})
	}
}
