package actors

import (
	"errors"
	"sort"
	"sync"
	"time"

	"prerenderd/browser"
)

// This file is the read-only view of what the actors do right now (the
// dashboard's GET /api/state) and the hook of finished renders (analytics).
// The actors report to it at three points of a render's life and when the pool
// publishes its browsers; it never sends a message and never blocks an actor
// beyond a short lock.

// RenderEvent is one finished render, handed to Config.OnRender.
type RenderEvent struct {
	Key string
	URL string
	// Queue is who the render was for when it ended: a crawler (ClassLive) or a
	// recache queue.
	Queue Class
	// Result is "ok", "incomplete", "error" or "overloaded" (no tab was had),
	// as prerender_renders_total counts it.
	Result   string
	Status   int // the page's status; 0 when the render failed
	Started  time.Time
	Finished time.Time
	Attempts int
	Err      error
}

// renderResult classifies the end of a render, as prerender_renders_total does.
func renderResult(res *browser.Result, err error) string {
	switch {
	case errors.Is(err, ErrOverloaded):
		return "overloaded"
	case err != nil:
		return "error"
	case res != nil && res.Incomplete:
		return "incomplete"
	}
	return "ok"
}

// renderTracker knows the renders in flight and the browsers the pool last
// published.
type renderTracker struct {
	mu       sync.Mutex
	renders  map[*renderActor]*trackedRender
	browsers []publishedBrowser
	// incarnations counts the renders each browser incarnation ran, and when it
	// came up, by generation.
	incarnations map[uint64]*incarnation
}

type trackedRender struct {
	key, url string
	class    Class
	since    time.Time // waiting since, or rendering since once running
	running  bool
	browser  int
	gen      uint64
}

type publishedBrowser struct {
	id, pid  int
	gen      uint64
	tabs     int
	draining bool
	// retiring: replaced by a newer incarnation, closed once its last render
	// is done.
	retiring bool
}

type incarnation struct {
	upSince time.Time
	renders int
}

// waiting notes a render that starts waiting for a tab. Called by the render
// actor on Started.
func (t *renderTracker) waiting(r *renderActor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.renders == nil {
		t.renders = make(map[*renderActor]*trackedRender)
	}
	t.renders[r] = &trackedRender{key: r.key, url: r.req.URL, class: r.class, since: r.started}
}

// running notes that a render got a tab of lease's browser.
func (t *renderTracker) running(r *renderActor, lease Lease, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.renders[r]
	if tr == nil {
		return
	}
	tr.running, tr.browser, tr.gen, tr.class, tr.since = true, lease.BrowserID, lease.Generation, r.class, now
	if inc := t.incarnations[lease.Generation]; inc != nil {
		inc.renders++
	}
}

func (t *renderTracker) done(r *renderActor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.renders, r)
}

// publishPool copies the pool's browsers. Called by the pool actor whenever a
// browser comes up, goes down or starts draining.
func (t *renderTracker) publishPool(p *poolActor, now time.Time) {
	var out []publishedBrowser
	live := map[uint64]bool{}
	add := func(pb *poolBrowser, retiring bool) {
		pid := 0
		if pb.b != nil {
			pid = pb.b.PID()
		}
		out = append(out, publishedBrowser{id: pb.id, pid: pid, gen: pb.gen, tabs: pb.tabs, draining: pb.draining || retiring, retiring: retiring})
		live[pb.gen] = true
	}
	for _, pb := range p.browsers {
		if pb.up {
			add(pb, false)
		}
	}
	for _, pb := range p.retiring {
		add(pb, true)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].id != out[j].id {
			return out[i].id < out[j].id
		}
		return out[i].gen < out[j].gen
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	t.browsers = out
	if t.incarnations == nil {
		t.incarnations = make(map[uint64]*incarnation)
	}
	for gen := range live {
		if t.incarnations[gen] == nil {
			// Leases granted before the first publish are not counted; the pool
			// publishes an incarnation as soon as it is up, before any lease.
			t.incarnations[gen] = &incarnation{upSince: now}
		}
	}
	for gen := range t.incarnations {
		if !live[gen] {
			delete(t.incarnations, gen)
		}
	}
}

// renderFinished is the end of every render: it leaves the tracker and goes to
// Config.OnRender. Called by the render actor in finish, on its goroutine, so
// the hook must be quick.
func (a *Appliance) renderFinished(r *renderActor, res *browser.Result, err error) {
	a.tracker.done(r)
	if a.cfg.OnRender == nil {
		return
	}
	e := RenderEvent{Key: r.key, URL: r.req.URL, Queue: r.class, Result: renderResult(res, err),
		Started: r.started, Finished: a.cfg.Clock(), Attempts: r.attempts, Err: err}
	if res != nil {
		e.Status = res.Status
	}
	a.cfg.OnRender(e)
}

