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

// markDocument makes the request for the page the render navigates to carry
// PrerenderHeader: Chromium pauses it (Fetch domain, matched by the page's
// origin and the document type) and it is continued with the header added.
// Interception is switched off again as soon as that request is on its way.
// Measured on the fixture's product page (24 renders alternating with and
// without, on a busy 2-core machine), keeping Fetch on through the page's load
// added 180-300 ms to the median render, even for requests it did not pause;
// switched off after the document, the difference was within the noise.
// Network.setExtraHTTPHeaders would add the header to every request, and a
// cross-origin fetch would then need a CORS preflight (see PrerenderHeader).
// The returned stop ends the interception if the page never asked; wg owns the
// goroutine that continues the paused request.
func (b *Browser) markDocument(opCtx context.Context, wg *sync.WaitGroup, t *tab, pageURL string) (stop func(), err error) {
	pattern, ok := originPattern(pageURL)
	if !ok {
		return func() {}, nil
	}
	paused := make(chan *fetch.EventRequestPaused, 8)
	lctx, cancelListen := context.WithCancel(t.ctx)
	err = chromedp.Listen(lctx, func(ev any) {
		// A listener must return at once: the goroutine below continues it.
		if p, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- p:
			default:
				// More documents than the buffer before the first was continued:
				// Fetch.disable below releases them as they are.
			}
		}
	})
	if err != nil {
		cancelListen()
		return nil, fmt.Errorf("cannot listen for paused requests: %w", err)
	}
	if _, err := cdp.Call(opCtx, t.target, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: pattern, ResourceType: "Document", RequestStage: fetch.RequestStageRequest}},
	}); err != nil {
		cancelListen()
		return nil, fmt.Errorf("cannot intercept the page's request: %w", err)
	}
	var once sync.Once
	disable := func() {
		once.Do(func() {
			if opCtx.Err() != nil {
				return // the tab crashed, the browser is gone or the caller left: the tab is closed
			}
			// Disabling continues whatever else is still paused.
			dctx, cancel := context.WithTimeout(opCtx, time.Second)
			defer cancel()
			_, _ = cdp.Call(dctx, t.target, fetch.Disable, cdp.Empty{})
		})
	}
	done := make(chan struct{})
	wg.Go(func() {
		select {
		case p := <-paused:
			// A request the page dropped meanwhile cannot be continued; that is
			// no error of the render.
			_, _ = cdp.Call(opCtx, t.target, fetch.ContinueRequest, fetch.ContinueRequestParams{
				RequestID: p.RequestID, Headers: withPrerenderHeader(p),
			})
			disable()
		case <-done:
		case <-opCtx.Done():
		}
	})
	return func() {
		close(done)
		cancelListen()
		disable()
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
