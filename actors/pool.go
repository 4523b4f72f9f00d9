package actors

import (
	"container/list"
	"fmt"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
)

// poolActor hands out tabs. It spawns one browser actor per Chromium and supervises
// them; a browser that reports itself up gets leases until it reports itself down.
// A restart by its supervisor refuses every wait with ErrRestarted, as a stop
// refuses them with ErrStopping; its browsers stop with it and new ones start.
//
// Admission: waiters queue per class and are granted live first, then priority, then
// normal, each queue in arrival order. A share of all tabs (Config.ReservedLive) is
// kept for live work: priority and normal work together never hold more than the
// rest, so a burst of recaches cannot make a crawler wait. Live waits end at their
// deadline with ErrOverloaded; queued work has no deadline, it waits its turn.
type poolActor struct {
	app      *Appliance
	actors   map[int]*actor.PID   // browser actors by id
	browsers map[int]*poolBrowser // the current incarnation of each browser
	// retiring are replaced incarnations that still have renders in flight, by
	// generation. They get no lease; their releases are still counted.
	retiring map[uint64]*poolBrowser
	queues   [numClasses]*list.List // of *waiter, oldest first, by class
	byID     map[uint64]*list.Element
	// nonLive counts the leases held by priority and normal work.
	// INVARIANT: nonLive <= nonLiveMax() when a non-live lease is granted.
	nonLive int
	// since is the last browser generation before this incarnation of the
	// pool: it leases only later ones (generations only grow).
	since uint64
}

// numClasses is the number of Class values; a Class indexes poolActor.queues.
const numClasses = int(ClassNormal) + 1

type poolBrowser struct {
	id     int
	gen    uint64
	b      *browser.Browser
	tabs   int
	busy   int
	up     bool
	leases int         // leases granted to this incarnation
	aged   *time.Timer // fires browserAged at max_browser_age
	// want is the reason a recycle was asked for but not started yet, because
	// another browser is being replaced: one at a time, so the others keep serving.
	want string
	// draining: no new leases; replaced by a new incarnation (recycling) and closed
	// once busy reaches zero.
	draining bool
	retired  bool // retireBrowser sent
}

type waiter struct {
	req   *AcquireTab
	class Class
	since time.Time
	timer *time.Timer // nil when the wait has no deadline
}

func newPoolActor(a *Appliance) *poolActor {
	p := &poolActor{
		app: a, actors: make(map[int]*actor.PID), browsers: make(map[int]*poolBrowser),
		retiring: make(map[uint64]*poolBrowser), byID: make(map[uint64]*list.Element),
		since: generations.Load(),
	}
	for i := range p.queues {
		p.queues[i] = list.New()
	}
	return p
}

func (p *poolActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		for i := 0; i < p.app.cfg.Browsers; i++ {
			id := i
			props := actor.PropsFromProducer(func() actor.Actor { return newBrowserActor(p.app, id) })
			pid, err := ctx.SpawnNamed(props, fmt.Sprintf("browser-%d", id))
			if err != nil {
				panic(fmt.Sprintf("cannot spawn browser actor %d: %v", id, err))
			}
			p.actors[id] = pid
		}
		p.publish()
	case *AcquireTab:
		p.acquire(ctx, m)
	case *upgradeWait:
		p.upgrade(ctx, m)
	case *ReleaseTab:
		pb := p.browsers[m.Lease.BrowserID]
		if pb == nil || pb.gen != m.Lease.Generation {
			pb = p.retiring[m.Lease.Generation]
		}
		if pb != nil && pb.busy > 0 {
			pb.busy--
			p.app.metrics.tabsBusy.Add(-1)
			p.retireIfIdle(ctx, pb)
		}
		// A lease of an earlier incarnation of the pool was never counted here.
		if m.Lease.Class != ClassLive && m.Lease.Generation > p.since && p.nonLive > 0 {
			p.nonLive--
		}
		p.dispatch(ctx)
	case *BrowserUp:
		p.up(ctx, m)
	case *BrowserDown:
		if pb := p.browsers[m.ID]; pb != nil && pb.gen == m.Generation {
			pb.up = false
			pb.aged.Stop()
			p.publish()
		}
	case *recycleWanted:
		if pb := p.browsers[m.ID]; pb != nil && pb.gen == m.Generation {
			p.wantRecycle(ctx, pb, m.Reason)
		}
	case *browserAged:
		if pb := p.browsers[m.ID]; pb != nil && pb.gen == m.Generation {
			p.wantRecycle(ctx, pb, reasonAge)
		}
	case *waitExpired:
		if el, ok := p.byID[m.ID]; ok {
			w := el.Value.(*waiter)
			p.remove(el)
			ctx.Send(w.req.ReplyTo, &TabRefused{ID: m.ID, Err: ErrOverloaded})
		}
	case *crash:
		panic("pool: crash asked for")
	case *actor.Restarting:
		p.abandon(ctx, ErrRestarted)
	case *actor.Stopping:
		p.abandon(ctx, ErrStopping)
	}
}

