package browser

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"prerenderd/browser/fixture"
)

func render(t *testing.T, b *Browser, o *fixture.Origin, path string) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := b.Render(ctx, Request{URL: o.URL + path})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func contains(t *testing.T, res *Result, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(string(res.HTML), w) {
			t.Errorf("HTML lacks %q; HTML starts with:\n%.2000s", w, res.HTML)
		}
	}
}

func lacks(t *testing.T, res *Result, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(string(res.HTML), u) {
			t.Errorf("HTML has %q", u)
		}
	}
}

func status(t *testing.T, res *Result, want int) {
	t.Helper()
	if res.Status != want {
		t.Errorf("Status = %d, want %d", res.Status, want)
	}
}

func complete(t *testing.T, res *Result) {
	t.Helper()
	if res.Incomplete {
		t.Errorf("Incomplete = true after %s, want a page done before the timeout", res.Duration)
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		check func(t *testing.T, o *fixture.Origin, res *Result)
	}{
		{
			name: "a plain page is rendered with status 200 and its own URL",
			path: "/",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 200)
				complete(t, res)
				contains(t, res, "<!DOCTYPE html><html", "Fixture home")
				if res.FinalURL != o.URL+"/" {
					t.Errorf("FinalURL = %q, want %q", res.FinalURL, o.URL+"/")
				}
			},
		},
		{
			name: "a product page built from a delayed JSON API is rendered with its content",
			path: "/product",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 200)
				complete(t, res)
				contains(t, res, `<h1 id="name">Espresso Machine 42</h1>`, "$249.00", "<title>Espresso Machine 42</title>")
				lacks(t, res, "<script", "Loading…")
			},
		},
		{
			name: "a second fetch chained on the first and a timer after it are waited for",
			path: "/chain",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				complete(t, res)
				contains(t, res, "chain complete", "<li>Loud but fast</li>")
			},
		},
		{
			name: "scripts are removed and JSON-LD is kept, after they built the content",
			path: "/jsonld",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				contains(t, res, `<script type="application/ld+json">`, `"name":"Grinder"`,
					"made by inline script", "made by external script", "made by module script")
				if n := strings.Count(string(res.HTML), "<script"); n != 1 {
					t.Errorf("HTML has %d <script> tags, want only the JSON-LD one", n)
				}
			},
		},
		{
			name: "prerenderReady set to true finishes the page while a long poll is still open",
			path: "/ready",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				complete(t, res)
				contains(t, res, `<h1 id="name">Espresso Machine 7</h1>`)
				// The page writes a marker 1 s (of its own time) after it is
				// ready; the long poll only stops counting after 2 s. Without the
				// marker, prerenderReady ended the render, however loaded the
				// machine is.
				lacks(t, res, "after ready")
			},
		},
		{
			name: "a top-level var prerenderReady ends the render at true, before later changes",
			path: "/ready-var",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				complete(t, res)
				contains(t, res, "ready by var")
				lacks(t, res, "too late")
			},
		},
		{
			name: "a static prerender-status-code meta tag sets the status",
			path: "/notfound-static",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 404)
				contains(t, res, "No such product")
			},
		},
		{
			name: "a prerender-status-code meta tag added by JavaScript sets the status",
			path: "/notfound-js",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 404)
				contains(t, res, "Product not found")
			},
		},
		{
			name: "a 301 from the server is answered as the redirect, not rendered",
			path: "/redirect",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 301)
				if got, want := res.Header.Get("Location"), o.URL+"/product"; got != want {
					t.Errorf("Location = %q, want %q", got, want)
				}
				if len(res.HTML) != 0 {
					t.Errorf("HTML = %.200q, want none for a redirect", res.HTML)
				}
				if o.Hits("/api/product") != 0 {
					t.Error("the redirect target was rendered: its API was called")
				}
			},
		},
		{
			name: "a 302 from the server keeps its status and the query of its target",
			path: "/redirect-found",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 302)
				if got, want := res.Header.Get("Location"), o.URL+"/product?from=found"; got != want {
					t.Errorf("Location = %q, want %q", got, want)
				}
			},
		},
		{
			name: "prerender-header meta tags give a 301 its Location",
			path: "/moved-meta",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 301)
				if got := res.Header.Get("Location"); got != "https://shop.example/new-place" {
					t.Errorf("Location = %q", got)
				}
				if got := res.Header.Get("X-Fixture"); got != "moved" {
					t.Errorf("X-Fixture = %q", got)
				}
			},
		},
		{
			name: "a page that never goes idle finishes once its long poll is older than 2 s",
			path: "/never-idle",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				// Complete: it finished before the page timeout, so the long
				// poll stopped counting; not before 2 s: it counted until then.
				complete(t, res)
				contains(t, res, "Long poll open")
				if res.Duration < longRequest {
					t.Errorf("Duration = %s, want at least %s", res.Duration, longRequest)
				}
			},
		},
		{
			name: "a request that starts and ends while the page settles leads to a new settle, not the timeout",
			path: "/timer-fetch",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				complete(t, res)
				contains(t, res, "timer done")
			},
		},
		{
			name: "a page that re-arms a short timer forever is done once the settle stops waiting for it",
			path: "/timer-loop",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				complete(t, res)
				contains(t, res, "animated by a timer")
				lacks(t, res, `<p id="frames">0</p>`)
			},
		},
		{
			name: "a page that keeps the network busy is snapshotted at the page timeout",
			path: "/timeout",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				if !res.Incomplete {
					t.Error("Incomplete = false, want true")
				}
				status(t, res, 200)
				lacks(t, res, `<p id="ticks">0</p>`)
				// The page waits until the page timeout less the time kept for
				// its serialization, and the whole render ends by the timeout.
				if low := sharedTimeout - serializeReserve(sharedTimeout); res.Duration < low || res.Duration > sharedTimeout {
					t.Errorf("Duration = %s, want between %s and the page timeout %s", res.Duration, low, sharedTimeout)
				}
			},
		},
		{
			name: "images are never requested from the origin",
			path: "/image",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				contains(t, res, "images page", `src="/img/photo.png"`)
				for _, p := range []string{"/img/photo.png", "/img/noext", "/img/bg.jpg", "/img/script.gif"} {
					if n := o.Hits(p); n != 0 {
						t.Errorf("%s was requested %d times", p, n)
					}
				}
				if o.Hits("/static/style.css") == 0 {
					t.Error("the stylesheet was not requested: is the network working at all?")
				}
			},
		},
		{
			name: "URLs matching BlockURLs are never requested",
			path: "/tracked",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				complete(t, res)
				contains(t, res, "<title>Tracked</title>")
				if n := o.Hits("/tracker/pixel.js"); n != 0 {
					t.Errorf("the blocked script was requested %d times", n)
				}
			},
		},
		{
			name: "a page with 5 MB of DOM is serialized whole",
			path: "/huge",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				complete(t, res)
				if len(res.HTML) < 5_000_000 {
					t.Errorf("HTML is %d bytes, want over 5 MB", len(res.HTML))
				}
				contains(t, res, `id="r27999"`, "huge done")
			},
		},
		{
			name: "a gzip-encoded page is decoded and rendered",
			path: "/gzip",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 200)
				contains(t, res, "served with Content-Encoding gzip")
			},
		},
		{
			name: "an error status with an empty body is answered with that status",
			path: "/empty404",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 404)
			},
		},
		{
			name: "a server error page is rendered with its status",
			path: "/flaky",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				status(t, res, 500)
				contains(t, res, "try again")
			},
		},
		{
			name: "JavaScript dialogs are accepted so the page goes on",
			path: "/alert",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				complete(t, res)
				contains(t, res, "after the dialogs: true")
			},
		},
		{
			name: "the default user agent says Chrome, not HeadlessChrome, and ends with the Prerender suffix",
			path: "/ua",
			check: func(t *testing.T, o *fixture.Origin, res *Result) {
				ua := o.Header("/ua").Get("User-Agent")
				if strings.Contains(ua, "Headless") || !strings.Contains(ua, "Chrome/") || !strings.HasSuffix(ua, UserAgentSuffix) || !strings.Contains(ua, "Prerender") {
					t.Errorf("User-Agent = %q", ua)
				}
				contains(t, res, ua)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := fixture.New(t)
			tt.check(t, o, render(t, shared, o, tt.path))
		})
	}
}

