package scalebench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
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
	"syscall"
	"testing"
	"time"

	"prerenderd/internal/prerenderdtest"
	"prerenderd/storage"
)

// out is where the figures go: make bench-scale tees it.
var out io.Writer = os.Stdout

// fillBatch pages go in one PutPages call: one fsync per 3 MB.
const fillBatch = 100

// fill stores pages 0..n-1 through storage's public API from one writer per CPU,
// each rendered at a time in the last day and fresh for a week, and returns the raw
// HTML bytes written.
func fill(tb testing.TB, dir string, n int) (raw int64) {
	st, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	var next, done, rawBytes atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	start := time.Now()
	for range runtime.NumCPU() {
		wg.Go(func() {
			for failed.Load() == nil {
				from := int(next.Add(fillBatch)) - fillBatch
				if from >= n {
					return
				}
				pages := make([]*storage.Page, 0, fillBatch)
				for i := from; i < min(from+fillBatch, n); i++ {
					u := PageURL(i)
					rendered := now.Add(-time.Duration((i*7919)%86400) * time.Second)
					html := PageHTML(make([]byte, 0, PageSize), i)
					rawBytes.Add(int64(len(html)))
					pages = append(pages, &storage.Page{Key: "desktop|" + u, URL: u, Status: 200,
						RenderedAt: rendered, ExpiresAt: rendered.Add(7 * 24 * time.Hour), RenderTime: time.Second,
						Plain: html, Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}})
				}
				if err := st.PutPages(pages); err != nil {
					failed.Store(&err)
					return
				}
				if d := done.Add(int64(len(pages))); d*10/int64(n) != (d-int64(len(pages)))*10/int64(n) {
					fmt.Fprintf(out, "  filled %d pages in %s (load %s)\n", d, time.Since(start).Round(time.Second), prerenderdtest.LoadAvg())
				}
			}
		})
	}
	wg.Wait()
	if e := failed.Load(); e != nil {
		tb.Fatal(*e)
	}
	if err := st.Close(); err != nil {
		tb.Fatal(err)
	}
	return rawBytes.Load()
}

