package browser

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// markRequests makes every request of the render to the origin of pageURL carry
// PrerenderHeader: those requests are paused (Fetch domain, matched by the
// origin's URL pattern, so no other request waits) and continued with the
// header added. Network.setExtraHTTPHeaders would add it to every request, and
// a cross-origin one would then need a CORS preflight (see PrerenderHeader).
// The returned stop ends it before the tab serves another page; wg owns the
// goroutine that continues the paused requests.
func (b *Browser) markRequests(opCtx context.Context, wg *sync.WaitGroup, t *tab, pageURL string) (stop func(), err error) {
	pattern, ok := originPattern(pageURL)
	if !ok {
		return func() {}, nil
	}
	var (
		mu     sync.Mutex
		paused []*fetch.EventRequestPaused
		wake   = make(chan struct{}, 1)
	)
	lctx, cancelListen := context.WithCancel(t.ctx)
	err = chromedp.Listen(lctx, func(ev any) {
		// A listener must return at once: the requests are continued by the
		// goroutine below, in the order they were paused.
		if p, ok := ev.(*fetch.EventRequestPaused); ok {
			mu.Lock()
			paused = append(paused, p)
			mu.Unlock()
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		cancelListen()
		return nil, fmt.Errorf("cannot listen for paused requests: %w", err)
	}
	if _, err := cdp.Call(opCtx, t.target, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: pattern, RequestStage: fetch.RequestStageRequest}},
	}); err != nil {
		cancelListen()
		return nil, fmt.Errorf("cannot intercept the page's requests: %w", err)
	}
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-wake:
			case <-done:
				return
			case <-opCtx.Done():
				return
			}
			mu.Lock()
			batch := paused
			paused = nil
			mu.Unlock()
			for _, p := range batch {
				// A request the page dropped meanwhile cannot be continued; that
				// is no error of the render.
				_, _ = cdp.Call(opCtx, t.target, fetch.ContinueRequest, fetch.ContinueRequestParams{
					RequestID: p.RequestID, Headers: withPrerenderHeader(p),
				})
			}
		}
	})
	return func() {
		close(done)
		cancelListen()
		if opCtx.Err() != nil {
			return // the tab crashed, the browser is gone or the caller left: the tab is closed
		}
		// Disabling continues whatever is still paused; the tab's next render
		// intercepts its own origin.
		dctx, cancel := context.WithTimeout(opCtx, time.Second)
		defer cancel()
		_, _ = cdp.Call(dctx, t.target, fetch.Disable, cdp.Empty{})
	}, nil
}

// withPrerenderHeader returns the headers of a paused request with
// PrerenderHeader set.
func withPrerenderHeader(p *fetch.EventRequestPaused) []*fetch.HeaderEntry {
	var out []*fetch.HeaderEntry
	if p.Request != nil {
		out = make([]*fetch.HeaderEntry, 0, len(p.Request.Headers)+1)
		for name, v := range p.Request.Headers {
			if strings.EqualFold(name, PrerenderHeader) {
				continue
			}
			out = append(out, &fetch.HeaderEntry{Name: name, Value: fmt.Sprint(v)})
		}
	}
	return append(out, &fetch.HeaderEntry{Name: PrerenderHeader, Value: "1"})
}

// originPattern is the Fetch URL pattern of every URL of the origin of raw:
// "https://shop.example/*". Its wildcards are "*" and "?", and the escape
// character is a backslash; none of them can be in a scheme and host.
func originPattern(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(u.Host, `*?\`) {
		return "", false
	}
	return u.Scheme + "://" + u.Host + "/*", true
}
