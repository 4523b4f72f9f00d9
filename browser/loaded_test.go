package browser

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

// loadMachine keeps every core busy with a shell loop per core for the rest of
// the test, so that renderers are starved of CPU the way a loaded machine
// starves them.
func loadMachine(t *testing.T) {
	t.Helper()
	for range runtime.NumCPU() {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("cannot start a CPU burner: %v", err)
		}
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		})
	}
}

// TestEveryFixturePageRendersCompleteAtFourConcurrentOnALoadedMachine is the
// condition of a short default idle window (DESIGN §4): with the default
// options, four renders at once and every core busy with other work, each page
// whose content JavaScript builds late (after a delayed API, a chained fetch,
// a timer after the last request, a CPU-bound gap between two requests) is
// snapshotted with that content, never before it.
func TestEveryFixturePageRendersCompleteAtFourConcurrentOnALoadedMachine(t *testing.T) {
	o := fixture.New(t)
	opts := testOptions(shared.path)
	opts.Tabs = 4
	opts.IdleWindow = 0 // the default under test
	opts.PageTimeout = 0
	b, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if b.opts.IdleWindow != defaultIdleWindow {
		t.Fatalf("IdleWindow = %s, want the default %s", b.opts.IdleWindow, defaultIdleWindow)
	}

	pages := []struct {
		path   string
		want   []string
		unwant []string
	}{
		{"/", []string{"Fixture home"}, nil},
		{"/product", []string{`<h1 id="name">Espresso Machine 42</h1>`, "<title>Espresso Machine 42</title>"}, nil},
		{"/product?id=7", []string{`<h1 id="name">Espresso Machine 42</h1>`}, nil}, // the page asks for 42 whatever its query
		{"/chain", []string{"chain complete", "<li>Loud but fast</li>"}, nil},
		{"/hydrate", []string{`<p id="hydrated">hydrated</p>`, "<li>Great coffee</li>"}, nil},
		{"/jsonld", []string{"made by inline script", "made by external script", "made by module script"}, nil},
		{"/notfound-js", []string{"Product not found", `<meta name="prerender-status-code" content="404">`}, nil},
		{"/gzip", []string{"served with Content-Encoding gzip"}, nil},
		{"/ready", []string{`<h1 id="name">Espresso Machine 7</h1>`}, []string{"after ready"}},
		{"/ready-var", []string{"ready by var"}, nil},
		{"/alert", []string{"after the dialogs: true"}, nil},
		{"/concurrent", []string{"slow done"}, nil},
		{"/tracked", []string{"<title>Tracked</title>"}, nil},
	}
	const rounds = 2
	loadMachine(t)

	work := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range work {
				p := pages[i%len(pages)]
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				res, err := b.Render(ctx, Request{URL: o.URL + p.path})
				cancel()
				if err != nil {
					t.Errorf("%s: %v", p.path, err)
					continue
				}
				if res.Incomplete {
					t.Errorf("%s: incomplete after %s", p.path, res.Duration)
				}
				for _, w := range p.want {
					if !strings.Contains(string(res.HTML), w) {
						t.Errorf("%s: snapshotted after %s without %q; HTML:\n%.1500s", p.path, res.Duration, w, res.HTML)
					}
				}
				for _, u := range p.unwant {
					if strings.Contains(string(res.HTML), u) {
						t.Errorf("%s: snapshotted after %s with %q: too late", p.path, res.Duration, u)
					}
				}
			}
		})
	}
	for i := range rounds * len(pages) {
		work <- i
	}
	close(work)
	wg.Wait()
}
