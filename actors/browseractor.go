package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
)

var generations atomic.Uint64

// errChromiumExited makes a browser actor fail, so its supervisor (the pool) restarts
// it with a new Chromium.
type errChromiumExited struct{ pid int }

func (e errChromiumExited) Error() string { return fmt.Sprintf("chromium (pid %d) exited", e.pid) }

// browserActor owns one Chromium process for its incarnation. Starting and closing
// Chromium take hundreds of milliseconds, so both run in goroutines tracked by the
// appliance, which waits for them on Stop.
//
// Lifecycle: a Chromium that exits or is killed makes the actor fail, and the pool
// (its supervisor) restarts it. A recycle (after renders_per_browser renders, at
// max_browser_age, or past max_browser_rss) is not a failure: the pool stops leasing
// the incarnation and sends recycleBrowser; the actor starts the next Chromium at once
// and keeps the old one until the pool sends retireBrowser, when its last render is
// done. So a recycle never fails a render and never leaves the pool short of tabs.
type browserActor struct {
	app     *Appliance
	id      int
	slot    *chromiumSlot
	backoff time.Duration
	// killed is the reason this actor killed the current incarnation, if it did.
	killed string
	// retiring holds replaced incarnations until their last lease is released.
	retiring map[uint64]*browser.Browser
}

// chromiumSlot hands a started Chromium to the actor, or closes it when the actor
// stopped while it was starting: without it, a Chromium that finished starting after
// a stop would be left running.
type chromiumSlot struct {
	generation uint64 // set at creation, never changed
	mu         sync.Mutex
	stopped    bool
	b          *browser.Browser
	// stopWatch ends the incarnation's watch goroutine; only the actor closes it.
	stopWatch chan struct{}
}

func newBrowserActor(a *Appliance, id int) *browserActor {
	return &browserActor{app: a, id: id, retiring: make(map[uint64]*browser.Browser)}
}

func (ba *browserActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ba.start(ctx)
	case *retryStart:
		ba.start(ctx)
	case *browserStarted:
		if ba.slot == nil || m.Generation != ba.slot.generation {
			return
		}
		ba.backoff = 0
		ctx.Send(ctx.Parent(), &BrowserUp{ID: ba.id, Generation: m.Generation, Browser: m.Browser, Tabs: ba.app.cfg.TabsPerBrowser})
		ba.app.log.Info("browser up", "browser", ba.id, "pid", m.Browser.PID(), "generation", m.Generation)
		ba.watch(ctx, ba.slot, m.Browser)
	case *browserStartFailed:
		ba.backoff = min(max(2*ba.backoff, time.Second), 30*time.Second)
		ba.app.log.Error("cannot start browser", "browser", ba.id, "err", m.Err, "retry_in", ba.backoff.String())
		self, root := ctx.Self(), ba.app.system.Root
		time.AfterFunc(ba.backoff, func() { root.Send(self, &retryStart{}) })
	case *browserUnresponsive:
		b := ba.current()
		if b == nil || m.Generation != ba.slot.generation || ba.killed != "" {
			return
		}
		ba.killed = reasonUnresponsive
		ba.app.log.Error("browser does not answer, killing it", "browser", ba.id, "pid", b.PID(), "err", m.Err)
		if err := b.Kill(); err != nil {
			ba.app.log.Warn("cannot kill browser", "browser", ba.id, "err", err)
		}
	case *browserMeasured:
		if ba.current() == nil || m.Generation != ba.slot.generation {
			return
		}
		ba.app.metrics.setUsage(ba.id, m.Usage)
		if max := ba.app.cfg.MaxBrowserRSS; max > 0 && m.Usage.PSS > max {
			ctx.Send(ctx.Parent(), &recycleWanted{ID: ba.id, Generation: m.Generation, Reason: reasonMemory})
		}
	case *recycleBrowser:
		b := ba.current()
		if b == nil || m.Generation != ba.slot.generation {
			return
		}
		ba.app.metrics.restarts[m.Reason].Inc()
		ba.app.log.Info("recycling browser", "browser", ba.id, "pid", b.PID(), "reason", m.Reason)
		if old := ba.detach(); old != nil {
			ba.retiring[m.Generation] = old
		}
		ba.start(ctx)
	case *retireBrowser:
		if b, ok := ba.retiring[m.Generation]; ok {
			delete(ba.retiring, m.Generation)
			ba.close(b)
		}
	case *browserExited:
		b := ba.current()
		if b == nil || m.Generation != ba.slot.generation {
			return
		}
		reason := reasonCrash
		if ba.killed != "" {
			reason = ba.killed
		}
		ctx.Send(ctx.Parent(), &BrowserDown{ID: ba.id, Generation: m.Generation})
		ba.app.metrics.restarts[reason].Inc()
		ba.app.log.Warn("browser exited, restarting", "browser", ba.id, "pid", b.PID(), "reason", reason)
		panic(errChromiumExited{pid: b.PID()})
	case *actor.Restarting:
		ba.release(ctx)
	case *actor.Stopping:
		ba.release(ctx)
	}
}