func TestThePageRequestCarriesXPrerenderAndNoOtherOriginNeedsAPreflight(t *testing.T) {
	t.Parallel()
	site, api := fixture.New(t), fixture.New(t)
	res := render(t, shared, site, "/crossorigin?api="+url.QueryEscape(api.URL))
	complete(t, res)
	contains(t, res, "same: Espresso Machine 3")
	contains(t, res, "cross: open data")
	if got := site.Header("/crossorigin").Get(PrerenderHeader); got != "1" {
		t.Errorf("the page's request: %s = %q, want 1", PrerenderHeader, got)
	}
	if ua := site.Header("/api/product").Get("User-Agent"); !strings.HasSuffix(ua, UserAgentSuffix) {
		t.Errorf("the page's own request is not told by its User-Agent %q", ua)
	}
	if got := api.Header("/api/cors").Get(PrerenderHeader); got != "" {
		t.Errorf("the other origin got %s = %q", PrerenderHeader, got)
	}
	if n := api.Hits("/api/cors"); n != 1 {
		t.Errorf("the other origin got %d requests, want 1 (no CORS preflight)", n)
	}
	// The next render of the tab is intercepted afresh, on its own origin.
	other := fixture.New(t)
	complete(t, render(t, shared, other, "/ua"))
	if got := other.Header("/ua").Get(PrerenderHeader); got != "1" {
		t.Errorf("the next page's request: %s = %q, want 1", PrerenderHeader, got)
	}
}