// abandon refuses every wait with err and lets go of this incarnation's
// browsers: they stop with it (a restart starts new ones), so their leases
// are no longer counted. A render holding one fails over to a browser of the
// next incarnation, as when a Chromium crashes.
func (p *poolActor) abandon(ctx actor.Context, err error) {
	for _, q := range p.queues {
		for el := q.Front(); el != nil; el = q.Front() {
			w := el.Value.(*waiter)
			p.remove(el)
			ctx.Send(w.req.ReplyTo, &TabRefused{ID: w.req.ID, Err: err})
		}
	}
	busy := 0
	for _, pb := range p.browsers {
		pb.aged.Stop()
		busy += pb.busy
	}
	for _, pb := range p.retiring {
		busy += pb.busy
	}
	p.app.metrics.tabsBusy.Add(-int64(busy))
	p.app.up.Store(nil)
}

func (p *poolActor) acquire(ctx actor.Context, m *AcquireTab) {
	class := m.Class
	if int(class) >= numClasses {
		class = ClassNormal
	}
	// Arrival order within a class, and no overtaking of a higher class: a request
	// is granted at once only when nobody it must not overtake is waiting.
	if !p.waitingAtOrAbove(class) && p.grant(ctx, m, class) {
		p.app.metrics.tabWait[class].Update(0)
		return
	}
	if p.queues[class].Len() >= p.app.cfg.MaxQueue {
		ctx.Send(m.ReplyTo, &TabRefused{ID: m.ID, Err: ErrOverloaded})
		return
	}
	w := &waiter{req: m, class: class, since: time.Now()}
	p.arm(ctx, w, m.Deadline)
	p.byID[m.ID] = p.queues[class].PushBack(w)
	p.app.metrics.queueLen.Add(1)
}

// arm starts the deadline timer of a live wait. Queued work waits without one.
func (p *poolActor) arm(ctx actor.Context, w *waiter, deadline time.Time) {
	if w.class != ClassLive || deadline.IsZero() {
		return
	}
	self, root, id := ctx.Self(), p.app.system.Root, w.req.ID
	w.timer = time.AfterFunc(time.Until(deadline), func() { root.Send(self, &waitExpired{ID: id}) })
}

// upgrade makes a queued wait live: a crawler joined the render it is for.
func (p *poolActor) upgrade(ctx actor.Context, m *upgradeWait) {
	el, ok := p.byID[m.ID]
	if !ok {
		return // granted already, or refused
	}
	w := el.Value.(*waiter)
	if w.class == ClassLive {
		return
	}
	p.queues[w.class].Remove(el)
	w.class = ClassLive
	w.req.Class = ClassLive
	p.arm(ctx, w, m.Deadline)
	p.byID[m.ID] = p.queues[ClassLive].PushBack(w)
	p.dispatch(ctx)
}

func (p *poolActor) waitingAtOrAbove(c Class) bool {
	for i := 0; i <= int(c); i++ {
		if p.queues[i].Len() > 0 {
			return true
		}
	}
	return false
}

// dispatch grants free tabs to waiters, live first, then priority, then normal.
func (p *poolActor) dispatch(ctx actor.Context) {
	for c := range p.queues {
		q := p.queues[c]
		for el := q.Front(); el != nil; {
			if !p.anyFree() {
				return
			}
			if Class(c) != ClassLive && p.nonLive >= p.nonLiveMax() {
				break
			}
			next := el.Next()
			w := el.Value.(*waiter)
			if p.grant(ctx, w.req, w.class) {
				p.app.metrics.tabWait[w.class].UpdateDuration(w.since)
				p.remove(el)
			}
			el = next
		}
	}
}

func (p *poolActor) remove(el *list.Element) {
	w := el.Value.(*waiter)
	if w.timer != nil {
		w.timer.Stop()
	}
	p.queues[w.class].Remove(el)
	delete(p.byID, w.req.ID)
	p.app.metrics.queueLen.Add(-1)
}

// nonLiveMax is how many tabs priority and normal work may hold together: all tabs
// but the live share, rounded up in favour of live work, and never fewer than one, so
// that queues always make progress.
func (p *poolActor) nonLiveMax() int {
	total := p.app.cfg.Browsers * p.app.cfg.TabsPerBrowser
	reserved := int(math.Ceil(p.app.cfg.ReservedLive * float64(total)))
	return max(total-reserved, 1)
}

