package browser

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"prerenderd/browser/fixture"
	"prerenderd/egress"
	"prerenderd/netguard"
)

// BenchmarkEgress measures what the egress proxy costs: two Browsers of 4 tabs
// on the same fixture pages, one connecting directly and one through the proxy
// with its check on (the origin allowed by security.allow_addresses), rounds of
// each in turn so that a noisy machine hurts both alike. It reports the median
// of sequential renders and the throughput at 4 concurrent renders of each, and
// the ratios: the issue asks for at least 0.95x the direct throughput.
func BenchmarkEgress(b *testing.B) {
	o := fixture.New(b)
	policy, err := netguard.NewPolicy(false, []string{"127.0.0.1/32"})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	proxy, err := egress.Start(egress.Options{Policy: policy, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { proxy.Close() })
	direct := ours{benchBrowser(b, 4)}
	checked := ours{benchBrowserWith(b, 4, proxy)}
	const rounds, seqPerRound, concPerRound = 4, 8, 32
	for b.Loop() {
		var seq [2][]time.Duration
		var pps [2]float64
		for range rounds {
			for i, r := range []renderer{direct, checked} {
				seq[i] = append(seq[i], sequential(b, r, o.URL, seqPerRound)...)
				pps[i] += concurrent(b, r, o.URL, concPerRound, 4).pagesPerSec / rounds
			}
		}
		md, me := median(seq[0]), median(seq[1])
		b.ReportMetric(float64(md.Milliseconds()), "direct-seq-median-ms")
		b.ReportMetric(float64(me.Milliseconds()), "egress-seq-median-ms")
		b.ReportMetric(float64(me)/float64(md), "seq-latency-ratio")
		b.ReportMetric(pps[0], "direct-conc4-pages/s")
		b.ReportMetric(pps[1], "egress-conc4-pages/s")
		b.ReportMetric(pps[1]/pps[0], "conc4-ratio")
	}
}