func TestRenderSendsTheCallersUserAgent(t *testing.T) {
	t.Parallel()
	o := fixture.New(t)
	const ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) prerenderd"
	res, err := shared.Render(context.Background(), Request{URL: o.URL + "/ua", UserAgent: ua})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Header("/ua").Get("User-Agent"); got != ua {
		t.Errorf("User-Agent = %q, want %q", got, ua)
	}
	contains(t, res, "Googlebot/2.1")
}

func TestRenderErrors(t *testing.T) {
	refused := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/"
	}
	tests := []struct {
		name    string
		url     func(t *testing.T, o *fixture.Origin) string
		timeout time.Duration
		want    []error
		text    string
		within  time.Duration
	}{
		{
			name: "a refused connection is a navigation error with Chromium's text",
			url:  func(t *testing.T, _ *fixture.Origin) string { return refused(t) },
			want: []error{ErrNavigation},
			text: "net::ERR_CONNECTION_REFUSED",
		},
		{
			name: "a host that does not resolve is a navigation error",
			url:  func(*testing.T, *fixture.Origin) string { return "http://prerenderd-fixture.invalid/" },
			want: []error{ErrNavigation},
			text: "net::ERR_NAME_NOT_RESOLVED",
		},
		{
			name:   "a document that never answers is a navigation error at the page timeout",
			url:    func(_ *testing.T, o *fixture.Origin) string { return o.URL + "/slowdoc?ms=60000" },
			want:   []error{ErrNavigation, context.DeadlineExceeded},
			within: sharedTimeout + 2*time.Second,
		},
		{
			name:   "a page whose script loops forever after it is idle is a hung tab, not half a page",
			url:    func(_ *testing.T, o *fixture.Origin) string { return o.URL + "/busy" },
			want:   []error{ErrTabHung},
			within: settleTimeout + snapshotTimeout + 3*time.Second,
		},
		{
			name:   "a page whose script loops forever from its first parse is a hung tab at the page timeout",
			url:    func(_ *testing.T, o *fixture.Origin) string { return o.URL + "/spin" },
			want:   []error{ErrTabHung},
			within: sharedTimeout + snapshotTimeout + 3*time.Second,
		},
		{
			name:    "the caller's deadline ends the render with the caller's error",
			url:     func(_ *testing.T, o *fixture.Origin) string { return o.URL + "/timeout" },
			timeout: 700 * time.Millisecond,
			want:    []error{context.DeadlineExceeded},
			within:  2 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := fixture.New(t)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			begin := time.Now()
			res, err := shared.Render(ctx, Request{URL: tt.url(t, o)})
			took := time.Since(begin)
			if err == nil {
				t.Fatalf("Render = status %d, %d bytes; want an error", res.Status, len(res.HTML))
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q is not %q", err, w)
				}
			}
			if errors.Is(err, ErrBrowserClosed) || errors.Is(err, ErrTabCrashed) {
				t.Errorf("error %q blames the browser", err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not say %q", err, tt.text)
			}
			if tt.within > 0 && took > tt.within {
				t.Errorf("Render took %s, want at most %s", took, tt.within)
			}
		})
	}
}

func TestRenderReportsACrashedTabPromptly(t *testing.T) {
	t.Parallel()
	o := fixture.New(t)
	url := o.URL + "/crash"
	errc := make(chan error, 1)
	go func() {
		_, err := shared.Render(context.Background(), Request{URL: url})
		errc <- err
	}()
	id := waitForTarget(t, url)
	crashed := time.Now()
	crashTab(t, id)
	select {
	case err := <-errc:
		if !errors.Is(err, ErrTabCrashed) {
			t.Fatalf("error = %v, want ErrTabCrashed", err)
		}
		if took := time.Since(crashed); took > time.Second {
			t.Errorf("the crash was reported after %s", took)
		}
	case <-time.After(sharedTimeout):
		t.Fatal("Render did not return after the crash")
	}
	// The browser is still fine.
	contains(t, render(t, shared, o, "/"), "Fixture home")
}

