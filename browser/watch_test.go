package browser

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
)

const mainFrame = "FRAME"

func docStart() any {
	return &network.EventRequestWillBeSent{RequestID: "doc", Type: network.ResourceTypeDocument, FrameID: mainFrame, Request: &network.Request{URL: "http://site/a"}}
}

func docRedirect(status int64) any {
	return &network.EventRequestWillBeSent{RequestID: "doc", Type: network.ResourceTypeDocument, FrameID: mainFrame,
		Request:          &network.Request{URL: "http://site/b"},
		RedirectResponse: &network.Response{Status: status, URL: "http://site/a"}}
}

func reqStart(id string) any {
	return &network.EventRequestWillBeSent{RequestID: network.RequestID(id), Type: network.ResourceTypeFetch, FrameID: mainFrame, Request: &network.Request{URL: "http://site/api"}}
}

func reqEnd(id string) any { return &network.EventLoadingFinished{RequestID: network.RequestID(id)} }

func docResponse(status int64) any {
	return &network.EventResponseReceived{RequestID: "doc", Response: &network.Response{Status: status}}
}

func load() any { return &page.EventLoadEventFired{} }

func ready(v string) any { return &runtime.EventBindingCalled{Name: bindingName, Payload: v} }

// step is an event to hand to the watch, or a wait of the fake clock, after
// which the page must be done or not.
type step struct {
	ev       any
	wait     time.Duration
	wantDone bool
}

func TestWatchDecidesWhenAPageIsDone(t *testing.T) {
	idle := 500 * time.Millisecond
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "load and a quiet idle window finish the page, not a moment earlier",
			steps: []step{
				{ev: docStart()}, {ev: docResponse(200)}, {ev: reqEnd("doc")}, {ev: load()},
				{wait: idle - time.Millisecond},
				{wait: time.Millisecond, wantDone: true},
			},
		},
		{
			name: "a request that starts in the quiet period restarts it when it ends",
			steps: []step{
				{ev: docStart()}, {ev: reqEnd("doc")}, {ev: load()},
				{wait: 300 * time.Millisecond}, {ev: reqStart("api")},
				{wait: 300 * time.Millisecond}, {ev: reqEnd("api")},
				{wait: idle - time.Millisecond},
				{wait: time.Millisecond, wantDone: true},
			},
		},
		{
			name: "quiet network before the load event does not count",
			steps: []step{
				{ev: docStart()}, {ev: reqEnd("doc")},
				{wait: 2 * time.Second}, {ev: load()},
				{wait: idle - time.Millisecond},
				{wait: time.Millisecond, wantDone: true},
			},
		},
		{
			name: "a request open for longer than 2 s stops holding the page",
			steps: []step{
				{ev: docStart()}, {ev: reqEnd("doc")}, {ev: reqStart("longpoll")}, {ev: load()},
				{wait: longRequest + idle - time.Millisecond},
				{wait: time.Millisecond, wantDone: true},
			},
		},
		{
			name: "a websocket stops holding the page after 2 s too",
			steps: []step{
				{ev: docStart()}, {ev: reqEnd("doc")}, {ev: load()},
				{ev: &network.EventWebSocketCreated{RequestID: "ws1"}},
				{wait: longRequest + idle - time.Millisecond},
				{wait: time.Millisecond, wantDone: true},
			},
		},
		{
			name: "prerenderReady false holds a quiet page until it turns true",
			steps: []step{
				{ev: docStart()}, {ev: ready("false")}, {ev: reqEnd("doc")}, {ev: load()},
				{wait: 10 * time.Second},
				{ev: ready("true"), wantDone: true},
			},
		},
		{
			name: "prerenderReady true finishes the page at once, before load and idle",
			steps: []step{
				{ev: docStart()}, {ev: reqStart("api")},
				{ev: ready("true"), wantDone: true},
			},
		},
		{
			name: "a redirect of the document finishes at once",
			steps: []step{
				{ev: docStart()},
				{ev: docRedirect(301), wantDone: true},
			},
		},
		{
			name: "a redirect of a subresource is followed like any request",
			steps: []step{
				{ev: docStart()}, {ev: reqStart("api")},
				{ev: &network.EventRequestWillBeSent{RequestID: "api", Type: network.ResourceTypeFetch, FrameID: mainFrame,
					Request: &network.Request{URL: "http://site/api2"}, RedirectResponse: &network.Response{Status: 302}}},
				{ev: reqEnd("doc")}, {ev: load()},
				{wait: time.Second},
				{ev: reqEnd("api")},
				{wait: idle - time.Millisecond},
				{wait: time.Millisecond, wantDone: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWatch(idle, longRequest, mainFrame)
				defer w.stop()
				w.begin(time.Now(), nil)
				start := time.Now()
				for i, s := range tt.steps {
					if s.ev != nil {
						w.handle(s.ev)
					}
					time.Sleep(s.wait)
					synctest.Wait()
					// A settle that takes no time: the quiet period is the end.
					select {
					case gen := <-w.quiet:
						w.stillQuiet(gen)
					default:
					}
					select {
					case <-w.done:
						if !s.wantDone {
							t.Fatalf("step %d: done at %s, want not yet", i, time.Since(start))
						}
						return
					default:
						if s.wantDone {
							t.Fatalf("step %d: not done at %s", i, time.Since(start))
						}
					}
				}
			})
		})
	}
}

