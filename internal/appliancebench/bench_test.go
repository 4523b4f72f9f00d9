package appliancebench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"prerenderd/browser/fixture"
	"prerenderd/internal/prerenderdtest"
)

// benchPage is a fixture page and what its render must hold: the pages of the
// browser package's benchmark (a plain page, pages built from delayed JSON, a
// chained fetch, scripts and JSON-LD, a status set by JavaScript, a gzip page).
type benchPage struct {
	path   string
	marker string // written by the page's JavaScript
	status int
}

var benchPages = []benchPage{
	{"/", `id="title"`, 200},
	{"/product", `id="name"`, 200},
	{"/chain", "chain-done", 200},
	{"/jsonld", "module-made", 200},
	{"/notfound-js", "Product not found", 404},
	{"/gzip", "gzip-made", 200},
	{"/product?id=7", `id="name"`, 200},
	{"/ua", `id="ua">Mozilla/5.0`, 200},
}

// unique makes every request of a run a new URL, so that prerenderd renders it
// instead of answering from its cache.
var unique atomic.Int64

// crawlerUA is the User-Agent of every request: a desktop crawler.
const crawlerUA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

// binary returns the prerenderd binary to measure: PRERENDERD_BIN (make passes
// bin/prerenderd), else one built now, without the race detector.
func binary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("PRERENDERD_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(tb.TempDir(), "prerenderd")
	if out, err := exec.Command("go", "build", "-o", bin, "prerenderd").CombinedOutput(); err != nil {
		tb.Fatalf("cannot build prerenderd: %v\n%s", err, out)
	}
	return bin
}

// result is what one run of renders measured.
type result struct {
	n           int
	pagesPerSec float64
	latencies   []time.Duration
	peakPSS     int64 // whole tree, sampled every 100 ms
	peakProcs   int
	atPeak      breakdown // the sample of peakPSS by process kind
	bad         int
	firstBad    string
}

func (r result) median() time.Duration { return quantile(r.latencies, 0.5) }

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

