package actors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"prerenderd/browser"
	"prerenderd/browser/fixture"
)

// chromiumTree is what runs of the Chromium processes whose profile lives under dir:
// processes by browser root (dir/prerenderd-*), and zombies among them or among the
// children of this test process.
type chromiumTree struct {
	byRoot  map[string][]int
	zombies []int
}

func (c chromiumTree) total() int {
	n := 0
	for _, p := range c.byRoot {
		n += len(p)
	}
	return n
}

// treeUnder scans /proc for processes whose command line (--user-data-dir) or
// environment (TMPDIR, which finds crashpad handlers) names a directory under dir,
// or that are in the process group of a browser whose directory is under dir (its
// "group" file: the headless shell's zygotes and their children name nothing).
func treeUnder(dir string) chromiumTree {
	c := chromiumTree{byRoot: map[string][]int{}}
	groups := map[string]string{} // process group → browser root
	roots, _ := filepath.Glob(filepath.Join(dir, "prerenderd-*", "group"))
	for _, g := range roots {
		if b, err := os.ReadFile(g); err == nil {
			groups[strings.TrimSpace(string(b))] = filepath.Base(filepath.Dir(g))
		}
	}
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == self {
			c.zombies = append(c.zombies, mustAtoi(e.Name()))
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		var root string
		for _, s := range []string{string(cmd), string(env)} {
			if i := strings.Index(s, dir+"/"); i >= 0 {
				rest := s[i+len(dir)+1:]
				root, _, _ = strings.Cut(rest, "/")
				break
			}
		}
		if root == "" && len(f) > 2 && strings.Contains(string(cmd), "chrom") {
			root = groups[f[2]]
		}
		if root == "" {
			continue
		}
		if len(f) > 0 && f[0] == "Z" {
			c.zombies = append(c.zombies, mustAtoi(e.Name()))
			continue
		}
		c.byRoot[root] = append(c.byRoot[root], mustAtoi(e.Name()))
	}
	return c
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }

// isolatedTMPDIR makes every Chromium this test starts put its profile under a
// directory of the test's own (short: Chromium's socket path limit), so its
// processes can be told apart from those of other test binaries.
func isolatedTMPDIR(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pa")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", dir)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// settled polls until ok holds for the tree under dir, or fails the test with the
// last tree seen.
func settled(t *testing.T, dir string, within time.Duration, what string, ok func(chromiumTree) bool) chromiumTree {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c := treeUnder(dir)
		if ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; processes by browser: %v, zombies %v", what, within, c.byRoot, c.zombies)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSixtyRendersRecycledEveryTenLeaveOnlyTheConfiguredChromiums(t *testing.T) {
	tmp := isolatedTMPDIR(t)
	origin := fixture.New(t)
	const browsers, tabs, renders, every = 2, 2, 60, 10 // six recycles
	app, _ := startApp(t, func(c *Config) {
		c.Browsers, c.TabsPerBrowser, c.RendersPerBrowser = browsers, tabs, every
		c.Browser.IdleWindow = 50 * time.Millisecond // trivial pages: the test is about processes
	})
	for deadline := time.Now().Add(30 * time.Second); app.metrics.browsersUp.Load() < browsers; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("browsers not up")
		}
	}
	time.Sleep(500 * time.Millisecond)
	start := treeUnder(tmp)
	if len(start.byRoot) != browsers {
		t.Fatalf("%d browser trees at the start, want %d: %v", len(start.byRoot), browsers, start.byRoot)
	}
	perBrowser := 0
	for _, pids := range start.byRoot {
		perBrowser = max(perBrowser, len(pids))
	}

	var wg sync.WaitGroup
	errs := make(chan error, renders)
	sem := make(chan struct{}, browsers*tabs)
	for i := range renders {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			url := fmt.Sprintf("%s/?recycle=%d", origin.URL, i)
			r, err := app.Render(context.Background(), "desktop|"+url, url)
			if err == nil && r.Result.Status != 200 {
				err = fmt.Errorf("status %d", r.Result.Status)
			}
			if err != nil {
				errs <- fmt.Errorf("render %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err) // recycling must never fail a request
	}
	// One browser restarts at a time, so how many recycles happen while the
	// renders run depends on how fast Chromium starts. What the pool promises is
	// that an incarnation which reached renders_per_browser is recycled as soon as
	// the other browser is up: once the pool settles, every serving incarnation
	// has run fewer than every renders, so the 60 leases were spread over at least
	// two retired ones.
	var serving []BrowserState
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		serving = serving[:0]
		fresh := true
		for _, b := range app.State().Browsers {
			serving = append(serving, b)
			fresh = fresh && !b.Draining && b.Renders < every
		}
		if fresh && len(serving) == browsers {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not recycle every browser that reached %d renders: %+v", every, serving)
		}
	}
	if got := app.metrics.restarts[reasonRenders].Get(); got < 2 {
		t.Errorf("%d recycles after %d renders, want at least 2", got, renders)
	}
	if got := app.metrics.restarts[reasonCrash].Get(); got != 0 {
		t.Errorf("%d crash restarts", got)
	}
	// A browser starts with one tab ready; an idle one keeps up to a tab per
	// slot ready for reuse, each with a renderer process of its own.
	most := perBrowser + tabs - 1
	end := settled(t, tmp, 15*time.Second, "the configured browsers, each with its idle processes", func(c chromiumTree) bool {
		if len(c.byRoot) != browsers || len(c.zombies) != 0 {
			return false
		}
		for _, pids := range c.byRoot {
			if len(pids) > most {
				return false
			}
		}
		return true
	})
	t.Logf("%d recycles; %d processes per browser at the start (at most %d when idle), %d processes in all at the end",
		app.metrics.restarts[reasonRenders].Get(), perBrowser, most, end.total())
	var profiles []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		dirs, _ := os.ReadDir(tmp)
		profiles = profiles[:0]
		for _, d := range dirs {
			if strings.HasPrefix(d.Name(), "prerenderd-") {
				profiles = append(profiles, d.Name())
			}
		}
		if len(profiles) == browsers || time.Now().After(deadline) {
			break
		}
	}
	if len(profiles) != browsers {
		t.Errorf("profile directories %v under TMPDIR, want %d", profiles, browsers)
	}
}

