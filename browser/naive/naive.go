// Package naive is the baseline prerenderd's benchmarks compare the browser
// package with: a chromedp renderer written the way a first prerender server
// is (the npm prerender server's rule). Each render opens a new tab in the
// default browser context and closes it on the request path; a page is done
// when its load event has fired and a check every 500 ms finds no request in
// flight for 500 ms.
//
// It exists for benchmarks only (browser's BenchmarkVersusNaive, the
// appliance benchmarks of internal/appliancebench through Handler): prerenderd
// never uses it. It must never be tuned: its figures are the "before".
package naive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// pageTimeout bounds a render; past it the page is serialized as it is, as
// the npm server does (it waits 20 s; prerenderd's default is 15 s).
const pageTimeout = 15 * time.Second

// Renderer is one Chromium started with chromedp's default flags.
type Renderer struct {
	root   string
	ctx    context.Context
	cancel context.CancelFunc
}

// Start starts Chromium at path with its profile and TMPDIR in a directory of
// their own (Root), removed by Close.
func Start(path string) (*Renderer, error) {
	root, err := os.MkdirTemp("", "prerenderd-naive-")
	if err != nil {
		return nil, fmt.Errorf("cannot start the naive renderer: %w", err)
	}
	if err := os.Mkdir(filepath.Join(root, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("cannot start the naive renderer: %w", errors.Join(err, os.RemoveAll(root)))
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(filepath.Join(root, "profile")),
		chromedp.Env("TMPDIR="+filepath.Join(root, "tmp")),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-features", "WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup,PreloadTopChromeWebUI,Translate"),
		chromedp.Flag("blink-settings", "imagesEnabled=false"),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	r := &Renderer{root: root, ctx: ctx, cancel: func() { cancel(); cancelAlloc() }}
	if err := chromedp.Do(ctx); err != nil {
		return nil, fmt.Errorf("cannot start chromium %q: %w", path, errors.Join(err, r.Close()))
	}
	return r, nil
}

// Root is the directory that holds the profile and TMPDIR of its Chromium:
// every process of its tree names it.
func (r *Renderer) Root() string { return r.root }

// Close stops Chromium and removes Root.
func (r *Renderer) Close() error {
	r.cancel()
	return os.RemoveAll(r.root)
}

// Render returns the serialized DOM of url.
func (r *Renderer) Render(ctx context.Context, url string) (string, error) {
	tctx, cancel := chromedp.NewContext(r.ctx)
	defer cancel() // closes the tab, on the request path
	var (
		mu       sync.Mutex
		inflight = map[network.RequestID]bool{}
		last     = time.Now()
		loaded   bool
	)
	if err := chromedp.Do(tctx); err != nil {
		return "", err
	}
	if err := chromedp.Listen(tctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			inflight[ev.RequestID] = true
			last = time.Now()
		case *network.EventLoadingFinished:
			delete(inflight, ev.RequestID)
			last = time.Now()
		case *network.EventLoadingFailed:
			delete(inflight, ev.RequestID)
			last = time.Now()
		case *page.EventLoadEventFired:
			loaded = true
		}
	}); err != nil {
		return "", err
	}
	t := chromedp.FromContext(tctx).Target
	if _, err := cdp.Call(tctx, t, page.Navigate, page.NavigateParams{URL: url}); err != nil {
		return "", err
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(pageTimeout) // then snapshot anyway, as npm prerender does
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-timeout:
			done = true
			continue
		case <-tick.C:
		}
		mu.Lock()
		done = loaded && len(inflight) == 0 && time.Since(last) >= 500*time.Millisecond
		mu.Unlock()
	}
	res, err := cdp.Call(tctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: "document.documentElement.outerHTML", ReturnByValue: new(true)})
	if err != nil {
		return "", err
	}
	if res.ExceptionDetails != nil {
		return "", fmt.Errorf("cannot serialize %s: %s", url, res.ExceptionDetails.Text)
	}
	var html string
	if res.Result == nil {
		return "", fmt.Errorf("cannot serialize %s: no result", url)
	}
	if err := json.Unmarshal([]byte(res.Result.Value), &html); err != nil {
		return "", fmt.Errorf("cannot serialize %s: %w", url, err)
	}
	return html, nil
}

// Handler answers GET /<url> with the render of url, as the npm server does:
// the benchmarks drive it over HTTP like the appliance.
func (r *Renderer) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		target := req.RequestURI[1:]
		html, err := r.Render(req.Context(), target)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, html)
	})
}