func dirBytes(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// filled is a filled store: where, and what its fill measured.
type filled struct {
	dir    string
	reused bool

	Pages       int       `json:"pages"`
	PageSize    int       `json:"page_size"`
	RawBytes    int64     `json:"raw_bytes"`
	FillSeconds float64   `json:"fill_seconds"`
	FilledAt    time.Time `json:"filled_at"`
}

// filledMark is the file, beside the store in SCALE_STORE, that says its fill
// finished and what it measured; a store without one is not used.
const filledMark = "scalebench.json"

// filledStore returns a store of n pages, copied (a storage checkpoint: hard
// links) into work/data, where the benchmark's clear and eviction may change it.
// Without SCALE_STORE it fills work/data itself. With SCALE_STORE=dir it fills
// dir/data once, when dir is empty, writes dir/scalebench.json when the fill is
// done, and from then on reuses it: a run then starts in seconds instead of
// a quarter of an hour. A dir of another page count or page generator is refused
// rather than refilled: it is never removed by the benchmark.
func filledStore(tb testing.TB, work string, n int) filled {
	tb.Helper()
	data := filepath.Join(work, "data")
	root := os.Getenv("SCALE_STORE")
	if root == "" {
		t0 := time.Now()
		raw := fill(tb, data, n)
		return filled{dir: data, Pages: n, PageSize: PageSize, RawBytes: raw, FillSeconds: time.Since(t0).Seconds(), FilledAt: t0}
	}
	f := filled{dir: filepath.Join(root, "data"), reused: true}
	mark := filepath.Join(root, filledMark)
	b, err := os.ReadFile(mark)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &f); err != nil {
			tb.Fatalf("SCALE_STORE=%s: %s is not a fill's record (%v): remove the directory to fill it again", root, mark, err)
		}
		if f.Pages != n || f.PageSize != PageSize {
			tb.Fatalf("SCALE_STORE=%s holds %d pages of %d bytes, not %d of %d: use another directory, or remove it to fill it again",
				root, f.Pages, f.PageSize, n, PageSize)
		}
	case os.IsNotExist(err):
		if entries, err := os.ReadDir(root); err == nil && len(entries) > 0 {
			tb.Fatalf("SCALE_STORE=%s is not empty and has no %s (an unfinished fill?): remove it, or give an empty directory", root, filledMark)
		}
		if err := os.MkdirAll(root, 0o755); err != nil {
			tb.Fatal(err)
		}
		t0 := time.Now()
		raw := fill(tb, f.dir, n)
		f = filled{dir: f.dir, Pages: n, PageSize: PageSize, RawBytes: raw, FillSeconds: time.Since(t0).Seconds(), FilledAt: t0}
		b, _ := json.Marshal(f)
		if err := os.WriteFile(mark, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	default:
		tb.Fatalf("SCALE_STORE=%s: %v", root, err)
	}
	st, err := storage.Open(storage.Options{Dir: f.dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	err = st.Checkpoint(data)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// appliance is a running bin/prerenderd.
type appliance struct {
	cmd     *exec.Cmd
	base    string
	log     *prerenderdtest.SyncBuffer
	exited  chan error
	serving time.Duration // from exec to /healthz 200
}

func freeAddr(tb testing.TB) string {
	addr, err := prerenderdtest.FreeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

// start runs bin on the store in dir (one browser of one tab: the figures are about
// the cache) and waits for /readyz 200; it returns how long that took.
func start(tb testing.TB, bin, work, dir, chromium, maxBytes string) (*appliance, time.Duration) {
	tb.Helper()
	addr := freeAddr(tb)
	cfg := fmt.Sprintf("[server]\nlisten = %q\nlog_format = \"json\"\nlog_level = \"info\"\n"+
		"[storage]\ndir = %q\nmax_bytes = %q\n[cache]\nttl = \"168h\"\n"+
		"[render]\nbrowsers = 1\ntabs_per_browser = 1\nchromium = %q\n", addr, dir, maxBytes, chromium)
	path := filepath.Join(work, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	a := &appliance{base: "http://" + addr, log: &prerenderdtest.SyncBuffer{}, exited: make(chan error, 1)}
	a.cmd = exec.Command(bin, "-config", path)
	a.cmd.Env = append(os.Environ(), "TMPDIR="+work)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	t0 := time.Now()
	if err := a.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { a.exited <- a.cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	for {
		path := "/readyz"
		if a.serving == 0 {
			path = "/healthz"
		}
		resp, err := client.Get(a.base + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if a.serving == 0 {
					// Listening: hits are served from here on, before a
					// browser is up.
					a.serving = time.Since(t0)
					continue
				}
				return a, time.Since(t0)
			}
		}
		select {
		case err := <-a.exited:
			tb.Fatalf("prerenderd exited before it was ready: %v\n%s", err, a.log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Since(t0) > 5*time.Minute {
			a.stop(tb)
			tb.Fatalf("prerenderd was not ready within 5 minutes:\n%s", a.log)
		}
	}
}

func (a *appliance) stop(tb testing.TB) {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(60 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
		tb.Errorf("prerenderd did not stop within 60s of SIGTERM")
	}
}

// logField returns field of the first JSON log line whose msg is msg.
func (a *appliance) logField(msg, field string) (any, bool) {
	for line := range strings.SplitSeq(a.log.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != msg {
			continue
		}
		v, ok := m[field]
		return v, ok
	}
	return nil, false
}

// memory is the RSS and PSS of prerenderd's own process, and the PSS of its whole
// tree (Chromium's processes too).
func (a *appliance) memory() (rss, pss, treePSS int64) {
	pid := a.cmd.Process.Pid
	rss, pss = rollup(pid)
	treePSS = pss
	for _, child := range descendants(pid) {
		_, p := rollup(child)
		treePSS += p
	}
	return rss, pss, treePSS
}

func rollup(pid int) (rss, pss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			rss = kb << 10
		case "Pss:":
			pss = kb << 10
		}
	}
	return rss, pss
}

func descendants(root int) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if f := strings.Fields(string(stat[i+1:])); len(f) > 1 {
			parent[pid], _ = strconv.Atoi(f[1])
		}
	}
	var pids []int
	for pid := range parent {
		for p, hops := parent[pid], 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if p == root {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

var (
	wrkRate  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2x = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkErrs  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrkLua is the script of one run: hits on page hot, or on a page drawn at random
// from the n stored (random keys: a working set of the whole store), with gzip or
// not.
func wrkLua(n, hot int, random, gzip bool) string {
	var s strings.Builder
	if gzip {
		s.WriteString(`wrk.headers["Accept-Encoding"] = "gzip"` + "\n")
	}
	s.WriteString(`wrk.headers["User-Agent"] = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"` + "\n")
	if random {
		fmt.Fprintf(&s, "local n = %d\nlocal hosts = %d\n", n, Hosts)
		s.WriteString(`function setup(thread) thread:set("seed", math.random(1, 1e9)) end
function init(args) math.randomseed(seed) end
request = function()
  local i = math.random(0, n - 1)
  return wrk.format("GET", "/https://host" .. (i % hosts) .. ".example/p/" .. i)
end
`)
	} else {
		fmt.Fprintf(&s, "wrk.path = %q\n", "/"+PageURL(hot))
	}
	return s.String()
}

// wrkRun runs wrk for d at 32 connections and returns requests/s; any answer that is
// not 2xx or 3xx, or a socket error, fails the benchmark.
func wrkRun(tb testing.TB, work, base, script string, d time.Duration) float64 {
	tb.Helper()
	path := filepath.Join(work, "hits.lua")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		tb.Fatal(err)
	}
	outb, err := exec.Command("wrk", "-t2", "-c32", "-d"+d.String(), "-s", path, base).CombinedOutput()
	if err != nil {
		tb.Fatalf("wrk: %v\n%s", err, outb)
	}
	if m := wrkNon2x.FindSubmatch(outb); m != nil {
		tb.Fatalf("wrk saw %s answers that were not hits:\n%s", m[1], outb)
	}
	if m := wrkErrs.FindSubmatch(outb); m != nil {
		tb.Fatalf("wrk saw socket errors:\n%s", outb)
	}
	m := wrkRate.FindSubmatch(outb)
	if m == nil {
		tb.Fatalf("no Requests/sec in wrk's output:\n%s", outb)
	}
	r, _ := strconv.ParseFloat(string(m[1]), 64)
	return r
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// blockCacheCounts reads Pebble's block cache lookups from the binary's /metrics.
func blockCacheCounts(tb testing.TB, base string) (hits, misses float64) {
	tb.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		name, v, ok := strings.Cut(line, " ")
		f, _ := strconv.ParseFloat(v, 64)
		switch {
		case !ok:
		case name == "prerender_storage_block_cache_hits_total":
			hits = f
		case name == "prerender_storage_block_cache_misses_total":
			misses = f
		}
	}
	return hits, misses
}

// checkHit fetches page i through the binary and fails unless it is a HIT of its
// stored HTML.
func checkHit(tb testing.TB, base string, i int) {
	tb.Helper()
	req, _ := http.NewRequest("GET", base+"/"+PageURL(i), nil)
	req.Header.Set("User-Agent", "Googlebot/2.1")
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("X-Prerender-Cache") != "HIT" || !bytes.Equal(body, PageHTML(nil, i)) {
		tb.Fatalf("page %d: %d %s, %d bytes: not a HIT of its stored HTML", i, resp.StatusCode, resp.Header.Get("X-Prerender-Cache"), len(body))
	}
}

func postJSON(tb testing.TB, url, body string) (int, map[string]any) {
	tb.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// onHost is how many of pages 0..n-1 are on host h.
func onHost(n, h int) int {
	c := n / Hosts
	if h < n%Hosts {
		c++
	}
	return c
}

func gib(b int64) string { return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30)) }
func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// BenchmarkScale is make bench-scale: SCALE_PAGES pages (default 1,000,000) filled,
// then served, searched, cleared and evicted by PRERENDERD_BIN. SCALE_DIR is where
// the temporary store goes (default TMPDIR); SCALE_STORE a directory whose store is
// filled once and reused by later runs (filledStore); SCALE_WRK_SECONDS the length of each
// wrk run (10) and SCALE_ROUNDS how many interleaved rounds of hot and random hits
// (3). SCALE_BASELINE_BIN, when set, is another build whose start-up on the same
// store is measured last (for a before/after); SCALE_CHROMIUM a Chromium that is
// not on PATH.
func BenchmarkScale(b *testing.B) {
	bin := os.Getenv("PRERENDERD_BIN")
	if bin == "" {
		b.Skip("PRERENDERD_BIN is not set: run make bench-scale")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Fatal("wrk is not installed: make bench-scale installs it when root; else apt-get install -y wrk")
	}
	// The binary finds Chromium on PATH (render.chromium ""), as a user's does;
	// make bench-scale installs it (make deps).
	chromium := os.Getenv("SCALE_CHROMIUM")
	n := prerenderdtest.EnvInt(b, "SCALE_PAGES", 1_000_000)
	wrkFor := time.Duration(prerenderdtest.EnvInt(b, "SCALE_WRK_SECONDS", 10)) * time.Second
	rounds := prerenderdtest.EnvInt(b, "SCALE_ROUNDS", 3)
	work, err := os.MkdirTemp(os.Getenv("SCALE_DIR"), "pscale")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(work)
	dir := filepath.Join(work, "data")
	for range b.N {
		fmt.Fprintf(out, "bench-scale: %d pages of %d bytes over %d hosts, %d CPUs, store in %s, load %s\n",
			n, PageSize, Hosts, runtime.NumCPU(), dir, prerenderdtest.LoadAvg())

		// Fill, through storage's public API (not the binary: a million renders
		// would take days), or reuse the fill of SCALE_STORE.
		f := filledStore(b, work, n)
		raw, fillTime := f.RawBytes, time.Duration(f.FillSeconds*float64(time.Second))
		disk := dirBytes(f.dir)
		st, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		stored := st.StoredBytes()
		t1 := time.Now()
		pages, size, err := st.Recount()
		recount := time.Since(t1)
		if err != nil || pages != st.PageCount() || size != stored || pages != int64(n) {
			b.Fatalf("counters %d pages %d bytes, recount %d pages %d bytes (%v), want %d pages", st.PageCount(), stored, pages, size, err, n)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		if f.reused {
			fmt.Fprintf(out, "fill: reused %s, filled %s: %d pages in %s (%.0f pages/s)\n",
				f.dir, f.FilledAt.Format(time.RFC3339), n, fillTime.Round(time.Second), float64(n)/fillTime.Seconds())
		} else {
			fmt.Fprintf(out, "fill: %d pages in %s (%.0f pages/s), load %s\n", n, fillTime.Round(time.Second), float64(n)/fillTime.Seconds(), prerenderdtest.LoadAvg())
		}
		fmt.Fprintf(out, "disk: %s on disk for %s of HTML (%.2fx); stored bytes (max_bytes counts them) %s; counting them took %s, as every start did before the counters\n",
			gib(disk), gib(raw), float64(disk)/float64(raw), gib(stored), recount.Round(time.Millisecond))
		b.ReportMetric(fillTime.Seconds(), "fill-s")
		b.ReportMetric(float64(disk)/float64(raw), "disk/raw")

		// Start-up, three times: the median.
		var ups, serving []float64
		var app *appliance
		for i := range 3 {
			a, up := start(b, bin, work, dir, chromium, "0")
			ups = append(ups, up.Seconds())
			opened, _ := a.logField("opened storage", "ms")
			fmt.Fprintf(out, "start-up %d: /healthz 200 (hits served) after %s, /readyz 200 (a browser up) after %s; storage opened in %v ms; load %s\n",
				i+1, a.serving.Round(time.Millisecond), up.Round(time.Millisecond), opened, prerenderdtest.LoadAvg())
			serving = append(serving, a.serving.Seconds())
			if i < 2 {
				a.stop(b)
			} else {
				app = a
			}
		}
		b.ReportMetric(median(ups), "ready-s")
		b.ReportMetric(median(serving), "serving-s")
		// The body index is built in the background after Open (hits read Pebble
		// until then): wait for it, so that the hit rounds measure the index.
		for deadline := time.Now().Add(2 * time.Minute); ; {
			if took, ok := app.logField("storage body index built", "duration"); ok {
				bytes, _ := app.logField("storage body index built", "body_index_bytes")
				ns, _ := took.(float64)
				nb, _ := bytes.(float64)
				fmt.Fprintf(out, "body index: built in %s in the background after the store opened; %s in memory, %.1f bytes a page\n",
					time.Duration(ns).Round(time.Millisecond), mib(int64(nb)), nb/float64(n))
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no \"storage body index built\" line 2 minutes after start:\n%s", app.log.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		index, _ := app.logField("storage opened", "index_bytes")
		cache, _ := app.logField("storage opened", "block_cache")
		indexB, _ := index.(float64)
		cacheB, _ := cache.(float64)
		fmt.Fprintf(out, "index and filter blocks of the tables: %s; block cache (storage.block_cache) %s\n", mib(int64(indexB)), mib(int64(cacheB)))
		time.Sleep(2 * time.Second)
		rss, pss, tree := app.memory()
		fmt.Fprintf(out, "memory after start: prerenderd RSS %s, PSS %s; with its Chromium PSS %s\n", mib(rss), mib(pss), mib(tree))
		b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")

		// Hits: one hot key against random keys, plain and gzip, interleaved rounds.
		hot := n / 2
		for _, i := range []int{hot, 0, n - 1, n / 3} {
			checkHit(b, app.base, i)
		}
		rates := map[string][]float64{}
		kinds := []struct {
			name         string
			random, gzip bool
		}{{"hot plain", false, false}, {"random plain", true, false}, {"hot gzip", false, true}, {"random gzip", true, true}}
		wrkRun(b, work, app.base, wrkLua(n, hot, true, false), 3*time.Second) // warm-up
		hits0, misses0 := blockCacheCounts(b, app.base)
		for r := range rounds {
			for k := range kinds {
				kind := kinds[(k+r)%len(kinds)]
				rate := wrkRun(b, work, app.base, wrkLua(n, hot, kind.random, kind.gzip), wrkFor)
				rates[kind.name] = append(rates[kind.name], rate)
			}
		}
		for _, enc := range []string{"plain", "gzip"} {
			h, rnd := median(rates["hot "+enc]), median(rates["random "+enc])
			fmt.Fprintf(out, "hits %s: random keys %.0f req/s = %.2fx one hot key (%.0f req/s); wrk -t2 -c32 -d%s, medians of %d rounds, load %s\n",
				enc, rnd, rnd/h, h, wrkFor, rounds, prerenderdtest.LoadAvg())
			b.ReportMetric(rnd/h, "random/hot-"+enc)
		}
		hotPlain := median(rates["hot plain"])
		hits1, misses1 := blockCacheCounts(b, app.base)
		fmt.Fprintf(out, "block cache during the hit rounds: %.1f%% of %.0f lookups hit\n",
			100*(hits1-hits0)/max(1, hits1-hits0+misses1-misses0), hits1-hits0+misses1-misses0)

		// Search of one host: its URL prefix (a pattern), and a substring (every key).
		host := 123 % Hosts
		for _, q := range []string{HostPrefix(host) + "%", strings.TrimPrefix(HostPrefix(host), "https://")} {
			t := time.Now()
			code, res := postJSON(b, app.base+"/search", fmt.Sprintf(`{"query": %q}`, q))
			took := time.Since(t)
			if total, _ := res["total"].(float64); code != 200 || int(total) != onHost(n, host) {
				b.Fatalf("search %q: %d, total %v, want %d", q, code, res["total"], onHost(n, host))
			}
			fmt.Fprintf(out, "search %q: %d pages in %s\n", q, onHost(n, host), took.Round(time.Microsecond))
		}

		// Wildcard clear of another host, until its status says done.
		host = 456 % Hosts
		t2 := time.Now()
		code, res := postJSON(b, app.base+"/cache-clear", fmt.Sprintf(`{"query": %q}`, HostPrefix(host)+"%"))
		if code != http.StatusAccepted {
			b.Fatalf("cache-clear: %d %v", code, res)
		}
		for {
			resp, err := http.Get(app.base + "/cache-clear-status")
			if err != nil {
				b.Fatal(err)
			}
			var st map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st["status"] == "done" {
				if d, _ := st["deleted"].(float64); int(d) != onHost(n, host) {
					b.Fatalf("clear deleted %v pages, want %d", st["deleted"], onHost(n, host))
				}
				break
			}
			if st["status"] != "running" {
				b.Fatalf("clear status %v", st)
			}
			time.Sleep(5 * time.Millisecond)
		}
		fmt.Fprintf(out, "cache-clear %q: %d pages in %s, load %s\n", HostPrefix(host)+"%", onHost(n, host), time.Since(t2).Round(time.Millisecond), prerenderdtest.LoadAvg())
		app.stop(b)

		// The normal queue's tick on this store, in the actors package (its queue is
		// not exported), every page due.
		// Each tick moves one page out of the due window: at most a tenth of them.
		ticks := fmt.Sprintf("%dx", min(2000, n/10))
		tick := exec.Command("go", "test", "-run", "^$", "-bench", "NormalQueueTick", "-benchtime", ticks, "-count", "3", "./actors/")
		tick.Dir = "../.."
		tick.Env = append(os.Environ(), "PRERENDERD_BENCH_STORE="+dir)
		tickOut, err := tick.CombinedOutput()
		if err != nil {
			b.Fatalf("normal queue tick: %v\n%s", err, tickOut)
		}
		for line := range strings.SplitSeq(string(tickOut), "\n") {
			if strings.HasPrefix(line, "BenchmarkNormalQueueTick") {
				fmt.Fprintf(out, "normal queue tick at %d pages: %s\n", n-onHost(n, host), strings.Join(strings.Fields(line)[2:], " "))
			}
		}

		// Eviction: storage.max_bytes just under what is stored; hits on the hot key
		// (the most recently hit page, never evicted) go on meanwhile.
		st, err = storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		stored = st.StoredBytes()
		before := st.PageCount()
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		bound := stored * 95 / 100
		app, _ = start(b, bin, work, dir, chromium, strconv.FormatInt(bound, 10))
		var during []float64
		deadline := time.Now().Add(30 * time.Minute)
		for {
			if _, ok := app.logField("cache evicted", "pages"); ok && len(during) > 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no eviction within 30 minutes:\n%s", app.log)
			}
			during = append(during, wrkRun(b, work, app.base, wrkLua(n, hot, false, false), 2*time.Second))
		}
		evicted, _ := app.logField("cache evicted", "pages")
		ns, _ := app.logField("cache evicted", "duration")
		took, _ := ns.(float64)
		minDuring := slices.Min(during)
		fmt.Fprintf(out, "eviction: max_bytes %s under %s stored: %v of %d pages removed in %s; hot-key hits meanwhile (and until the first 2 s run ended) %.0f req/s median, %.0f lowest of %d 2 s runs (%.2fx of before), load %s\n",
			gib(bound), gib(stored), evicted, before, time.Duration(took).Round(time.Millisecond), median(during), minDuring, len(during), median(during)/hotPlain, prerenderdtest.LoadAvg())
		app.stop(b)

		if base := os.Getenv("SCALE_BASELINE_BIN"); base != "" {
			// Last: a binary without the counters leaves them stale, so the next
			// start of this one would count once.
			for i := range 2 {
				a, up := start(b, base, work, dir, chromium, "0")
				opened, _ := a.logField("opened storage", "ms")
				fmt.Fprintf(out, "baseline %s start-up %d: /healthz 200 after %s, /readyz 200 after %s; storage opened in %v ms\n",
					base, i+1, a.serving.Round(time.Millisecond), up.Round(time.Millisecond), opened)
				a.stop(b)
			}
		}
	}
}

// BenchmarkFill is the fill of make bench-scale alone, b.N pages: a profile of it
// (-cpuprofile) shows what a store costs to write.
func BenchmarkFill(b *testing.B) {
	dir := b.TempDir()
	raw := fill(b, filepath.Join(dir, "data"), b.N)
	b.SetBytes(raw / int64(b.N))
}