// State is what the appliance does right now.
type State struct {
	// Browsers are the Chromium processes up, by id; Starting counts those
	// being started.
	Browsers []BrowserState
	Starting int
	// Waiting are the renders waiting for a tab, oldest first.
	Waiting         []RenderState
	RendersInFlight int
	TabWait         int // renders queued for a tab (prerender_tab_queue_length)
	TabsBusy        int
	Tabs            int
	// The recache queues: length and pace in URLs per hour (priority 0 =
	// automatic).
	PriorityLength, PriorityPace int64
	NormalLength, NormalPace     int64
	// The cache against storage.max_bytes (0 = unbounded).
	Pages, StoredBytes, MaxBytes, DiskBytes int64
	// Sitemap counters since start.
	SitemapPolls, SitemapURLsFound, SitemapURLsQueued, SitemapReadErrors uint64
}

// BrowserState is one Chromium process and what its tabs render.
type BrowserState struct {
	ID         int
	PID        int
	Generation uint64
	Draining   bool
	Tabs       int
	// Renders counts the renders this process ran so far.
	Renders   int
	UpSince   time.Time
	RSS, PSS  int64 // measured every liveness interval
	Rendering []RenderState
}

// RenderState is one render in flight.
type RenderState struct {
	Key   string
	URL   string
	Queue Class
	Since time.Time
}

// State gathers the live state without asking an actor: from the tracker, the
// pool's last publication, and the metrics' gauges.
func (a *Appliance) State() State {
	m := a.metrics
	st := State{
		RendersInFlight: int(m.renderInflight.Load()),
		TabWait:         int(m.queueLen.Load()),
		TabsBusy:        int(m.tabsBusy.Load()),
		Tabs:            a.cfg.Browsers * a.cfg.TabsPerBrowser,
		PriorityLength:  m.priorityLen.Load(), PriorityPace: m.priorityPace.Load(),
		NormalLength: m.normalLen.Load(), NormalPace: m.normalPace.Load(),
		Pages: a.store.PageCount(), StoredBytes: a.store.StoredBytes(), MaxBytes: a.cfg.MaxBytes,
		DiskBytes:         a.store.DiskUsage(),
		SitemapPolls:      m.sitemap.polls.Get(),
		SitemapURLsFound:  m.sitemap.found.Get(),
		SitemapURLsQueued: m.sitemap.queued.Get(),
		SitemapReadErrors: m.sitemap.readErrors.Get(),
	}
	t := &a.tracker
	t.mu.Lock()
	type incKey struct {
		id  int
		gen uint64
	}
	busy := map[incKey]bool{}
	for _, r := range t.renders {
		if r.running {
			busy[incKey{r.browser, r.gen}] = true
		}
	}
	byInc := map[incKey]int{}
	for _, b := range t.browsers {
		if b.retiring && !busy[incKey{b.id, b.gen}] {
			// Its last render is done: it is being closed (the pool publishes
			// again only when another browser changes).
			continue
		}
		bs := BrowserState{ID: b.id, PID: b.pid, Generation: b.gen, Draining: b.draining, Tabs: b.tabs}
		if inc := t.incarnations[b.gen]; inc != nil {
			bs.Renders, bs.UpSince = inc.renders, inc.upSince
		}
		if b.id < len(m.chromium) {
			bs.RSS, bs.PSS = m.chromium[b.id].rss.Load(), m.chromium[b.id].pss.Load()
		}
		byInc[incKey{b.id, b.gen}] = len(st.Browsers)
		st.Browsers = append(st.Browsers, bs)
	}
	for _, r := range t.renders {
		rs := RenderState{Key: r.key, URL: r.url, Queue: r.class, Since: r.since}
		if !r.running {
			st.Waiting = append(st.Waiting, rs)
			continue
		}
		if i, ok := byInc[incKey{r.browser, r.gen}]; ok {
			st.Browsers[i].Rendering = append(st.Browsers[i].Rendering, rs)
		}
	}
	t.mu.Unlock()
	st.Starting = int(m.browsersStarting.Load())
	bySince := func(rs []RenderState) {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Since.Before(rs[j].Since) })
	}
	bySince(st.Waiting)
	for i := range st.Browsers {
		bySince(st.Browsers[i].Rendering)
	}
	return st
}
