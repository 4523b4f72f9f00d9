package browser

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"

	"prerenderd/browser/fixture"
)

func TestVersionAnswersWithTheProduct(t *testing.T) {
	t.Parallel()
	v, err := shared.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v, "Chrome/") {
		t.Errorf("Version = %q, want a Chrome product string", v)
	}
	if shared.PID() <= 0 {
		t.Errorf("PID = %d", shared.PID())
	}
}

// The tests that start a browser of their own are not parallel: a Chromium
// starting steals the CPU that the timing rules of the parallel renders need.

func TestCloseLeavesNoProcessAndNoDirectory(t *testing.T) {
	b := startOwn(t, 2)
	o := fixture.New(t)
	contains(t, render(t, b, o, "/product"), "Espresso Machine 42")
	tree := processesUsing(b.root, 0)
	if !hasProcessOfType(tree, "renderer") || !hasProcessOfType(tree, "zygote") {
		t.Fatalf("processes of the browser %v lack a renderer or a zygote: the memory figures and the check below would miss them", tree)
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if pids := processesUsing(b.root, 0); len(pids) != 0 {
		t.Errorf("processes %v still use %s after Close", pids, b.root)
	}
	if _, err := os.Stat(b.root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("user data dir %s is still there: %v", b.root, err)
	}
	select {
	case <-b.Done():
	default:
		t.Error("Done is not closed after Close")
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := b.Render(context.Background(), Request{URL: o.URL + "/"}); !errors.Is(err, ErrBrowserClosed) {
		t.Errorf("Render after Close = %v, want ErrBrowserClosed", err)
	}
	if _, err := b.Version(context.Background()); !errors.Is(err, ErrBrowserClosed) {
		t.Errorf("Version after Close = %v, want ErrBrowserClosed", err)
	}
}

// hasProcessOfType reports whether one of pids is a Chromium process of the
// given --type.
func hasProcessOfType(pids []int, typ string) bool {
	for _, pid := range pids {
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.Contains(string(cmd), "--type="+typ) {
			return true
		}
	}
	return false
}

// TestAFullChromiumRendersToo: prerenderd prefers the headless shell, and
// renders with a full Chromium where only that is installed; its processes
// carry the profile flag, the headless shell's the process group.
func TestAFullChromiumRendersToo(t *testing.T) {
	var full string
	for _, name := range chromiumNames {
		if strings.Contains(name, "headless") {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			full = p
			break
		}
	}
	if full == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set and no full Chromium is installed: make testdeps installs Debian's chromium")
		}
		t.Skip("no full Chromium on PATH (chromium, google-chrome): the fallback is not tested; make testdeps installs it")
	}
	opts := testOptions(full)
	opts.Tabs = 1
	b, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	o := fixture.New(t)
	contains(t, render(t, b, o, "/product"), "Espresso Machine 42")
	if tree := processesUsing(b.root, 0); !hasProcessOfType(tree, "renderer") {
		t.Errorf("processes of the full Chromium %v lack a renderer", tree)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if pids := processesUsing(b.root, 0); len(pids) != 0 {
		t.Errorf("processes %v of the full Chromium outlived Close", pids)
	}
}

func TestCloseEndsRunningRendersWithErrBrowserClosed(t *testing.T) {
	b := startOwn(t, 1)
	o := fixture.New(t)
	errc := make(chan error, 1)
	go func() {
		_, err := b.Render(context.Background(), Request{URL: o.URL + "/timeout"})
		errc <- err
	}()
	for o.Hits("/api/tick") == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	begin := time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrBrowserClosed) {
		t.Errorf("error = %v, want ErrBrowserClosed", err)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("Close took %s", took)
	}
}

func TestKilledChromiumFailsRendersFastAndClosesDone(t *testing.T) {
	b := startOwn(t, 1)
	o := fixture.New(t)
	errc := make(chan error, 1)
	go func() {
		_, err := b.Render(context.Background(), Request{URL: o.URL + "/timeout"})
		errc <- err
	}()
	for o.Hits("/api/tick") == 0 {
		time.Sleep(10 * time.Millisecond)
	}

	tree := processesUsing(b.root, 0)
	starts := map[int]string{}
	for _, pid := range tree {
		starts[pid] = processStart(pid)
	}
	killed := time.Now()
	if err := syscall.Kill(b.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrBrowserClosed) {
			t.Errorf("error = %v, want ErrBrowserClosed", err)
		}
		if took := time.Since(killed); took > time.Second {
			t.Errorf("the render failed %s after the kill", took)
		}
	case <-time.After(sharedTimeout):
		t.Fatal("Render did not return after Chromium was killed")
	}
	select {
	case <-b.Done():
	case <-time.After(2 * time.Second):
		t.Error("Done is not closed after the kill")
	}
	if _, err := b.Render(context.Background(), Request{URL: o.URL + "/"}); !errors.Is(err, ErrBrowserClosed) {
		t.Errorf("Render on a killed browser = %v, want ErrBrowserClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if pids := processesUsing(b.root, 0); len(pids) != 0 {
		t.Errorf("processes %v outlived the kill and Close", pids)
	}
	// Whatever finds them, none of the processes the browser had may run on:
	// its zygotes and renderers were reparented when it died.
	for pid, start := range starts {
		if processAlive(pid) && processStart(pid) == start {
			t.Errorf("process %d of the killed browser (of %v) still runs after Close", pid, tree)
		}
	}
	if _, err := os.Stat(b.root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("user data dir %s is still there: %v", b.root, err)
	}
}

func TestStartFailsClearlyWithoutChromium(t *testing.T) {
	t.Parallel()
	_, err := Start(context.Background(), Options{Path: "/nonexistent/chromium"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/chromium") {
		t.Errorf("Start = %v, want an error naming the path", err)
	}
}

// pages counts the page targets of b: the tabs it has open.
func pages(t *testing.T, b *Browser) int {
	t.Helper()
	res, err := cdp.Call(context.Background(), b.cdp, target.GetTargets, target.GetTargetsParams{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, info := range res.TargetInfos {
		if info.Type == "page" {
			n++
		}
	}
	return n
}

func TestNoTabIsOpenedAheadWhileEverySlotRenders(t *testing.T) {
	b := startOwn(t, 1)
	o := fixture.New(t)
	// Start closes the blank page Chromium starts with; Chromium takes a
	// moment to destroy it. Then the spare tab is the only one.
	idle := pages(t, b)
	for deadline := time.Now().Add(5 * time.Second); idle != 1 && time.Now().Before(deadline); idle = pages(t, b) {
		time.Sleep(10 * time.Millisecond)
	}
	if idle != 1 {
		t.Fatalf("%d tabs open after start, want 1: the spare", idle)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.Render(context.Background(), Request{URL: o.URL + "/slowdoc?ms=1500"})
		done <- err
	}()
	for o.Hits("/slowdoc") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // time enough to open a tab, were it allowed
	// The spare became the rendering tab; no new one was opened.
	if n := pages(t, b); n != idle {
		t.Errorf("%d tabs open while the only slot renders, %d before it: the next one must wait for a free slot", n, idle)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Once the slot is free the next tab is opened ahead again.
	select {
	case tab := <-b.ready:
		b.closeTab(tab)
	case <-time.After(10 * time.Second):
		t.Fatal("no spare tab after the render ended")
	}
}
