package actors

import (
	"errors"
	"strings"
	"sync"
)

// ErrLoop: Chromium's request for the page it was loading came back to
// prerenderd (a middleware sent the renderer's own request to it again), and was
// refused. Waiting on it would hold a tab until the page timeout.
var ErrLoop = errors.New("render loop: the origin sent prerenderd's own request for the page back to prerenderd")

// loopStatus is the status a request refused as a loop is answered with (508
// Loop Detected); a render whose document came back with it failed by a loop.
const loopStatus = 508

// loading is the set of URLs being loaded in a tab right now, so that a request
// that Chromium's own load caused can be told apart from a crawler's. It is
// keyed by loopKey: a request carries no variant and no fragment.
//
// INVARIANT: an entry is added by the goroutine of a render holding a tab,
// before it navigates, and removed by it when the render returns.
type loading struct {
	mu sync.Mutex
	m  map[string]*loadingEntry
}

type loadingEntry struct {
	renders int  // renders of this URL in tabs now (desktop and mobile)
	looped  bool // a renderer's request for it was refused meanwhile
}

// loopKey is the URL of key without its variant and its fragment, as a request
// for it names it.
func loopKey(key string) string {
	_, u, _ := strings.Cut(key, "|")
	u, _, _ = strings.Cut(u, "#")
	return u
}

// begin records that key's URL is loading; the returned func ends that and
// reports whether a renderer's request for it was refused meanwhile.
func (l *loading) begin(key string) (end func() (looped bool)) {
	k := loopKey(key)
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*loadingEntry)
	}
	e := l.m[k]
	if e == nil {
		e = &loadingEntry{}
		l.m[k] = e
	}
	e.renders++
	l.mu.Unlock()
	return func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		e.renders--
		if e.renders == 0 {
			delete(l.m, k)
		}
		return e.looped
	}
}

// refuse reports whether key's URL is loading in a tab, and marks it looped.
func (l *loading) refuse(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[loopKey(key)]
	if e == nil {
		return false
	}
	e.looped = true
	return true
}

// RefuseLoop decides a request that a renderer made (the HTTP front tells it by
// X-Prerender or the renderer's User-Agent): it reports whether the request's page is being loaded
// in a tab right now, so the request is Chromium's own load come back through a
// middleware, and must be refused at once (answered 508) rather than joined to
// the render that waits for it. The render then fails with ErrLoop.
func (a *Appliance) RefuseLoop(key string) bool {
	return a.loading.refuse(key)
}