// grant leases the least busy browser that is up, not draining, and not the
// incarnation the request asked to avoid (unless it is the only one and the request
// allows that).
func (p *poolActor) grant(ctx actor.Context, m *AcquireTab, class Class) bool {
	if class != ClassLive && p.nonLive >= p.nonLiveMax() {
		return false
	}
	best, avoided := -1, -1
	for id, pb := range p.browsers {
		if !pb.up || pb.draining || pb.busy >= pb.tabs {
			continue
		}
		if m.Avoid != nil && m.Avoid.BrowserID == id && m.Avoid.Generation == pb.gen {
			avoided = id
			continue
		}
		if best < 0 || pb.busy < p.browsers[best].busy || (pb.busy == p.browsers[best].busy && id < best) {
			best = id
		}
	}
	if best < 0 && m.AvoidOnlyIfAnother {
		best = avoided
	}
	if best < 0 {
		return false
	}
	pb := p.browsers[best]
	pb.busy++
	pb.leases++
	if n := p.app.cfg.RendersPerBrowser; n > 0 && pb.leases >= n {
		p.wantRecycle(ctx, pb, reasonRenders)
	}
	if class != ClassLive {
		p.nonLive++
	}
	p.app.metrics.tabsBusy.Add(1)
	ctx.Send(m.ReplyTo, &TabGranted{ID: m.ID, Lease: Lease{Browser: pb.b, BrowserID: best, Generation: pb.gen, Class: class}})
	return true
}

func (p *poolActor) anyFree() bool {
	for _, pb := range p.browsers {
		if pb.up && !pb.draining && pb.busy < pb.tabs {
			return true
		}
	}
	return false
}

// up installs a new incarnation. The one it replaces, if it still has renders in
// flight (a recycle), retires once they are done.
func (p *poolActor) up(ctx actor.Context, m *BrowserUp) {
	if old := p.browsers[m.ID]; old != nil {
		old.aged.Stop()
		if old.draining && !old.retired {
			p.retiring[old.gen] = old
		} else {
			// A crashed incarnation: its renders fail and release into nothing.
			p.app.metrics.tabsBusy.Add(-int64(old.busy))
		}
	}
	pb := &poolBrowser{id: m.ID, gen: m.Generation, b: m.Browser, tabs: m.Tabs, up: true}
	if age := p.app.cfg.MaxBrowserAge; age > 0 {
		self, root, id, gen := ctx.Self(), p.app.system.Root, m.ID, m.Generation
		pb.aged = time.AfterFunc(age, func() { root.Send(self, &browserAged{ID: id, Generation: gen}) })
	} else {
		pb.aged = time.NewTimer(0)
		pb.aged.Stop()
	}
	p.browsers[m.ID] = pb
	p.publish()
	// A replacement is up: a recycle that waited for it may start.
	for id := range p.app.cfg.Browsers {
		if other := p.browsers[id]; other != nil && other.want != "" {
			p.wantRecycle(ctx, other, other.want)
		}
	}
	p.dispatch(ctx)
}

// wantRecycle starts the recycle of pb: no new leases, a new Chromium is started at
// once, and pb is closed when its renders are done. While another browser is being
// replaced it only notes the wish, so that at most one browser restarts at a time.
func (p *poolActor) wantRecycle(ctx actor.Context, pb *poolBrowser, reason string) {
	if !pb.up || pb.draining {
		return
	}
	pb.want = reason
	for _, other := range p.browsers {
		if other != pb && (other.draining || !other.up) {
			return
		}
	}
	pb.want = ""
	pb.draining = true
	pb.aged.Stop()
	p.app.log.Info("browser draining", "browser", pb.id, "generation", pb.gen, "reason", reason, "leases", pb.leases, "busy", pb.busy)
	ctx.Send(p.actors[pb.id], &recycleBrowser{Generation: pb.gen, Reason: reason})
	p.publish()
	p.retireIfIdle(ctx, pb)
}

// retireIfIdle closes a draining incarnation once its last lease is back.
func (p *poolActor) retireIfIdle(ctx actor.Context, pb *poolBrowser) {
	if !pb.draining || pb.retired || pb.busy > 0 {
		return
	}
	pb.retired = true
	delete(p.retiring, pb.gen)
	ctx.Send(p.actors[pb.id], &retireBrowser{Generation: pb.gen})
	if p.browsers[pb.id] == pb {
		// Closed before its replacement is up: no longer one Ready may ask.
		pb.up = false
		p.publish()
	}
}

// publish lets Ready see the browsers that are up without asking the actor, and
// counts the browsers by state.
func (p *poolActor) publish() {
	var up []*browser.Browser
	var serving, draining int64
	for _, pb := range p.browsers {
		if !pb.up {
			continue
		}
		up = append(up, pb.b)
		if pb.draining {
			draining++
		} else {
			serving++
		}
	}
	p.app.up.Store(&up)
	p.app.tracker.publishPool(p, p.app.cfg.Clock()) // live state (state.go, issue 14)
	m := p.app.metrics
	m.browsersUp.Store(serving)
	m.browsersDraining.Store(draining)
	m.browsersStarting.Store(max(int64(p.app.cfg.Browsers)-serving, 0))
}
