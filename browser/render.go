package browser

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"prerenderd/browser/pagemeta"
	"prerenderd/netguard"
)

const (
	// longRequest is how long a request counts as in flight. Long polls,
	// event streams and websockets never end; past this age they stop
	// holding the idle rule back (DESIGN §4).
	longRequest = 2 * time.Second

	// snapshotTimeout bounds the serialization of a done page. Serializing
	// even a huge DOM takes well under a second; a page stuck in a busy
	// loop never answers. The page timeout bounds it too (serializeReserve).
	snapshotTimeout = 3 * time.Second

	// settleTimeout bounds the page's settle (js/ready.js waits at most 1 s
	// for short timers, then one task).
	settleTimeout = 1500 * time.Millisecond
)

//go:embed js/snapshot.js
var snapshotJS string

// Request is one page to render.
type Request struct {
	URL       string // absolute http(s) URL, already validated by the caller
	UserAgent string // "" = Options.UserAgent, by default Chromium's with "HeadlessChrome" replaced by "Chrome", plus UserAgentSuffix

	// Device is the screen emulated; nil is DesktopDevice, Chromium's window.
	// On a Mobile device the default User-Agent is the same Chrome on Android
	// (mobileUserAgent).
	Device *Device
	// Output is what the render answers with; "" is OutputHTML.
	Output Output
	// FullPage: a screenshot of the whole page, not only the viewport.
	FullPage bool
	// FollowRedirects: a redirect of the document is followed, and the page it
	// leads to rendered, instead of being answered.
	FollowRedirects bool
}

// Result is a rendered page, or the redirect that answered it.
type Result struct {
	Status     int         // document HTTP status, overridden by <meta name="prerender-status-code">
	Header     http.Header // from <meta name="prerender-header" content="Name: value">; for a redirect, Location
	HTML       []byte      // serialized DOM with doctype, always UTF-8; <script> removed except application/ld+json
	FinalURL   string
	Incomplete bool // the page timeout hit; the snapshot was taken anyway
	Duration   time.Duration
	// StatusDeclared: Status comes from a prerender-status-code meta tag, not from
	// the origin's answer. A redirect declared this way is cached (prerender.io's rule).
	StatusDeclared bool

	// Body and ContentType are the capture of an Output other than HTML: a
	// screenshot, a PDF or a HAR. HTML is nil then.
	Body        []byte
	ContentType string
}

// Render loads req.URL in a ready tab (see the package doc on isolation) and
// returns the page once it is done (DESIGN §4). It waits for a free tab first,
// at most Options.Tabs renders run at once. It is safe for concurrent use.
//
// Errors wrap ErrBrowserClosed (retry elsewhere), ErrTabCrashed, ErrTabHung,
// ErrNavigation, or the error of ctx.
func (b *Browser) Render(ctx context.Context, req Request) (*Result, error) {
	if req.Device != nil {
		if err := req.Device.Validate(); err != nil {
			return nil, fmt.Errorf("cannot render %q: %w: %w", req.URL, errBadDevice, err)
		}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("cannot render %q: %w", req.URL, ErrBrowserClosed)
	}
	b.renders.Add(1)
	b.mu.Unlock()
	defer b.renders.Done()

	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("cannot render %q: no free tab: %w", req.URL, context.Cause(ctx))
	case <-b.closing:
		return nil, fmt.Errorf("cannot render %q: %w", req.URL, ErrBrowserClosed)
	case <-b.lost:
		return nil, fmt.Errorf("cannot render %q: %w", req.URL, ErrBrowserClosed)
	}
	defer func() {
		<-b.slots
		b.signal()
	}()

	t, err := b.takeTab(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot render %q: cannot open tab: %w", req.URL, b.classify(ctx, err))
	}
	// The tab in use at the end (a dead one is swapped below) may serve again
	// only after a page that ended well: a crash, a hang, a timeout or a
	// redirect may leave it mid-work.
	var res *Result
	defer func() {
		if t != nil {
			b.releaseTab(t, err == nil && !res.Incomplete && (res.HTML != nil || res.Body != nil))
		}
	}()

	res, err = b.render(ctx, t, req)
	if err != nil && errors.Is(err, ErrTabCrashed) && !t.requested && ctx.Err() == nil && !b.gone() {
		// The tab died before it asked for the page (a pre-opened tab whose
		// renderer went down with another's, before its crash event arrived):
		// nothing of this page was tried, so try it on a fresh tab rather
		// than spend the caller's one retry.
		b.log.Debug("tab was dead before the render, taking another", "url", req.URL)
		b.closeTab(t)
		t = nil
		var fresh *tab
		if fresh, err = b.takeTab(ctx); err != nil {
			return nil, fmt.Errorf("cannot render %q: cannot open tab: %w", req.URL, b.classify(ctx, err))
		}
		t = fresh
		res, err = b.render(ctx, t, req)
	}
	if err != nil {
		b.log.Debug("render failed", "url", req.URL, "err", err)
		return nil, fmt.Errorf("cannot render %q: %w", req.URL, err)
	}
	b.log.Debug("rendered", "url", req.URL, "status", res.Status, "bytes", len(res.HTML),
		"incomplete", res.Incomplete, "took", res.Duration)
	return res, nil
}