func (ba *browserActor) current() *browser.Browser {
	if ba.slot == nil {
		return nil
	}
	ba.slot.mu.Lock()
	defer ba.slot.mu.Unlock()
	return ba.slot.b
}

func (ba *browserActor) start(ctx actor.Context) {
	gen := generations.Add(1)
	slot := &chromiumSlot{generation: gen, stopWatch: make(chan struct{})}
	ba.slot = slot
	ba.killed = ""
	opts := ba.app.cfg.Browser
	self, root := ctx.Self(), ba.app.system.Root
	ba.app.closers.Add(1)
	go func() {
		defer ba.app.closers.Done()
		// No deadline on this context: it is the browser's own and would kill it.
		b, err := browser.Start(context.Background(), opts)
		if err != nil {
			root.Send(self, &browserStartFailed{Err: err})
			return
		}
		slot.mu.Lock()
		stopped := slot.stopped
		if !stopped {
			slot.b = b
		}
		slot.mu.Unlock()
		if stopped {
			b.Close()
			return
		}
		root.Send(self, &browserStarted{Browser: b, Generation: gen})
	}()
}

// watch runs the incarnation's liveness check until it exits or is replaced: every
// LivenessInterval it asks Chromium for its version, bounded by LivenessTimeout, and
// measures the process tree. Exits are reported at once, not at the next tick.
func (ba *browserActor) watch(ctx actor.Context, slot *chromiumSlot, b *browser.Browser) {
	self, root, gen := ctx.Self(), ba.app.system.Root, slot.generation
	interval, bound := ba.app.cfg.LivenessInterval, ba.app.cfg.LivenessTimeout
	stop := slot.stopWatch
	ba.app.closers.Add(1)
	go func() {
		defer ba.app.closers.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-b.Done():
				root.Send(self, &browserExited{Generation: gen})
				return
			case <-stop:
				return
			case <-tick.C:
			}
			cctx, cancel := context.WithTimeout(context.Background(), bound)
			_, err := b.Version(cctx)
			cancel()
			if err != nil && !errors.Is(err, browser.ErrBrowserClosed) {
				root.Send(self, &browserUnresponsive{Generation: gen, Err: err})
				continue
			}
			root.Send(self, &browserMeasured{Generation: gen, Usage: b.Usage()})
		}
	}()
}

// detach takes the current incarnation's Chromium out of the slot and ends its watch,
// leaving it running: it may still have renders in flight.
func (ba *browserActor) detach() *browser.Browser {
	slot := ba.slot
	if slot == nil {
		return nil
	}
	slot.mu.Lock()
	first := !slot.stopped
	slot.stopped = true
	b := slot.b
	slot.b = nil
	slot.mu.Unlock()
	if first {
		close(slot.stopWatch)
	}
	return b
}

// release tells the pool this incarnation takes no more leases and closes its
// Chromium, and every replaced one still waiting to retire, off the actor's goroutine
// (closing waits for the process).
func (ba *browserActor) release(ctx actor.Context) {
	for gen, b := range ba.retiring {
		delete(ba.retiring, gen)
		ba.close(b)
	}
	if ba.slot == nil {
		return
	}
	b := ba.detach()
	ctx.Send(ctx.Parent(), &BrowserDown{ID: ba.id, Generation: ba.slot.generation})
	if b != nil {
		ba.close(b)
	}
}

func (ba *browserActor) close(b *browser.Browser) {
	ba.app.closers.Add(1)
	go func() {
		defer ba.app.closers.Done()
		if err := b.Close(); err != nil {
			ba.app.log.Warn("closing browser", "browser", ba.id, "err", err)
		}
	}()
}