// renderRun asks s for n renders, conc at a time, of the bench pages in turn, and
// samples the PSS of its tree meanwhile.
func renderRun(tb testing.TB, s *server, origin string, n, conc int) result {
	tb.Helper()
	client := &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conc, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	var (
		mu  sync.Mutex
		res = result{n: n}
	)
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			bd := s.sampleBreakdown()
			procs := 0
			for _, n := range bd.procs {
				procs += n
			}
			mu.Lock()
			if p := bd.total(); p > res.peakPSS {
				res.peakPSS, res.atPeak = p, bd
			}
			res.peakProcs = max(res.peakProcs, procs)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	var next atomic.Int64
	begin := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				p := benchPages[i%int64(len(benchPages))]
				sep := "?"
				if strings.Contains(p.path, "?") {
					sep = "&"
				}
				target := fmt.Sprintf("%s%s%sbench=%d", origin, p.path, sep, unique.Add(1))
				t0 := time.Now()
				bad := check(client, s.base+target, p)
				took := time.Since(t0)
				mu.Lock()
				res.latencies = append(res.latencies, took)
				if bad != "" {
					res.bad++
					if res.firstBad == "" {
						res.firstBad = target + ": " + bad
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.pagesPerSec = float64(n) / time.Since(begin).Seconds()
	close(stop)
	sampler.Wait()
	return res
}

// check renders url and says what is wrong with the page, "" when nothing is.
func check(client *http.Client, url string, p benchPage) string {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("User-Agent", crawlerUA)
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return err.Error()
	case resp.StatusCode != p.status:
		return fmt.Sprintf("status %d, want %d: %.200s", resp.StatusCode, p.status, body)
	case !strings.Contains(string(body), p.marker):
		return fmt.Sprintf("no %q in the page: %.300s", p.marker, body)
	}
	return ""
}

// settledPSS waits for s to settle (Chromium closes tabs and frees memory in the
// background), then returns the median of five samples of its PSS half a second
// apart, and its processes.
func settledPSS(s *server, wait time.Duration) (int64, int) {
	time.Sleep(wait)
	return samplePSS(s)
}

// restPSS is settledPSS at rest: after wait it also waits (at most limit) until
// s's tree runs no more browser processes than right after start (idle). A
// browser recycled (renders_per_browser) drains beside its successor, and its
// tree adds 40-80 MiB for a few seconds; a sample that lands on it measures the
// moment, not a leak (two runs of the long run read +20.5% and +3.7% that way).
// atRest reports whether the count came down within limit; procs describes the
// tree sampled ("b1 r4 …": processes by kind).
func restPSS(s *server, idle breakdown, wait, limit time.Duration) (pss int64, procs string, atRest bool) {
	time.Sleep(wait)
	var b breakdown
	for deadline := time.Now().Add(limit); ; time.Sleep(500 * time.Millisecond) {
		if b = s.sampleBreakdown(); b.procs["browser"] <= idle.procs["browser"] {
			atRest = true
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	pss, _ = samplePSS(s)
	for _, k := range kinds {
		if n := b.procs[k]; n > 0 && k != "server" {
			procs += fmt.Sprintf(" %c%d", k[0], n)
		}
	}
	return pss, strings.TrimSpace(procs), atRest
}

// samplePSS is the median of five samples of s's PSS half a second apart, and
// the most processes seen.
func samplePSS(s *server) (int64, int) {
	var ps []int64
	var procs int
	for i := range 5 {
		if i > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		p, n := s.usage()
		ps = append(ps, p)
		procs = max(procs, n)
	}
	slices.Sort(ps)
	return ps[len(ps)/2], procs
}

func numCPU() int { return runtime.NumCPU() }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func medianF(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianI(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianD(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// poolShape reads the pool's shape from prerenderd's /metrics, or from the
// shape it was given when the binary (an older one) does not say.
func poolShape(tb testing.TB, s *server, shape prerenderdShape) (browsers, tabs int) {
	tb.Helper()
	m, err := get(s.base + "metrics")
	if err != nil {
		tb.Fatal(err)
	}
	read := func(name string) int {
		sm := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindStringSubmatch(m)
		if sm == nil {
			return 0
		}
		n, _ := strconv.Atoi(sm[1])
		return n
	}
	browsers, tabs = read("prerender_pool_browsers"), read("prerender_pool_tabs")
	if browsers == 0 || tabs == 0 {
		nb, errB := strconv.Atoi(shape.browsers)
		nt, errT := strconv.Atoi(shape.tabs)
		if errB != nil || errT != nil {
			tb.Fatalf("no prerender_pool_browsers or prerender_pool_tabs in /metrics")
		}
		browsers, tabs = nb, nb*nt
	}
	return browsers, tabs
}

// memoryFigures are one server's figures in BenchmarkMemory.
type memoryFigures struct {
	s             *server
	idle          int64
	idleProcs     int
	peak          []int64 // by round, 4 concurrent
	peakBD        []breakdown
	procs         int // most processes seen at 4 concurrent
	pps           []float64
	latency       []time.Duration
	before, after int64 // at rest (restPSS), before and after the long run
	// beforeRest, afterRest: whether the process count came back to its idle
	// count for those two samples (else they are the moment's).
	beforeRest, afterRest bool
	idleBD                breakdown // right after start
	series                []int64   // prerenderd at rest after each block of the long run
	seriesProcs           []string  // the processes of each, by kind
	longPeak              int64
	longPPS               float64
	bad, renders          int
	firstBad              string
	long                  int // renders of the long run
}

// restSamples are prerenderd's PSS at rest before, during (every block) and
// after the long run.
func (f *memoryFigures) restSamples() []int64 {
	return append(append([]int64{f.before}, f.series...), f.after)
}

// trend is the median of the first half of restSamples and of the second.
func (f *memoryFigures) trend() (first, second int64) {
	all := f.restSamples()
	half := len(all) / 2
	return medianI(all[:half]), medianI(all[len(all)-half:])
}

func (f *memoryFigures) add(r result) {
	f.bad += r.bad
	f.renders += r.n
	if f.firstBad == "" {
		f.firstBad = r.firstBad
	}
}

// BenchmarkMemory measures prerenderd on its default config (the pool shape
// "auto") beside the npm prerender server and the naive chromedp renderer, through
// each one's HTTP API, on the same Chromium and fixture pages: PSS right after
// start, peak PSS at 4 concurrent renders, pages/s and render latency (3
// interleaved rounds of 48 renders, medians), and the PSS at rest (restPSS)
// before and after BENCH_RENDERS (default 1,000) more renders at 4 concurrent,
// run in interleaved blocks of 100 (BENCH_BASELINE_RENDERS bounds the
// baselines' share of that run), with prerenderd's PSS at rest after each
// block. Each figure is printed beside the baselines' and as a ratio of them.
// It takes about 10 minutes with BENCH_BASELINE_RENDERS=50: make bench-memory.
func BenchmarkMemory(b *testing.B) {
	bin := binary(b)
	origin := fixture.New(b)
	renders := prerenderdtest.EnvInt(b, "BENCH_RENDERS", 1000)
	// The baselines' long run may be shorter (BENCH_BASELINE_RENDERS): the npm
	// server renders at about a third of prerenderd's pace, and the flatness
	// measured is prerenderd's.
	baselineRenders := min(prerenderdtest.EnvInt(b, "BENCH_BASELINE_RENDERS", renders), renders)
	const rounds, perRound, conc, block = 3, 48, 4, 100
	for b.Loop() {
		var figs []*memoryFigures
		start := func(s *server) {
			if s == nil {
				return
			}
			f := &memoryFigures{s: s}
			f.idle, f.idleProcs = settledPSS(s, 5*time.Second)
			f.idleBD = s.sampleBreakdown()
			figs = append(figs, f)
			// Started one after the other, each is measured idle while the
			// others are idle too; the next start must not land in the sample.
		}
		shape := prerenderdShape{"auto", "auto"}
		if s := os.Getenv("BENCH_SHAPE"); s != "" {
			var err error
			if shape, err = parseShape(s); err != nil {
				b.Fatal(err)
			}
		}
		ours := startPrerenderd(b, bin, origin.URL, shape)
		browsers, tabs := poolShape(b, ours, shape)
		start(ours)
		start(startNPM(b))
		start(startNaive(b))

		for _, f := range figs {
			f.add(renderRun(b, f.s, origin.URL, 16, conc)) // warm-up
		}
		for r := range rounds {
			for i := range figs {
				f := figs[(i+r)%len(figs)]
				res := renderRun(b, f.s, origin.URL, perRound, conc)
				f.add(res)
				f.peak = append(f.peak, res.peakPSS)
				f.peakBD = append(f.peakBD, res.atPeak)
				f.procs = max(f.procs, res.peakProcs)
				f.pps = append(f.pps, res.pagesPerSec)
				f.latency = append(f.latency, res.median())
			}
		}
		// Flatness is measured at rest: both samples wait for the process tree
		// to come back to its count right after start (restPSS).
		const restLimit = 30 * time.Second
		for _, f := range figs {
			var procs string
			f.before, procs, f.beforeRest = restPSS(f.s, f.idleBD, 5*time.Second, restLimit)
			f.seriesProcs = append(f.seriesProcs, procs)
		}
		took := make([]time.Duration, len(figs))
		for i, f := range figs {
			f.long = renders
			if i > 0 {
				f.long = baselineRenders
			}
		}
		for done := 0; done < renders; done += block {
			for i, f := range figs {
				if done >= f.long {
					continue
				}
				t0 := time.Now()
				res := renderRun(b, f.s, origin.URL, min(block, f.long-done), conc)
				took[i] += time.Since(t0)
				f.add(res)
				f.longPeak = max(f.longPeak, res.peakPSS)
				if i == 0 && done+block < f.long {
					// prerenderd's PSS at rest after each block: a leak grows
					// with the renders, bounded caches and the browsers'
					// recycling level off (README "Renders and memory").
					p, procs, _ := restPSS(f.s, f.idleBD, 5*time.Second, restLimit)
					f.series = append(f.series, p)
					f.seriesProcs = append(f.seriesProcs, procs)
				}
			}
		}
		for i, f := range figs {
			f.longPPS = float64(f.long) / took[i].Seconds()
			var procs string
			f.after, procs, f.afterRest = restPSS(f.s, f.idleBD, 5*time.Second, restLimit)
			f.seriesProcs = append(f.seriesProcs, procs)
		}
		if o := figs[0]; !o.beforeRest || !o.afterRest {
			b.Logf("prerenderd still ran a second browser %s after the long run's start (at rest: %v) or end (at rest: %v): those samples are the moment's", restLimit, o.beforeRest, o.afterRest)
		}
		printMemory(os.Stdout, figs, browsers, tabs)
		names := make([]string, len(figs))
		peaks := make([][]breakdown, len(figs))
		for i, f := range figs {
			names[i], peaks[i] = f.s.name, f.peakBD
		}
		printBreakdowns(os.Stdout, "at the peak of 4 concurrent renders", names, peaks)
		o := figs[0]
		if o.bad > 0 {
			b.Errorf("prerenderd answered %d bad pages of %d; the first: %s", o.bad, o.renders, o.firstBad)
		}
		b.ReportMetric(float64(o.idle)/(1<<20), "idle-pss-MiB")
		b.ReportMetric(float64(medianI(o.peak))/(1<<20), "peak4-pss-MiB")
		b.ReportMetric(100*(float64(o.after)/float64(o.before)-1), "growth-%")
		if first, second := o.trend(); len(o.series) > 0 {
			b.ReportMetric(100*(float64(second)/float64(first)-1), "trend-%")
		}
		b.ReportMetric(medianF(o.pps), "pages/s")
		for _, f := range figs[1:] {
			b.ReportMetric(float64(medianI(o.peak))/float64(medianI(f.peak)), "peak4-ratio-"+f.s.name)
		}
	}
}

func printMemory(w io.Writer, figs []*memoryFigures, browsers, tabs int) {
	o := figs[0]
	fmt.Fprintf(w, "\nprerenderd on its default config (pool shape auto: %d browser(s) x %d tabs) beside its baselines, %d cores\n", browsers, tabs/browsers, numCPU())
	fmt.Fprintf(w, "PSS is of the whole process tree; medians of 3 interleaved rounds; ratio = prerenderd / baseline\n\n")
	fmt.Fprintf(w, "%-42s %-22s", "figure", o.s.name)
	for _, f := range figs[1:] {
		fmt.Fprintf(w, " %-34s", f.s.name)
	}
	fmt.Fprintln(w)
	row := func(name string, v func(*memoryFigures) string, ratio func(o, f *memoryFigures) float64) {
		fmt.Fprintf(w, "%-42s %-22s", name, v(o))
		for _, f := range figs[1:] {
			fmt.Fprintf(w, " %-34s", fmt.Sprintf("%s (%.2fx)", v(f), ratio(o, f)))
		}
		fmt.Fprintln(w)
	}
	pssRatio := func(get func(*memoryFigures) int64) func(o, f *memoryFigures) float64 {
		return func(o, f *memoryFigures) float64 { return float64(get(o)) / float64(get(f)) }
	}
	row("PSS right after start, nothing rendered", func(f *memoryFigures) string {
		return fmt.Sprintf("%s, %d procs", mib(f.idle), f.idleProcs)
	}, pssRatio(func(f *memoryFigures) int64 { return f.idle }))
	row("peak PSS at 4 concurrent renders", func(f *memoryFigures) string {
		return fmt.Sprintf("%s, %d procs", mib(medianI(f.peak)), f.procs)
	}, pssRatio(func(f *memoryFigures) int64 { return medianI(f.peak) }))
	row("pages/s at 4 concurrent", func(f *memoryFigures) string {
		return fmt.Sprintf("%.2f", medianF(f.pps))
	}, func(o, f *memoryFigures) float64 { return medianF(o.pps) / medianF(f.pps) })
	row("median render latency at 4 concurrent", func(f *memoryFigures) string {
		return medianD(f.latency).Round(time.Millisecond).String()
	}, func(o, f *memoryFigures) float64 { return float64(medianD(o.latency)) / float64(medianD(f.latency)) })
	row("PSS at rest before -> after the long run", func(f *memoryFigures) string {
		rest := ""
		if !f.beforeRest || !f.afterRest {
			rest = ", not at rest"
		}
		return fmt.Sprintf("%s -> %s (%+.1f%%, %d renders%s)", mib(f.before), mib(f.after), 100*(float64(f.after)/float64(f.before)-1), f.long, rest)
	}, pssRatio(func(f *memoryFigures) int64 { return f.after }))
	row("peak PSS over the long run", func(f *memoryFigures) string {
		return mib(f.longPeak)
	}, pssRatio(func(f *memoryFigures) int64 { return f.longPeak }))
	row("pages/s over the long run", func(f *memoryFigures) string {
		return fmt.Sprintf("%.2f", f.longPPS)
	}, func(o, f *memoryFigures) float64 { return o.longPPS / f.longPPS })
	row("bad pages", func(f *memoryFigures) string {
		return fmt.Sprintf("%d of %d", f.bad, f.renders)
	}, func(o, f *memoryFigures) float64 { return 0 })
	if len(o.series) > 0 {
		// The series with the samples before and after it: its trend is the
		// median of its second half against its first (robust to the phase of
		// the browsers' recycling each sample lands on), its band min..max.
		all := o.restSamples()
		fmt.Fprintf(w, "%s at rest before, every 100 renders of, and after the long run (MiB, processes by kind):\n ", o.s.name)
		for i, p := range all {
			fmt.Fprintf(w, " %.0f", float64(p)/(1<<20))
			if i < len(o.seriesProcs) {
				fmt.Fprintf(w, " (%s)", o.seriesProcs[i])
			}
		}
		first, second := o.trend()
		lo, hi := slices.Min(all), slices.Max(all)
		// Like for like: the first sample whose tree had the processes the last
		// one had (a tab whose renderer is gone until its next page reads about
		// 25 MiB less, whatever the number of renders).
		last := len(all) - 1
		if len(o.seriesProcs) == len(all) {
			for i := range all {
				if o.seriesProcs[i] == o.seriesProcs[last] {
					fmt.Fprintf(w, "\n  like for like (%s): %s after %d renders -> %s after %d (%+.1f%%)", o.seriesProcs[last],
						mib(all[i]), i*100, mib(all[last]), o.long, 100*(float64(all[last])/float64(all[i])-1))
					break
				}
			}
		}
		fmt.Fprintf(w, "\n  trend: median of the second half %s against the first %s (%+.1f%%); band %s..%s (±%.1f%% around its middle)\n",
			mib(second), mib(first), 100*(float64(second)/float64(first)-1), mib(lo), mib(hi), 100*float64(hi-lo)/float64(hi+lo))
	}
	for _, f := range figs {
		if f.firstBad != "" {
			fmt.Fprintf(w, "first bad page of %s: %s\n", f.s.name, f.firstBad)
		}
	}
	fmt.Fprintln(w)
}

// shapeFigures are one pool shape's figures in BenchmarkPoolShapes.
type shapeFigures struct {
	shape           prerenderdShape
	browsers, tabs  int
	idle, peak      []int64
	pps             []float64
	latency, p90    []time.Duration
	procs, bad, out int
	firstBad        string
}

// BenchmarkPoolShapes runs the binary with each pool shape of BENCH_SHAPES
// (default 1x2,1x3,1x4,2x2,1x6,2x3,auto: browsers x tabs per browser) and
// measures, at as many concurrent renders as the shape has tabs: pages/s, the
// median and 90th percentile render latency, and the peak PSS of the tree, plus
// its PSS right after start. Rounds (3) interleave the shapes, each round in
// another order; the figures are medians. make bench-shapes runs it.
func BenchmarkPoolShapes(b *testing.B) {
	bin := binary(b)
	origin := fixture.New(b)
	list := os.Getenv("BENCH_SHAPES")
	if list == "" {
		list = "1x2,1x3,1x4,2x2,1x6,2x3,auto"
	}
	var figs []*shapeFigures
	for s := range strings.SplitSeq(list, ",") {
		shape, err := parseShape(strings.TrimSpace(s))
		if err != nil {
			b.Fatal(err)
		}
		figs = append(figs, &shapeFigures{shape: shape})
	}
	rounds := prerenderdtest.EnvInt(b, "BENCH_ROUNDS", 3)
	for b.Loop() {
		for r := range rounds {
			for i := range figs {
				f := figs[(i+r)%len(figs)]
				s := startPrerenderd(b, bin, origin.URL, f.shape)
				f.browsers, f.tabs = poolShape(b, s, f.shape)
				idle, _ := settledPSS(s, 3*time.Second)
				f.idle = append(f.idle, idle)
				renderRun(b, s, origin.URL, 2*f.tabs, f.tabs) // warm-up
				res := renderRun(b, s, origin.URL, max(48, 8*f.tabs), f.tabs)
				s.stop()
				f.peak = append(f.peak, res.peakPSS)
				f.pps = append(f.pps, res.pagesPerSec)
				f.latency = append(f.latency, res.median())
				f.p90 = append(f.p90, quantile(res.latencies, 0.9))
				f.procs = max(f.procs, res.peakProcs)
				f.bad += res.bad
				f.out += res.n
				if f.firstBad == "" {
					f.firstBad = res.firstBad
				}
				fmt.Fprintf(os.Stderr, "round %d %-5s %.2f pages/s, median %s, peak %s\n", r+1, f.shape,
					res.pagesPerSec, res.median().Round(time.Millisecond), mib(res.peakPSS))
			}
		}
		w := os.Stdout
		fmt.Fprintf(w, "\npool shapes through the binary, %d cores; concurrency = the shape's tabs; medians of %d interleaved rounds\n\n", numCPU(), rounds)
		fmt.Fprintf(w, "%-6s %-7s %-10s %-10s %-10s %-10s %-13s %-10s %s\n", "shape", "tabs", "pages/s", "median", "p90", "peak PSS", "PSS/tab", "idle PSS", "bad")
		for _, f := range figs {
			name := f.shape.String()
			if name == "auto" {
				name = fmt.Sprintf("auto=%dx%d", f.browsers, f.tabs/f.browsers)
			}
			fmt.Fprintf(w, "%-6s %-7d %-10.2f %-10s %-10s %-10s %-13s %-10s %d of %d\n", name, f.tabs, medianF(f.pps),
				medianD(f.latency).Round(time.Millisecond), medianD(f.p90).Round(time.Millisecond),
				mib(medianI(f.peak)), mib(medianI(f.peak)/int64(f.tabs)), mib(medianI(f.idle)), f.bad, f.out)
			if f.firstBad != "" {
				fmt.Fprintf(w, "  first bad page: %s\n", f.firstBad)
			}
		}
		fmt.Fprintln(w)
	}
}