func TestAChromiumThatStopsAnsweringIsKilledAndRestarted(t *testing.T) {
	tmp := isolatedTMPDIR(t)
	origin := fixture.New(t)
	app, _ := startApp(t, func(c *Config) {
		c.LivenessInterval = 200 * time.Millisecond
		c.LivenessTimeout = 500 * time.Millisecond
	})
	old := upBrowser(t, app)
	// A stopped process answers nothing, like a browser stuck in a deadlock.
	if err := syscall.Kill(old.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.Done():
	case <-time.After(10 * time.Second):
		syscall.Kill(old.PID(), syscall.SIGCONT)
		t.Fatal("a stopped Chromium was not killed within 10s")
	}
	waitNewBrowser(t, app, old)
	if got := app.metrics.restarts[reasonUnresponsive].Get(); got != 1 {
		t.Errorf("restarts for unresponsive = %d, want 1", got)
	}
	r, err := app.Render(context.Background(), "desktop|"+origin.URL+"/", origin.URL+"/")
	if err != nil || r.Result.Status != 200 {
		t.Fatalf("render on the restarted browser: %v", err)
	}
	settled(t, tmp, 10*time.Second, "only the new browser's processes", func(c chromiumTree) bool {
		return len(c.byRoot) == 1 && len(c.zombies) == 0
	})
}

func waitNewBrowser(t *testing.T, app *Appliance, old *browser.Browser) *browser.Browser {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if up := app.up.Load(); up != nil && len(*up) == 1 && (*up)[0] != old {
			return (*up)[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("no new browser 30s after the old one went away")
		}
	}
}

func TestABrowserPastItsMemoryLimitIsRecycledOnceItsRenderIsDone(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, func(c *Config) {
		c.LivenessInterval = 200 * time.Millisecond
		c.MaxBrowserRSS = 1 // every browser is past it at its first measure
		c.TabsPerBrowser = 1
	})
	old := upBrowser(t, app)
	url := origin.URL + "/slowdoc?ms=1500"
	r, err := app.Render(context.Background(), "desktop|"+url, url)
	if err != nil || r.Result.Status != 200 {
		t.Fatalf("the render in flight during the recycle failed: %v", err)
	}
	select {
	case <-old.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the browser past its memory limit was not closed")
	}
	if origin.Hits("/slowdoc") != 1 {
		t.Errorf("the document was fetched %d times: the render was not left to finish", origin.Hits("/slowdoc"))
	}
	if got := app.metrics.restarts[reasonMemory].Get(); got < 1 {
		t.Errorf("restarts for memory = %d, want at least 1", got)
	}
	for deadline := time.Now().Add(10 * time.Second); app.metrics.sumUsage(func(u *chromiumUsage) *atomic.Int64 { return &u.pss }) <= 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the chromium PSS gauge stays at 0")
		}
	}
}

func TestABrowserIsRecycledAtItsMaximumAge(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, func(c *Config) { c.MaxBrowserAge = time.Second })
	old := upBrowser(t, app)
	select {
	case <-old.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a browser past its maximum age was not closed")
	}
	if got := app.metrics.restarts[reasonAge].Get(); got < 1 {
		t.Errorf("restarts for age = %d, want at least 1", got)
	}
	waitReady(t, app)
	if r, err := app.Render(context.Background(), "desktop|"+origin.URL+"/", origin.URL+"/"); err != nil || r.Result.Status != 200 {
		t.Fatalf("render after the recycle: %v", err)
	}
}

