//go:build soak

package soak

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

var (
	binaryFlag   = flag.String("soak.binary", "", "the prerenderd binary to soak (default: build one)")
	durationFlag = flag.Duration("soak.duration", 10*time.Minute, "how long the load runs after the warm-up")
	warmupFlag   = flag.Duration("soak.warmup", time.Minute, "load before the baseline is measured")
)

const (
	browsers = 2
	tabs     = 2
	// clients is ten times the render capacity (browsers × tabs).
	clients = 10 * browsers * tabs
	// answerTimeout: a request without an answer by then is unanswered.
	answerTimeout = 60 * time.Second
	// slack is how far a figure may be from its baseline after the soak.
	slack = 0.10
)

// hot pages are rendered once and then hit; the rest are renders of new URLs.
var hot = []string{"/", "/product?id=1", "/product?id=2", "/chain", "/jsonld", "/hydrate", "/big?kb=1024"}

// rare pages break in each of the ways a render can; one request in twenty.
var rare = []string{"/broken/reset", "/broken/empty", "/reload-loop", "/big?kb=12288", "/notfound-js", "/redirect", "/timeout"}

func TestSoak(t *testing.T) {
	bin := *binaryFlag
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "prerenderd")
		if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
			t.Fatalf("cannot build: %v\n%s", err, out)
		}
	}
	origin := fixture.New(t)
	app := start(t, bin)

	load := newLoad(app, origin.URL)
	t.Logf("warm-up: %d clients for %s", clients, *warmupFlag)
	load.run(*warmupFlag)
	before := app.settle(t)
	t.Logf("baseline: %s", before)

	t.Logf("soak: %d clients for %s", clients, *durationFlag)
	load.reset()
	load.run(*durationFlag)
	after := app.settle(t)
	t.Logf("after:    %s", after)
	t.Logf("requests: %s", load.summary())

	if n := load.unanswered.Load(); n > 0 {
		t.Errorf("%d requests got no answer within %s; first: %s", n, answerTimeout, load.firstError())
	}
	check := func(what string, b, a float64) {
		if a > b*(1+slack) {
			t.Errorf("%s grew from %.0f to %.0f (%+.1f%%), more than %.0f%%", what, b, a, 100*(a-b)/b, 100*slack)
		}
	}
	check("fds", float64(before.fds), float64(after.fds))
	check("goroutines", float64(before.goroutines), float64(after.goroutines))
	check("PSS (prerenderd and Chromium)", float64(before.pss()), float64(after.pss()))
	if _, err := app.get("/healthz"); err != nil {
		t.Errorf("not alive after the soak: %v", err)
	}
}

type appliance struct {
	cmd    *exec.Cmd
	addr   string
	log    *os.File
	client *http.Client
}

