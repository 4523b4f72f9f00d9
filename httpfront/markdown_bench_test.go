package httpfront

import (
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"prerenderd/actors"
	"prerenderd/cachekey"
	"prerenderd/storage"
)

// BenchmarkHitMarkdown serves one stored 30 KB page as HTML and as its
// Markdown, through the whole HTTP front, alternating in short rounds within
// one run so that the machine's noise falls on both alike. It reports both
// rates and the median of the rounds' ratios, Markdown/HTML (goal: at least
// 0.95), for plain and gzip clients.
func BenchmarkHitMarkdown(b *testing.B) {
	page := benchPage()
	target := "https://bench.example/product/markdown"
	u, _ := cachekey.Normalize(target, cachekey.StripTracking)
	md, err := actors.Markdown(page, u.String())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	err = testStore.PutPage(&storage.Page{
		Key: cachekey.Key(cachekey.Desktop, u), URL: u.String(), Status: 200,
		RenderedAt: now, ExpiresAt: now.Add(time.Hour), Plain: page, Markdown: md,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("HTML %d bytes, Markdown %d bytes", len(page), len(md))
	url := newFront(b, Config{}).URL + "/" + target
	for _, gz := range []bool{false, true} {
		b.Run(encodingName(gz), func(b *testing.B) {
			accept := [2]string{"text/html,application/xhtml+xml,*/*;q=0.8", "text/markdown, text/html;q=0.9"}
			html, mdRate, ratio := alternate(b, url, gz, accept)
			b.ReportMetric(html, "html-req/s")
			b.ReportMetric(mdRate, "md-req/s")
			b.ReportMetric(ratio, "md/html")
		})
	}
}

// alternate sends GETs of url with each of two Accept headers from 4
// keep-alive clients, in 100 rounds of both (each round's order flipped),
// and returns the two rates and the median of the rounds' rate ratios
// (second over first).
func alternate(b *testing.B, url string, gz bool, accept [2]string) (first, second, ratio float64) {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	burst := func(accept string, n int) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range 4 {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Accept", accept)
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				for next.Add(1) <= int64(n) {
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || resp.Header.Get("X-Prerender-Cache") != "HIT" {
						b.Errorf("got %d %s", resp.StatusCode, resp.Header.Get("X-Prerender-Cache"))
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	const rounds = 100
	per := max(b.N/(2*rounds), 50)
	burst(accept[0], per)
	burst(accept[1], per)
	b.ResetTimer()
	var took [2]time.Duration
	ratios := make([]float64, rounds)
	for r := range rounds {
		var d [2]time.Duration
		for k := range 2 {
			i := (r + k) % 2
			d[i] = burst(accept[i], per)
			took[i] += d[i]
		}
		ratios[r] = d[0].Seconds() / d[1].Seconds()
	}
	sort.Float64s(ratios)
	n := float64(per * rounds)
	return n / took[0].Seconds(), n / took[1].Seconds(), ratios[rounds/2]
}
