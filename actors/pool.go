package actors

import (
	"container/list"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
)

// poolActor hands out tabs. It spawns one browser actor per Chromium and supervises
// them; a browser that reports itself up gets leases until it reports itself down.
type poolActor struct {
	app      *Appliance
	browsers map[int]*poolBrowser
	waiting  *list.List // of *waiter, oldest first
	byID     map[uint64]*list.Element
}

type poolBrowser struct {
	gen  uint64
	b    *browser.Browser
	tabs int
	busy int
	up   bool
}

type waiter struct {
	req   *AcquireTab
	timer *time.Timer
}

func newPoolActor(a *Appliance) *poolActor {
	return &poolActor{app: a, browsers: make(map[int]*poolBrowser), waiting: list.New(), byID: make(map[uint64]*list.Element)}
}

func (p *poolActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		for i := 0; i < p.app.cfg.Browsers; i++ {
			id := i
			props := actor.PropsFromProducer(func() actor.Actor { return newBrowserActor(p.app, id) })
			if _, err := ctx.SpawnNamed(props, fmt.Sprintf("browser-%d", id)); err != nil {
				panic(fmt.Sprintf("cannot spawn browser actor %d: %v", id, err))
			}
		}
	case *AcquireTab:
		p.acquire(ctx, m)
	case *ReleaseTab:
		if pb := p.browsers[m.Lease.BrowserID]; pb != nil && pb.gen == m.Lease.Generation && pb.busy > 0 {
			pb.busy--
			p.app.metrics.tabsBusy.Add(-1)
		}
		p.dispatch(ctx)
	case *BrowserUp:
		if old := p.browsers[m.ID]; old != nil {
			p.app.metrics.tabsBusy.Add(-int64(old.busy))
		}
		p.browsers[m.ID] = &poolBrowser{gen: m.Generation, b: m.Browser, tabs: m.Tabs, up: true}
		p.publish()
		p.dispatch(ctx)
	case *BrowserDown:
		if pb := p.browsers[m.ID]; pb != nil && pb.gen == m.Generation {
			pb.up = false
			p.publish()
		}
	case *waitExpired:
		if el, ok := p.byID[m.ID]; ok {
			w := el.Value.(*waiter)
			p.remove(el)
			ctx.Send(w.req.ReplyTo, &TabRefused{ID: m.ID, Err: ErrOverloaded})
		}
	case *actor.Stopping:
		for el := p.waiting.Front(); el != nil; el = p.waiting.Front() {
			w := el.Value.(*waiter)
			p.remove(el)
			ctx.Send(w.req.ReplyTo, &TabRefused{ID: w.req.ID, Err: ErrStopping})
		}
		p.app.up.Store(nil)
	}
}

func (p *poolActor) acquire(ctx actor.Context, m *AcquireTab) {
	if p.waiting.Len() == 0 && p.grant(ctx, m) {
		return
	}
	if p.waiting.Len() >= p.app.cfg.MaxQueue {
		ctx.Send(m.ReplyTo, &TabRefused{ID: m.ID, Err: ErrOverloaded})
		return
	}
	w := &waiter{req: m}
	self, root := ctx.Self(), p.app.system.Root
	w.timer = time.AfterFunc(time.Until(m.Deadline), func() { root.Send(self, &waitExpired{ID: m.ID}) })
	p.byID[m.ID] = p.waiting.PushBack(w)
	p.app.metrics.queueLen.Add(1)
}

// dispatch grants tabs to waiters in arrival order while tabs are free.
func (p *poolActor) dispatch(ctx actor.Context) {
	for el := p.waiting.Front(); el != nil; {
		next := el.Next()
		w := el.Value.(*waiter)
		if p.grant(ctx, w.req) {
			w.timer.Stop()
			p.remove(el)
		} else if !p.anyFree() {
			return
		}
		el = next
	}
}

func (p *poolActor) remove(el *list.Element) {
	w := el.Value.(*waiter)
	w.timer.Stop()
	p.waiting.Remove(el)
	delete(p.byID, w.req.ID)
	p.app.metrics.queueLen.Add(-1)
}

// grant leases the least busy browser that is up and is not the incarnation the
// request asked to avoid.
func (p *poolActor) grant(ctx actor.Context, m *AcquireTab) bool {
	best := -1
	for id, pb := range p.browsers {
		if !pb.up || pb.busy >= pb.tabs {
			continue
		}
		if m.Avoid != nil && m.Avoid.BrowserID == id && m.Avoid.Generation == pb.gen {
			continue
		}
		if best < 0 || pb.busy < p.browsers[best].busy || (pb.busy == p.browsers[best].busy && id < best) {
			best = id
		}
	}
	if best < 0 {
		return false
	}
	pb := p.browsers[best]
	pb.busy++
	p.app.metrics.tabsBusy.Add(1)
	ctx.Send(m.ReplyTo, &TabGranted{ID: m.ID, Lease: Lease{Browser: pb.b, BrowserID: best, Generation: pb.gen}})
	return true
}

func (p *poolActor) anyFree() bool {
	for _, pb := range p.browsers {
		if pb.up && pb.busy < pb.tabs {
			return true
		}
	}
	return false
}

// publish lets Ready see the browsers that are up without asking the actor.
func (p *poolActor) publish() {
	var up []*browser.Browser
	for _, pb := range p.browsers {
		if pb.up {
			up = append(up, pb.b)
		}
	}
	p.app.up.Store(&up)
	p.app.metrics.browsersUp.Store(int64(len(up)))
}