// classify maps err to ErrBrowserClosed when the browser is gone, since
// the call failed for that reason whatever it says.
func (b *Browser) classify(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrBrowserClosed):
		return err
	case b.gone():
		return fmt.Errorf("%w: %w", ErrBrowserClosed, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return err
}

type navigated struct {
	res page.NavigateResult
	err error
}

func (b *Browser) render(ctx context.Context, t *tab, req Request) (*Result, error) {
	// opCtx carries every CDP call of this render. A crash or a lost
	// browser cancels it with a typed cause, so no call waits for a reply
	// that never comes.
	var wg sync.WaitGroup
	defer wg.Wait()
	opCtx, cancelOp := context.WithCancelCause(ctx)
	defer cancelOp(nil)

	w := newWatch(b.opts.IdleWindow, longRequest, cdp.FrameID(t.target.TargetID))
	w.followRedirects = req.FollowRedirects
	w.maxDocBytes = sourceFactor * b.opts.MaxHTMLBytes
	defer w.stop()
	defer func() { t.requested, t.origins = w.requested(), w.origins() }()
	lctx, cancelListen := context.WithCancel(t.ctx)
	defer cancelListen()
	if err := chromedp.Listen(lctx, w.handle); err != nil {
		return nil, b.fail(opCtx, fmt.Errorf("cannot listen to the tab: %w", err))
	}
	var har *harRecorder
	if req.Output == OutputHAR {
		har = newHARRecorder()
		if err := chromedp.Listen(lctx, har.handle); err != nil {
			return nil, b.fail(opCtx, fmt.Errorf("cannot listen to the tab: %w", err))
		}
	}
	wg.Go(func() {
		for {
			select {
			case <-w.dialogs:
				_, _ = cdp.Call(opCtx, t.target, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			case <-opCtx.Done():
				return
			}
		}
	})
	wg.Go(func() {
		select {
		case <-w.crashed:
			cancelOp(ErrTabCrashed)
		case <-t.detached:
			cancelOp(fmt.Errorf("%w: the tab went away", ErrTabCrashed))
		case <-b.lost:
			cancelOp(ErrBrowserClosed)
		case <-b.closing:
			cancelOp(ErrBrowserClosed)
		case <-opCtx.Done():
		}
	})

	mobile := req.Device != nil && req.Device.Mobile
	ua := req.UserAgent
	switch {
	case ua != "":
	case mobile:
		ua = b.mobileUserAgent
	default:
		ua = b.userAgent
	}
	uaParams := emulation.SetUserAgentOverrideParams{UserAgent: ua}
	if mobile {
		// What Chrome on an Android phone reports, for scripts that look.
		uaParams.Platform = "Linux armv81"
	}
	if _, err := cdp.Call(opCtx, t.target, emulation.SetUserAgentOverride, uaParams); err != nil {
		return nil, b.fail(opCtx, fmt.Errorf("cannot set user agent: %w", err))
	}
	if err := emulate(opCtx, t, req.Device); err != nil {
		return nil, b.fail(opCtx, err)
	}

	stopMarking, err := b.markDocument(opCtx, &wg, t, req.URL)
	if err != nil {
		return nil, b.fail(opCtx, err)
	}
	defer stopMarking()

	begin := time.Now()
	var failure func(string) error
	if e := b.opts.Egress; e != nil {
		failure = func(hostport string) error { return e.Failure(hostport, begin) }
	}
	deadline := begin.Add(b.opts.PageTimeout)
	w.begin(begin, failure)
	nav := make(chan navigated, 1)
	wg.Go(func() {
		res, err := cdp.Call(opCtx, t.target, page.Navigate, page.NavigateParams{URL: req.URL})
		nav <- navigated{res, err}
	})
	// The page timeout is a timer, not a deadline on opCtx: at the timeout
	// the snapshot still needs a live context. The wait ends early enough
	// for the snapshot to fit before the deadline too.
	timeout := time.NewTimer(b.opts.PageTimeout - serializeReserve(b.opts.PageTimeout))
	defer timeout.Stop()
	// A broken main document ends the render, once its navigation has
	// answered: a document that failed before it committed is a failed
	// navigation, answered as such.
	broken, brokenSeen := w.broken, false

	incomplete := false
	// One settle runs at a time. A quiet period that begins while one runs
	// (the page's timers started a request and it ended) is kept in next and
	// settled once that one turns out stale.
	settled := make(chan uint64, 1)
	settling, next, hasNext := false, uint64(0), false
	startSettle := func(gen uint64) {
		settling = true
		wg.Go(func() {
			settle(opCtx, t.target)
			settled <- gen
		})
	}
wait:
	for {
		select {
		case gen := <-w.quiet:
			if settling {
				next, hasNext = gen, true
			} else {
				startSettle(gen)
			}
		case gen := <-settled:
			settling = false
			if w.stillQuiet(gen) {
				break wait
			}
			if hasNext {
				hasNext = false
				startSettle(next)
			}
		case <-opCtx.Done():
			return nil, b.fail(opCtx, context.Cause(opCtx))
		case <-broken:
			if nav != nil {
				broken, brokenSeen = nil, true
				continue
			}
			return nil, w.brokenReason()
		case n := <-nav:
			nav = nil
			if n.err != nil {
				return nil, b.fail(opCtx, fmt.Errorf("cannot navigate: %w", n.err))
			}
			if n.res.ErrorText != "" {
				if err := w.navigationFailed(); err != nil {
					return nil, egressError(req.URL, err)
				}
				// The raw status of an aborted document (a 304) may come a moment
				// after the navigation's answer.
				for i := 0; i < 20 && !w.responded(); i++ {
					time.Sleep(10 * time.Millisecond)
				}
				if res := w.answered(req.URL, begin); res != nil {
					return res, nil
				}
				return nil, fmt.Errorf("%w: %s", ErrNavigation, n.res.ErrorText)
			}
			if brokenSeen {
				return nil, w.brokenReason()
			}
		case <-w.done:
			break wait
		case <-timeout.C:
			if err := w.egressFailure(); err != nil {
				return nil, egressError(req.URL, err)
			}
			if err := w.documentProblem(true); errors.Is(err, ErrNavigationLoop) {
				// Between two documents of a loop no document has answered.
				return nil, err
			}
			if !w.responded() || nav != nil {
				// A slow document may still answer and commit: it is then
				// snapshotted at once, as it is, as long as a quarter of the
				// time kept for the snapshot is left.
				if left := time.Until(deadline) - serializeReserve(b.opts.PageTimeout)/4; left > 0 {
					timeout.Reset(min(left, 20*time.Millisecond))
					continue
				}
				return nil, fmt.Errorf("%w: no document within the page timeout %s: %w",
					ErrNavigation, b.opts.PageTimeout, context.DeadlineExceeded)
			}
			incomplete = true
			break wait
		}
	}
	if res := w.redirected(req.URL, begin); res != nil {
		return res, nil
	}
	if err := w.egressFailure(); err != nil {
		return nil, egressError(req.URL, err)
	}
	if err := w.documentProblem(incomplete); err != nil {
		return nil, err
	}
	if req.Output.isCapture() {
		return b.capture(opCtx, t, req, w, har, begin, incomplete)
	}

	snapDeadline := time.Now().Add(snapshotTimeout)
	if deadline.Before(snapDeadline) {
		snapDeadline = deadline
	}
	snap, err := snapshot(opCtx, t.target, snapDeadline, b.opts.MaxHTMLBytes)
	if errors.Is(err, context.DeadlineExceeded) && opCtx.Err() == nil {
		// A script stuck in a loop keeps the main thread from answering. What
		// it built may be half a page, so none of it is answered; the tab's
		// script is terminated when it is closed, off the request path (see
		// closeTab), so the tab closes at once instead of at Chromium's hang
		// timeout.
		b.log.Debug("page hung", "url", req.URL)
		t.hung = true
		if err := w.sourceTooLarge(b.opts.MaxHTMLBytes); err != nil {
			// The main thread was still busy with a document bigger than
			// the cap: that, not a hang, is why it did not answer.
			return nil, err
		}
		if snapDeadline.Equal(deadline) {
			return nil, fmt.Errorf("%w: the page was not serialized within the page timeout %s: %w", ErrTabHung, b.opts.PageTimeout, err)
		}
		return nil, fmt.Errorf("%w: the page did not answer within %s: %w", ErrTabHung, snapshotTimeout, err)
	}
	if err != nil {
		return nil, b.fail(opCtx, err)
	}
	if snap.Empty && incomplete {
		// A document that answered so late that nothing of it was parsed
		// yet: there is no page to answer, not even half of one.
		return nil, fmt.Errorf("%w: the document was not parsed within the page timeout %s: %w",
			ErrNavigation, b.opts.PageTimeout, context.DeadlineExceeded)
	}
	if err := snap.problem(b.opts.MaxHTMLBytes); err != nil {
		return nil, err
	}
	res := &Result{
		Status:     w.documentStatus(),
		Header:     http.Header{},
		HTML:       []byte(snap.HTML),
		FinalURL:   snap.URL,
		Incomplete: incomplete,
		Duration:   time.Since(begin),
	}
	if code, ok := pagemeta.Status(snap.Status); ok {
		res.Status, res.StatusDeclared = code, true
	}
	for _, h := range snap.Headers {
		if name, value, ok := pagemeta.Header(h); ok {
			res.Header.Add(name, value)
		}
	}
	return res, nil
}

// egressError is the error of a render whose main document (the first, a
// redirect hop, or a later navigation of the page) the egress proxy did not
// connect to: its *netguard.Rejection when it refused (a private address, a
// name that does not resolve), so the HTTP layer answers 403 private-address;
// else ErrNavigation.
func egressError(url string, err error) error {
	var rej *netguard.Rejection
	if errors.As(err, &rej) {
		return fmt.Errorf("the egress refused a document of %q: %w", url, rej)
	}
	return fmt.Errorf("%w: %w", ErrNavigation, err)
}

// fail turns the error of a render step into the error the caller acts on:
// the cause of opCtx wins, because a crashed tab or a lost browser makes
// every pending call fail with a less useful error.
func (b *Browser) fail(opCtx context.Context, err error) error {
	if opCtx.Err() != nil {
		cause := context.Cause(opCtx)
		if errors.Is(cause, ErrBrowserClosed) || errors.Is(cause, ErrTabCrashed) {
			return cause
		}
		if b.gone() {
			return fmt.Errorf("%w: %w", ErrBrowserClosed, cause)
		}
		return cause
	}
	if b.gone() {
		return fmt.Errorf("%w: %w", ErrBrowserClosed, err)
	}
	return err
}

// settleExpression awaits js/ready.js's settle function; a document without
// it (about:blank, an error page) settles after one task.
const settleExpression = `(globalThis[Symbol.for('prerenderd.settle')] || (() => new Promise((r) => setTimeout(r, 0))))()`

// settle lets the page run its short timers and the work already queued on its
// main thread (js/ready.js). It is bounded: a page whose main thread does not
// answer is left to the snapshot, which finds it hung.
func settle(ctx context.Context, t *chromedp.Target) {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	_, _ = cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{
		Expression:   settleExpression,
		AwaitPromise: new(true),
		Silent:       new(true),
	})
}

