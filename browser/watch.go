package browser

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"

	"prerenderd/netguard"
)

// readyState is what the page last assigned to window.prerenderReady.
type readyState int8

const (
	readyUnset readyState = iota // never assigned, or not a boolean: the idle rule decides
	readyFalse                   // the page asks us to wait for true
	readyTrue
)

// watch decides when a page is done from the tab's events alone (DESIGN §4):
// the load event fired and no request was in flight for the idle window, or
// the page set window.prerenderReady = true. Every request start and end,
// and the load event, restart the idle timer; nothing polls. A page that set
// prerenderReady = false is waited for until it sets true or times out: that
// is what the prerender.io convention asks of a renderer.
//
// A quiet network is not the end yet: quiet is signalled, the render asks the
// page to settle (js/ready.js: its short timers run, one more task), and the
// page is done only if nothing started meanwhile (stillQuiet).
//
// handle runs on chromedp's event loop of the tab and timers run on their own
// goroutines; mu serializes both.
type watch struct {
	idle  time.Duration
	long  time.Duration
	frame cdp.FrameID // the main frame: its id is the target id
	// followRedirects: a redirect of the document is followed like a browser
	// would, not answered. Set before the first event.
	followRedirects bool

	done    chan struct{} // closed once, when the page is done or redirected
	quiet   chan uint64   // the idle rule holds; carries the activity generation
	crashed chan struct{} // closed once, on Inspector.targetCrashed
	dialogs chan struct{} // a JavaScript dialog waits to be dismissed
	broken  chan struct{} // closed once when the main document cannot be the page (see docwatch.go)

	maxDocBytes int64 // the main document is refused as too large past this many body bytes; 0 = no bound

	mu       sync.Mutex
	stopped  bool
	finished bool
	crash    bool
	docID    network.RequestID // the main document's request
	docURL   string            // the URL of its latest hop
	docs     int               // main-frame documents so far; >1 after a script navigation
	// failure asks the egress proxy why it did not connect to a host:port since
	// the render began; nil without a proxy. egressErr is its answer about the
	// main document, which ends the render.
	failure     func(hostport string) error
	egressErr   error
	docOrigins  []string // origins of every document requested, in any frame
	status      int
	redirect    *network.Response
	location    string
	loaded      bool
	ready       readyState
	idleReached bool
	last        time.Time // last request start or end
	gen         uint64    // counts activity: a quiet period is the one of its gen
	inflight    map[network.RequestID]*time.Timer
	idleTimer   *time.Timer
	doc         docState // how the current main document arrives
	brokenErr   error    // why broken was closed
}

func newWatch(idle, long time.Duration, frame cdp.FrameID) *watch {
	w := &watch{
		idle:     idle,
		long:     long,
		frame:    frame,
		done:     make(chan struct{}),
		quiet:    make(chan uint64, 1),
		crashed:  make(chan struct{}),
		dialogs:  make(chan struct{}, 1),
		broken:   make(chan struct{}),
		inflight: make(map[network.RequestID]*time.Timer),
	}
	w.idleTimer = time.AfterFunc(time.Hour, w.idleFired)
	w.idleTimer.Stop()
	return w
}

// begin marks the start of the navigation: the quiet period counts from here
// until the first request.
func (w *watch) begin(t time.Time, failure func(hostport string) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = t
	w.failure = failure
}

// stop releases the timers. Events that arrive later are ignored.
func (w *watch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.idleTimer.Stop()
	for _, t := range w.inflight {
		t.Stop()
	}
}