// fullCapacity proves every tab works again: as many renders as tabs at once, all of
// them 200, each holding its document at the origin for 1.5 s so that they must
// overlap there.
func fullCapacity(t *testing.T, app *Appliance, origin *fixture.Origin, tag string) {
	t.Helper()
	tabs := app.cfg.Browsers * app.cfg.TabsPerBrowser
	var wg sync.WaitGroup
	errs := make(chan error, tabs)
	for i := range tabs {
		wg.Go(func() {
			url := fmt.Sprintf("%s/slowdoc?ms=1500&%s=%d", origin.URL, tag, i)
			r, err := app.Render(context.Background(), "desktop|"+url, url)
			if err == nil && r.Result.Status != 200 {
				err = fmt.Errorf("status %d", r.Result.Status)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("after the failure: %v", err)
		}
	}
	if got := origin.MaxInFlight("/slowdoc"); got != tabs {
		t.Errorf("%d renders ran at once after the failure, want every tab (%d)", got, tabs)
	}
}

// idleMost is the most Chromium processes idle browsers may run, given the count
// right after they started (one tab ready each): an idle browser keeps up to a
// reset tab per slot ready for reuse, each with a renderer process of its own.
func idleMost(app *Appliance, atStart int) int {
	return atStart + app.cfg.Browsers*(app.cfg.TabsPerBrowser-1)
}

// crashRenderers kills the renderer processes of every browser under dir, as a
// renderer bug would end them: Chromium reports Inspector.targetCrashed.
func crashRenderers(t *testing.T, dir string) {
	t.Helper()
	n := 0
	for _, pids := range treeUnder(dir).byRoot {
		for _, pid := range pids {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if strings.Contains(string(cmd), "--type=renderer") {
				syscall.Kill(pid, syscall.SIGKILL)
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no renderer process to crash")
	}
}

func TestARendererThatCrashesIsRetriedOnceThenAnswered504(t *testing.T) {
	tmp := isolatedTMPDIR(t)
	origin := fixture.New(t)
	app, _ := startApp(t, nil)
	time.Sleep(500 * time.Millisecond)
	before := treeUnder(tmp).total()
	url := origin.URL + "/crash" // waits for prerenderReady, which never comes
	done := make(chan error, 1)
	go func() {
		_, err := app.Render(context.Background(), "desktop|"+url, url)
		done <- err
	}()
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		waitHits(t, origin, "/crash", attempt)
		time.Sleep(100 * time.Millisecond) // the document is parsed
		crashRenderers(t, tmp)
	}
	select {
	case err := <-done:
		if !errors.Is(err, browser.ErrTabCrashed) {
			t.Fatalf("error = %v, want ErrTabCrashed after the retry crashed too", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no answer 30s after the second crash")
	}
	if got := app.metrics.rendersFailed.Get(); got != 1 {
		t.Errorf("renders failed = %d, want 1", got)
	}
	if got := app.metrics.restarts[reasonCrash].Get(); got != 0 {
		t.Errorf("%d browser restarts for a tab crash, want 0", got)
	}
	fullCapacity(t, app, origin, "crash")
	settled(t, tmp, 10*time.Second, "no process left by the crashed tabs", func(c chromiumTree) bool {
		return c.total() <= idleMost(app, before) && len(c.zombies) == 0
	})
}

func TestATabThatSpinsForeverIsRetriedOnceThenAnsweredHungAndFreesItsTab(t *testing.T) {
	tmp := isolatedTMPDIR(t)
	origin := fixture.New(t)
	// 3 s: the page has the timeout less a fifth to be done, and fullCapacity's
	// documents take 1.5 s to arrive; 2 s left them 0.1 s on a loaded machine.
	app, _ := startApp(t, func(c *Config) { c.Browser.PageTimeout = 3 * time.Second })
	before := treeUnder(tmp).total()
	for _, path := range []string{"/spin", "/busy"} {
		url := origin.URL + path
		r, err := app.Render(context.Background(), "desktop|"+url, url)
		if !errors.Is(err, browser.ErrTabHung) {
			t.Fatalf("%s: result %+v, error %v; want ErrTabHung", path, r, err)
		}
		if got := origin.Hits(path); got != 2 {
			t.Errorf("%s reached the origin %d times, want 2 (one retry)", path, got)
		}
	}
	fullCapacity(t, app, origin, "spin")
	settled(t, tmp, 10*time.Second, "no process left by the spinning tabs", func(c chromiumTree) bool {
		return c.total() <= idleMost(app, before) && len(c.zombies) == 0
	})
}
