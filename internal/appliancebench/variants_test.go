package appliancebench

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"prerenderd/browser/fixture"
	"prerenderd/internal/prerenderdtest"
)

// variant is one prerenderd binary under comparison in BenchmarkMemoryVariants.
type variant struct {
	name, bin   string
	idle, peak  []int64
	idleBD      []breakdown
	peakBD      []breakdown
	pps         []float64
	latency     []time.Duration
	bad, out    int
	firstBad    string
	peakProcess int
}

// BenchmarkMemoryVariants compares prerenderd binaries (BENCH_BINS=name=path,…;
// default PRERENDERD_BIN alone) on their default config, the way BenchmarkMemory
// measures prerenderd, but only them and in short rounds: each round starts each
// binary afresh (in another order each round), measures its PSS right after
// start, renders 16 pages to warm up, then 48 at 4 concurrent, and stops it.
// It prints pages/s, median latency, idle and peak PSS (medians of
// BENCH_ROUNDS, default 3) and where the PSS is, by process kind, at start and
// at the peak. It is the loop for trying a change to how Chromium is run: build
// the binary before and after it, and compare them here.
func BenchmarkMemoryVariants(b *testing.B) {
	var vs []*variant
	list := os.Getenv("BENCH_BINS")
	if list == "" {
		list = "prerenderd=" + binary(b)
	}
	for item := range strings.SplitSeq(list, ",") {
		name, bin, ok := strings.Cut(item, "=")
		if !ok {
			b.Fatalf("BENCH_BINS item %q: want name=path", item)
		}
		vs = append(vs, &variant{name: name, bin: bin})
	}
	origin := fixture.New(b)
	rounds := prerenderdtest.EnvInt(b, "BENCH_ROUNDS", 3)
	const perRound, conc = 48, 4
	for b.Loop() {
		for r := range rounds {
			for i := range vs {
				v := vs[(i+r)%len(vs)]
				s := startPrerenderd(b, v.bin, origin.URL, prerenderdShape{"auto", "auto"})
				idle := settledBreakdown(s, 5*time.Second)
				renderRun(b, s, origin.URL, 16, conc)
				res := renderRun(b, s, origin.URL, perRound, conc)
				s.stop()
				v.idle = append(v.idle, idle.total())
				v.idleBD = append(v.idleBD, idle)
				v.peak = append(v.peak, res.peakPSS)
				v.peakBD = append(v.peakBD, res.atPeak)
				v.pps = append(v.pps, res.pagesPerSec)
				v.latency = append(v.latency, res.median())
				v.peakProcess = max(v.peakProcess, res.peakProcs)
				v.bad += res.bad
				v.out += res.n
				if v.firstBad == "" {
					v.firstBad = res.firstBad
				}
				fmt.Fprintf(os.Stderr, "round %d %-12s idle %s, peak %s, %.2f pages/s, median %s\n", r+1, v.name,
					mib(idle.total()), mib(res.peakPSS), res.pagesPerSec, res.median().Round(time.Millisecond))
			}
		}
		w := os.Stdout
		fmt.Fprintf(w, "\nprerenderd binaries on their default config, %d cores; 4 concurrent; medians of %d interleaved rounds\n\n", numCPU(), rounds)
		fmt.Fprintf(w, "%-14s %-10s %-10s %-10s %-10s %-8s %s\n", "binary", "idle PSS", "peak PSS", "pages/s", "median", "procs", "bad")
		for _, v := range vs {
			fmt.Fprintf(w, "%-14s %-10s %-10s %-10.2f %-10s %-8d %d of %d\n", v.name, mib(medianI(v.idle)), mib(medianI(v.peak)),
				medianF(v.pps), medianD(v.latency).Round(time.Millisecond), v.peakProcess, v.bad, v.out)
			if v.firstBad != "" {
				fmt.Fprintf(w, "  first bad page: %s\n", v.firstBad)
			}
		}
		names := make([]string, len(vs))
		idle := make([][]breakdown, len(vs))
		peak := make([][]breakdown, len(vs))
		for i, v := range vs {
			names[i], idle[i], peak[i] = v.name, v.idleBD, v.peakBD
		}
		printBreakdowns(w, "right after start", names, idle)
		printBreakdowns(w, "at the peak of 4 concurrent renders", names, peak)
		fmt.Fprintln(w)
		for _, v := range vs {
			if v.bad > 0 {
				b.Errorf("%s answered %d bad pages of %d; the first: %s", v.name, v.bad, v.out, v.firstBad)
			}
		}
	}
}