// handle is a chromedp listener: it must return fast and run no command.
func (w *watch) handle(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type == network.ResourceTypeDocument && ev.Request != nil {
			w.noteOrigin(ev.Request.URL)
		}
		if ev.Type == network.ResourceTypeDocument && ev.FrameID == w.frame && ev.Request != nil {
			w.docURL = ev.Request.URL
			if ev.RequestID == w.docID && ev.RedirectResponse != nil {
				// Only the document the caller asked for is answered as
				// a redirect; a script navigation that redirects is
				// followed like a browser would.
				if w.docs == 1 && !w.followRedirects && !internalRedirect(ev.RedirectResponse) {
					w.redirect = ev.RedirectResponse
					w.location = ev.Request.URL + ev.Request.URLFragment
					w.finish()
					return
				}
			} else if ev.RequestID != w.docID {
				w.docID = ev.RequestID
				w.docs++
				w.status = 0
				w.loaded = false
				w.ready = readyUnset
				w.newDocument()
			}
		}
		w.start(ev.RequestID)
	case *network.EventResponseReceived:
		if ev.RequestID == w.docID {
			w.status = int(ev.Response.Status)
			// The egress answers a refused plain-http request itself: the
			// page Chromium shows then is the proxy's.
			if w.status == http.StatusForbidden || w.status == http.StatusBadGateway {
				for k := range ev.Response.Headers {
					if strings.EqualFold(k, netguard.EgressHeader) {
						w.checkEgress()
						break
					}
				}
			}
			w.docResponse(ev.Response)
		}
	case *network.EventResponseReceivedExtraInfo:
		// The raw answer: Chromium aborts a document answered 304 (it has no
		// cached copy to show) without a ResponseReceived, and the recache
		// rules need that status.
		if ev.RequestID == w.docID && w.status == 0 {
			w.status = int(ev.StatusCode)
		}
	case *network.EventDataReceived:
		w.docData(ev)
	case *network.EventLoadingFinished:
		if ev.RequestID == w.docID {
			w.doc.finished = true
		}
		w.end(ev.RequestID)
	case *network.EventLoadingFailed:
		if ev.RequestID == w.docID {
			w.checkEgress()
		}
		if w.egressErr == nil {
			w.docFailed(ev)
		}
		w.end(ev.RequestID)
	case *network.EventWebSocketCreated:
		w.start(wsID(ev.RequestID))
	case *network.EventWebSocketHandshakeResponseReceived:
		w.end(wsID(ev.RequestID))
	case *network.EventWebSocketClosed:
		w.end(wsID(ev.RequestID))
	case *network.EventWebSocketFrameError:
		w.end(wsID(ev.RequestID))
	case *page.EventLoadEventFired:
		// The quiet period restarts here too: load handlers often start
		// the requests that build the page, and a renderer starved of CPU
		// before load must not count that stall as quiet network.
		w.loaded = true
		w.activity()
	case *runtime.EventBindingCalled:
		if ev.Name != bindingName {
			return
		}
		switch ev.Payload {
		case "true":
			w.ready = readyTrue
		case "false":
			w.ready = readyFalse
		default:
			w.ready = readyUnset
		}
		w.check()
	case *page.EventJavascriptDialogOpening:
		// An open alert() blocks the page, and with it the snapshot.
		select {
		case w.dialogs <- struct{}{}:
		default:
		}
	case *inspector.EventTargetCrashed:
		if !w.crash {
			w.crash = true
			close(w.crashed)
		}
	}
}

// checkEgress asks the egress proxy whether it refused (or failed to reach)
// the main document's host; if so the render ends with that error, whatever
// page Chromium shows for it. It is called only when the document failed or
// carries the proxy's header, and the proxy remembers only its own failures:
// a document the origin answered is not blamed on the proxy.
func (w *watch) checkEgress() {
	if w.failure == nil || w.egressErr != nil {
		return
	}
	if hp := hostPort(w.docURL); hp != "" {
		if err := w.failure(hp); err != nil {
			w.egressErr = err
			w.finish()
		}
	}
}

// egressFailure is why the egress did not connect to the main document, as
// learnt from a failed load or an answer of the proxy's own.
func (w *watch) egressFailure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.egressErr
}

// navigationFailed asks the egress about the main document, whose navigation
// failed; it returns the egress's failure if that was the cause.
func (w *watch) navigationFailed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checkEgress()
	return w.egressErr
}

// hostPort is the host:port Chromium asks its proxy for to load raw: the
// default port of the scheme when it has none. "" for a URL without a host.
func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http", "ws":
			port = "80"
		case "https", "wss":
			port = "443"
		default:
			return ""
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// noteOrigin records the origin of a document's URL (each hop of a redirect
// too: any of them may have set a cookie or storage). A URL without a usable
// origin (data:, about:, blob:) is recorded as itself, so it counts as another
// origin and its tab is not reused.
func (w *watch) noteOrigin(raw string) {
	o := raw
	if u, err := url.Parse(raw); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		o = u.Scheme + "://" + u.Host
	}
	if !slices.Contains(w.docOrigins, o) {
		w.docOrigins = append(w.docOrigins, o)
	}
}