type snapshotValue struct {
	Status  []string `json:"status"`
	Headers []string `json:"headers"`
	URL     string   `json:"url"`
	HTML    string   `json:"html"`
	Length  int64    `json:"length"` // of the serialized document in UTF-16 code units, sent or not
	Empty   bool     `json:"empty"`  // there was no document element
}

// problem says why the snapshot cannot be the page: no document, or one
// longer than max bytes. Length counts UTF-16 code units, never more than the
// UTF-8 bytes of the same text, so a Length past max is too large for sure;
// the bytes are checked again once they arrived.
func (v *snapshotValue) problem(max int64) error {
	switch {
	case v.Empty:
		return fmt.Errorf("%w: the page had no document element to serialize", ErrEmptyDocument)
	case v.Length > max:
		return fmt.Errorf("%w: the document serializes to %d characters, the limit is %d bytes", ErrTooLarge, v.Length, max)
	case int64(len(v.HTML)) > max:
		return fmt.Errorf("%w: the document serializes to %d bytes, the limit is %d", ErrTooLarge, len(v.HTML), max)
	}
	return nil
}

// serializeReserve is the part of the page timeout kept for the snapshot:
// the page has until PageTimeout minus it to be done, so the whole render,
// serialization included, ends within PageTimeout.
func serializeReserve(pageTimeout time.Duration) time.Duration {
	return min(pageTimeout/5, snapshotTimeout)
}

// snapshot serializes the page (js/snapshot.js) by deadline; a document
// longer than max comes back measured but empty.
func snapshot(ctx context.Context, t *chromedp.Target, deadline time.Time, max int64) (*snapshotValue, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	res, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{
		Expression:    snapshotJS + "(" + strconv.FormatInt(max, 10) + ")",
		ReturnByValue: new(true),
		Silent:        new(true),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot snapshot the page: %w", err)
	}
	if res.ExceptionDetails != nil {
		return nil, fmt.Errorf("cannot snapshot the page: script threw: %s", res.ExceptionDetails.Text)
	}
	if res.Result == nil {
		return nil, errors.New("cannot snapshot the page: no result")
	}
	var v snapshotValue
	if err := json.Unmarshal([]byte(res.Result.Value), &v); err != nil {
		return nil, fmt.Errorf("cannot snapshot the page: cannot decode: %w", err)
	}
	return &v, nil
}