// waitForTarget returns the id of the page target showing url, once its
// document has loaded.
func waitForTarget(t *testing.T, url string) target.ID {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		res, err := cdp.Call(context.Background(), shared.cdp, target.GetTargets, target.GetTargetsParams{})
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range res.TargetInfos {
			if info.Type == "page" && info.URL == url && info.Title == "Crash" {
				return info.TargetID
			}
		}
	}
	t.Fatalf("no tab shows %s", url)
	return ""
}

// crashTab crashes the renderer of a tab from a second CDP session, the way
// a renderer bug would: the render has no part in it.
func crashTab(t *testing.T, id target.ID) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithTargetID(id), chromedp.WithDetachOnCancel())
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer ccancel()
	// Page.crash never answers: the renderer is gone before it could.
	_, _ = cdp.Call(cctx, chromedp.FromContext(ctx).Target, page.Crash, cdp.Empty{})
}

// readyTab waits until b has exactly one tab ready and none being reset, and
// returns its target id: the tab the next render takes.
func readyTab(t *testing.T, b *Browser) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(b.ready) != 1 || b.resetting.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d tabs ready, %d being reset after 10 s; want 1 and 0", len(b.ready), b.resetting.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	tab := <-b.ready
	b.ready <- tab
	return string(tab.target.TargetID)
}

// TestARenderWaitsForTheTabBeingResetRatherThanOpenAnother asks for a render
// the moment the one before returns, while its tab is being reset: the second
// render takes that tab once reset. Opening another instead left both open
// (the reset one ready, the new one rendering), twice the renderer processes
// at full load.
func TestARenderWaitsForTheTabBeingResetRatherThanOpenAnother(t *testing.T) {
	b := startOwn(t, 1)
	o := fixture.New(t)
	first := readyTab(t, b)
	complete(t, render(t, b, o, "/"))
	if b.resetting.Load() != 1 {
		t.Fatalf("%d tabs being reset right after the render, want 1", b.resetting.Load())
	}
	complete(t, render(t, b, o, "/product"))
	if id := readyTab(t, b); id != first {
		t.Fatalf("tab %s is ready, want %s, the one reset", id, first)
	}
	tab := <-b.ready
	b.ready <- tab
	if tab.renders != 2 {
		t.Errorf("the ready tab served %d renders, want both", tab.renders)
	}
	if n := pages(t, b); n != 1 {
		t.Errorf("%d tabs open, want 1", n)
	}
}

// TestRenderKeepsNoStateBetweenRenders renders a page that reads, then writes,
// every kind of storage a page can write, three times on one tab: the tab is
// reused (it is cheaper than a fresh browser context, see resetTab), and no
// render may find what the one before left.
func TestRenderKeepsNoStateBetweenRenders(t *testing.T) {
	b := startOwn(t, 1)
	o := fixture.New(t)
	var first string
	for i := range 3 {
		id := readyTab(t, b)
		if i == 0 {
			first = id
		} else if id != first {
			t.Fatalf("render %d takes tab %s, want the reused tab %s", i, id, first)
		}
		res := render(t, b, o, "/isolation")
		if t.Failed() {
			return
		}
		complete(t, res)
		// Each render leaves all of these behind; the next must find none.
		contains(t, res, "left=idb cache sw cookie storage session")
		contains(t, res, "cookie=none", "storage=none", "session=none", "idb=none", "cache=none", "sw=none")
		if c := o.Header("/isolation").Get("Cookie"); c != "" {
			t.Errorf("render %d sent Cookie %q", i, c)
		}
	}
}

// TestRenderWithAThirdPartyFrameKeepsNoStateEither: a frame from another
// origin stores into a partition of its own, which clearing the page's origins
// does not reach, so such a tab is closed rather than reused; the frame finds
// nothing either way.
func TestRenderWithAThirdPartyFrameKeepsNoStateEither(t *testing.T) {
	b := startOwn(t, 1)
	o := fixture.New(t)
	var ids []string
	for i := range 3 {
		ids = append(ids, readyTab(t, b))
		res := render(t, b, o, "/isolation-framed")
		if t.Failed() {
			return
		}
		complete(t, res)
		contains(t, res, "frame-left=idb cache sw cookie storage session")
		contains(t, res, "frame-cookie=none", "frame-storage=none", "frame-session=none", "frame-idb=none",
			"frame-cache=none", "frame-sw=none")
		if i > 0 && ids[i] == ids[i-1] {
			t.Errorf("render %d reused the tab of a page with a third-party frame", i)
		}
	}
}