func TestWatchIsNotDoneWhenTheQuietPeriodEndsWhileThePageSettles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 200 * time.Millisecond
		w := newWatch(idle, longRequest, mainFrame)
		defer w.stop()
		w.begin(time.Now(), nil)
		w.handle(docStart())
		w.handle(reqEnd("doc"))
		w.handle(load())
		time.Sleep(idle)
		synctest.Wait()
		var gen uint64
		select {
		case gen = <-w.quiet:
		default:
			t.Fatal("no quiet period after the idle window")
		}
		// While the page settles, a timer's handler starts a request.
		w.handle(reqStart("late"))
		if w.stillQuiet(gen) {
			t.Fatal("done although a request started while the page settled")
		}
		w.handle(reqEnd("late"))
		time.Sleep(idle)
		synctest.Wait()
		select {
		case gen = <-w.quiet:
		default:
			t.Fatal("no quiet period after the late request")
		}
		if !w.stillQuiet(gen) {
			t.Fatal("not done after a settle with nothing new")
		}
		select {
		case <-w.done:
		default:
			t.Fatal("done is not closed")
		}
	})
}

func TestWatchRemembersTheRedirectAndTheStatus(t *testing.T) {
	w := newWatch(time.Second, longRequest, mainFrame)
	defer w.stop()
	w.handle(docStart())
	w.handle(docRedirect(308))
	res := w.redirected("http://site/a", time.Now())
	if res == nil || res.Status != 308 || res.Header.Get("Location") != "http://site/b" {
		t.Fatalf("redirected = %+v", res)
	}

	w = newWatch(time.Second, longRequest, mainFrame)
	defer w.stop()
	w.handle(docStart())
	w.handle(docResponse(410))
	if got := w.documentStatus(); got != 410 {
		t.Errorf("documentStatus = %d, want 410", got)
	}
	if res := w.answered("http://site/a", time.Now()); res == nil || res.Status != 410 {
		t.Errorf("answered = %+v, want the bare 410", res)
	}
}

func TestWatchTellsACrashApart(t *testing.T) {
	w := newWatch(time.Second, longRequest, mainFrame)
	defer w.stop()
	w.handle(&inspector.EventTargetCrashed{})
	w.handle(&inspector.EventTargetCrashed{}) // a second one must not panic
	select {
	case <-w.crashed:
	default:
		t.Fatal("crashed is not closed")
	}
	select {
	case <-w.done:
		t.Fatal("a crash is not a done page")
	default:
	}
}