// origins returns the origins of every document of the render.
func (w *watch) origins() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.docOrigins)
}

// wsID keeps websocket ids apart from request ids in inflight.
func wsID(id network.RequestID) network.RequestID { return "ws:" + id }

// internalRedirect reports a redirect Chromium made up itself, such as an
// HSTS upgrade to https: the server did not answer with it.
func internalRedirect(r *network.Response) bool {
	for k := range r.Headers {
		if strings.EqualFold(k, "Non-Authoritative-Reason") {
			return true
		}
	}
	return false
}

func (w *watch) start(id network.RequestID) {
	if _, ok := w.inflight[id]; ok {
		return // a redirect hop of a request already counted
	}
	w.inflight[id] = time.AfterFunc(w.long, func() { w.expire(id) })
	w.activity()
}

func (w *watch) end(id network.RequestID) {
	t, ok := w.inflight[id]
	if !ok {
		return // expired already, or started before we listened
	}
	t.Stop()
	delete(w.inflight, id)
	w.activity()
}

// expire stops counting a request that has been open for too long.
func (w *watch) expire(id network.RequestID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if _, ok := w.inflight[id]; !ok {
		return
	}
	delete(w.inflight, id)
	w.activity()
}

// activity restarts the quiet period: the idle timer runs only while nothing
// is in flight.
func (w *watch) activity() {
	w.last = time.Now()
	w.gen++
	w.idleReached = false
	if len(w.inflight) == 0 {
		w.idleTimer.Reset(w.idle)
	} else {
		w.idleTimer.Stop()
	}
}

func (w *watch) idleFired() {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A fire that raced with newer activity is stale: that activity
	// rescheduled the timer already.
	if w.stopped || len(w.inflight) > 0 || time.Since(w.last) < w.idle {
		return
	}
	w.idleReached = true
	w.check()
}

func (w *watch) check() {
	switch {
	case w.ready == readyTrue:
		w.finish()
	case w.loaded && w.idleReached && w.ready != readyFalse:
		select {
		case <-w.quiet: // an older quiet period nobody took: this one replaces it
		default:
		}
		w.quiet <- w.gen
	}
}

// stillQuiet reports whether the quiet period of generation gen lasted: no
// request started or ended since, and the page did not ask to be waited for.
// It finishes the watch when it did.
func (w *watch) stillQuiet(gen uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return true
	}
	if w.gen != gen || !w.idleReached || w.ready == readyFalse {
		return false
	}
	w.finish()
	return true
}

func (w *watch) finish() {
	if !w.finished {
		w.finished = true
		close(w.done)
	}
}

// requested reports whether the main document was requested at all.
func (w *watch) requested() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.docs > 0
}

// responded reports whether the main document answered.
func (w *watch) responded() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status != 0
}

// documentStatus is the status of the document being snapshotted.
func (w *watch) documentStatus() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 {
		return http.StatusOK // a document without HTTP, such as data:
	}
	return w.status
}

// redirected returns the redirect that answered the document, if any.
func (w *watch) redirected(url string, begin time.Time) *Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.redirect == nil {
		return nil
	}
	return &Result{
		Status:   int(w.redirect.Status),
		Header:   http.Header{"Location": {w.location}},
		FinalURL: url,
		Duration: time.Since(begin),
	}
}

// answered returns what the server said when Chromium refused to show the
// document (an error status with an empty body gives a Chromium error page,
// not the server's): the redirect, or the bare status. A 200 that Chromium did
// not show (a download) is no page at all: nil. Other statuses (204, 304, 4xx)
// are answered bare, so the recache rules can act on them.
func (w *watch) answered(url string, begin time.Time) *Result {
	if r := w.redirected(url, begin); r != nil {
		return r
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 || w.status == http.StatusOK {
		return nil
	}
	return &Result{Status: w.status, Header: http.Header{}, FinalURL: url, Duration: time.Since(begin)}
}