// TestRenderOfAPageThatOpensAPopupKeepsNoState: the popup lives in the tab's
// browser context, so the tab is closed (and its context with the popup)
// rather than reused.
func TestRenderOfAPageThatOpensAPopupKeepsNoState(t *testing.T) {
	b := startOwn(t, 1)
	o := fixture.New(t)
	first := readyTab(t, b)
	complete(t, render(t, b, o, "/popup"))
	for deadline := time.Now().Add(5 * time.Second); o.Hits("/isolation") == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the popup never loaded")
		}
	}
	if readyTab(t, b) == first {
		t.Error("the tab whose page opened a popup was reused")
	}
	res := render(t, b, o, "/isolation")
	contains(t, res, "cookie=none", "storage=none", "session=none", "idb=none", "cache=none", "sw=none")
}

// TestRenderRunsUpToTabsAtOnce is not parallel: it needs both tabs of the
// shared browser to itself.
func TestRenderRunsUpToTabsAtOnce(t *testing.T) {
	o := fixture.New(t)
	const renders = 4
	var wg sync.WaitGroup
	errs := make(chan error, renders)
	begin := time.Now()
	for range renders {
		wg.Go(func() {
			res, err := shared.Render(context.Background(), Request{URL: o.URL + "/concurrent"})
			if err == nil && !strings.Contains(string(res.HTML), "slow done") {
				err = errors.New("page rendered before its slow request ended")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := o.MaxInFlight("/api/slow"); got != shared.opts.Tabs {
		t.Errorf("%d renders overlapped, want Tabs = %d", got, shared.opts.Tabs)
	}
	// Two rounds of a 500 ms request at least.
	if took := time.Since(begin); took < time.Second {
		t.Errorf("%d renders on %d tabs took %s, want two rounds", renders, shared.opts.Tabs, took)
	}
}

func TestRenderWaitsForATabOrTheCallersContext(t *testing.T) {
	b := startOwn(t, 1)
	o := fixture.New(t)
	errc := make(chan error, 1)
	go func() {
		_, err := b.Render(context.Background(), Request{URL: o.URL + "/concurrent"})
		errc <- err
	}()
	for o.Hits("/concurrent") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.Render(ctx, Request{URL: o.URL + "/"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want the caller's deadline while the only tab is busy", err)
	}
	if o.Hits("/") != 0 {
		t.Error("the waiting render reached the origin")
	}
	if err := <-errc; err != nil {
		t.Error(err)
	}
}

// BenchmarkRenderPlainPage measures a render end to end; the idle window
// (500 ms) is most of it, the rest is the cost of a tab.
func BenchmarkRenderPlainPage(b *testing.B) {
	o := fixture.New(b)
	for b.Loop() {
		if _, err := shared.Render(context.Background(), Request{URL: o.URL + "/"}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTheBuiltInTrackersAreBlockedBeforeAnyNetworkAccess(t *testing.T) {
	t.Parallel()
	o := fixture.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tab, err := shared.openTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.closeTab(tab)
	var mu sync.Mutex
	urls := map[network.RequestID]string{}
	failed := map[string]network.BlockedReason{}
	if err := chromedp.Listen(tab.ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			urls[ev.RequestID] = ev.Request.URL
		case *network.EventLoadingFailed:
			failed[urls[ev.RequestID]] = ev.BlockedReason
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cdp.Call(ctx, tab.target, page.Navigate, page.NavigateParams{URL: o.URL + "/trackers"}); err != nil {
		t.Fatal(err)
	}
	// Blocked by Network.setBlockedURLs ("inspector"), not failed at DNS: the
	// test machine has no network, so only the reason tells the two apart.
	want := []string{
		"https://www.googletagmanager.com/gtag/js?id=G-TEST",
		"https://www.google-analytics.com/analytics.js",
		"https://connect.facebook.net/en_US/fbevents.js",
		"https://static.hotjar.com/c/hotjar-1.js?sv=6",
		"https://cdn.segment.com/analytics.js/v1/KEY/analytics.min.js",
		"https://securepubads.g.doubleclick.net/tag/js/gpt.js",
		"https://www.facebook.com/tr?id=1&ev=PageView",
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := 0
		for _, u := range want {
			if _, ok := failed[u]; ok {
				n++
			}
		}
		mu.Unlock()
		if n == len(want) || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range want {
		if r, ok := failed[u]; !ok {
			t.Errorf("%s: no failed load seen", u)
		} else if r != network.BlockedReasonInspector {
			t.Errorf("%s: failed with blocked reason %q, want %q", u, r, network.BlockedReasonInspector)
		}
	}
}