func start(t *testing.T, bin string) *appliance {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`[server]
listen = %q
log_format = "text"
log_level = "warn"
[storage]
dir = %q
[render]
browsers = %d
tabs_per_browser = %d
[security]
allow_private = true
`, addr, filepath.Join(dir, "data"), browsers, tabs)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "prerenderd.log"))
	if err != nil {
		t.Fatal(err)
	}
	a := &appliance{addr: addr, log: logf, client: &http.Client{Timeout: 10 * time.Second}}
	a.cmd = exec.Command(bin, "-config", cfgPath)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	// Chromium's sockets go under TMPDIR: keep their paths short.
	tmp, err := os.MkdirTemp("", "soak")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	a.cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = a.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = a.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("prerenderd log (last 4 KiB):\n%s", tail(b, 4<<10))
			}
		}
		logf.Close()
	})
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if body, err := a.get("/readyz"); err == nil && strings.HasPrefix(body, "ready") {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("prerenderd not ready after 90s")
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (a *appliance) get(path string) (string, error) {
	resp, err := a.client.Get("http://" + a.addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// metrics reads the appliance's /metrics into name{labels} → value.
func (a *appliance) metrics() (map[string]float64, error) {
	body, err := a.get("/metrics")
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, nil
}

type figures struct {
	fds, goroutines     int
	ownPSS, chromiumPSS int64
	heapInuse, rssBytes int64
	pagesCached         int
}

func (f figures) pss() int64 { return f.ownPSS + f.chromiumPSS }

func (f figures) String() string {
	return fmt.Sprintf("fds %d, goroutines %d, PSS %d MiB (prerenderd %d MiB + Chromium %d MiB), Go heap in use %d MiB, RSS %d MiB, pages cached %d",
		f.fds, f.goroutines, f.pss()>>20, f.ownPSS>>20, f.chromiumPSS>>20, f.heapInuse>>20, f.rssBytes>>20, f.pagesCached)
}

// settleAfterIdle outlasts the egress proxy's idle timeout for Chromium's
// connections (egress.go, 90 s), the longest an idle appliance keeps a
// connection of its own traffic open.
const settleAfterIdle = 95 * time.Second

// settle waits until the appliance is idle (no render in flight or queued, no
// browser starting or draining, the priority queue empty), then for the
// connections of the last renders to close, and measures it. Chromium's
// keep-alive connections to the egress proxy (closed after 90 s idle, with a
// goroutine and an fd each) and the proxy's to the origins (30 s, two
// goroutines and an fd) are not leaks. Measured 20 s after idle, as the soak
// did, how many were still open decided its result (goroutines 54 then 60:
// +11%); a goroutine dump of one idle minute read 60 goroutines 20 s after
// idle, 56 at 40 s (the proxy's connections to the origin closed), 53 at 90 s
// (Chromium's to the proxy).
func (a *appliance) settle(t *testing.T) figures {
	t.Helper()
	idle := func(m map[string]float64) bool {
		return m["prerender_renders_in_flight"] == 0 && m["prerender_tab_queue_length"] == 0 &&
			m[`prerender_browsers{state="starting"}`] == 0 && m[`prerender_browsers{state="draining"}`] == 0 &&
			m[`prerender_recache_queue_length{queue="priority"}`] == 0
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		m, err := a.metrics()
		if err == nil && idle(m) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the appliance did not become idle within 3 minutes: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(settleAfterIdle)
	m, err := a.metrics()
	if err != nil {
		t.Fatal(err)
	}
	pid := a.cmd.Process.Pid
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return figures{
		fds:         len(fds),
		goroutines:  int(m["go_goroutines"]),
		ownPSS:      pss(pid),
		chromiumPSS: int64(m["prerender_chromium_pss_bytes"]),
		heapInuse:   int64(m["go_memstats_heap_inuse_bytes"]),
		rssBytes:    int64(m["process_resident_memory_bytes"]),
		pagesCached: int(m["prerender_pages_cached"]),
	}
}

// pss reads the proportional set size of a process.
func pss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// load is the clients: each asks for a page, waits for its answer, and asks
// for the next, as crawlers behind a middleware do.
type load struct {
	app        *appliance
	origin     string
	seq        atomic.Int64
	unanswered atomic.Int64

	mu       sync.Mutex
	statuses map[string]int
	firstErr error
}

func newLoad(app *appliance, origin string) *load {
	return &load{app: app, origin: origin, statuses: map[string]int{}}
}

func (l *load) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses = map[string]int{}
}

func (l *load) run(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { l.client(ctx, i) })
	}
	wg.Go(func() { l.slowReaders(ctx) })
	wg.Wait()
}

func (l *load) client(ctx context.Context, i int) {
	tr := &http.Transport{DisableCompression: i%2 == 0, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: answerTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for ctx.Err() == nil {
		var path string
		switch r := rand.IntN(20); {
		case r == 0:
			path = rare[rand.IntN(len(rare))]
		case r < 10:
			path = hot[rand.IntN(len(hot))]
		default:
			// A new URL: a render, or a 503 when every tab is taken.
			path = fmt.Sprintf("/product?id=%d", l.seq.Add(1))
		}
		resp, err := c.Get("http://" + l.app.addr + "/" + l.origin + path)
		if err != nil {
			l.unanswered.Add(1)
			l.note("error", err)
			continue
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			l.unanswered.Add(1)
			l.note("error", err)
			continue
		}
		key := strconv.Itoa(resp.StatusCode)
		if r := resp.Header.Get("X-Prerender-Reject-Reason"); r != "" {
			key += " " + r
		} else if c := resp.Header.Get("X-Prerender-Cache"); c != "" {
			key += " " + c
		}
		l.note(key, nil)
	}
}

// slowReaders asks for a cached 1 MiB page every 10 s and never reads it:
// the appliance must drop each at its write deadline.
func (l *load) slowReaders(ctx context.Context) {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c, err := net.Dial("tcp", l.app.addr)
		if err != nil {
			continue
		}
		fmt.Fprintf(c, "GET /%s/big?kb=1024 HTTP/1.1\r\nHost: soak\r\n\r\n", l.origin)
		conns = append(conns, c)
	}
}

func (l *load) note(key string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses[key]++
	if err != nil && l.firstErr == nil {
		l.firstErr = err
	}
}

func (l *load) firstError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstErr
}

func (l *load) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := 0
	var parts []string
	for k, n := range l.statuses {
		total += n
		parts = append(parts, fmt.Sprintf("%s: %d", k, n))
	}
	slices.Sort(parts)
	return fmt.Sprintf("%d in all, %d unanswered; %s", total, l.unanswered.Load(), strings.Join(parts, ", "))
}
