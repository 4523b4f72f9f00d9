package actors

import (
	"context"
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
type browserActor struct {
	app     *Appliance
	id      int
	slot    *chromiumSlot
	backoff time.Duration
}

// chromiumSlot hands a started Chromium to the actor, or closes it when the actor
// stopped while it was starting: without it, a Chromium that finished starting after
// a stop would be left running.
type chromiumSlot struct {
	generation uint64 // set at creation, never changed
	mu         sync.Mutex
	stopped    bool
	b          *browser.Browser
}

func newBrowserActor(a *Appliance, id int) *browserActor {
	return &browserActor{app: a, id: id}
}

func (ba *browserActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ba.start(ctx)
	case *retryStart:
		ba.start(ctx)
	case *browserStarted:
		ba.backoff = 0
		ctx.Send(ctx.Parent(), &BrowserUp{ID: ba.id, Generation: m.Generation, Browser: m.Browser, Tabs: ba.app.cfg.TabsPerBrowser})
		ba.app.log.Info("browser up", "browser", ba.id, "pid", m.Browser.PID())
		self, root, gen, b := ctx.Self(), ba.app.system.Root, m.Generation, m.Browser
		go func() {
			<-b.Done()
			root.Send(self, &browserExited{Generation: gen})
		}()
	case *browserStartFailed:
		ba.backoff = min(max(2*ba.backoff, time.Second), 30*time.Second)
		ba.app.log.Error("cannot start browser", "browser", ba.id, "err", m.Err, "retry_in", ba.backoff.String())
		self, root := ctx.Self(), ba.app.system.Root
		time.AfterFunc(ba.backoff, func() { root.Send(self, &retryStart{}) })
	case *browserExited:
		b := ba.current()
		if b == nil || m.Generation != ba.slot.generation {
			return
		}
		ctx.Send(ctx.Parent(), &BrowserDown{ID: ba.id, Generation: m.Generation})
		ba.app.metrics.browserRestart.Inc()
		ba.app.log.Warn("browser exited, restarting", "browser", ba.id, "pid", b.PID())
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
	slot := &chromiumSlot{generation: gen}
	ba.slot = slot
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
		defer slot.mu.Unlock()
		if slot.stopped {
			b.Close()
			return
		}
		slot.b = b
		root.Send(self, &browserStarted{Browser: b, Generation: gen})
	}()
}

// release tells the pool this incarnation takes no more leases and closes its
// Chromium off the actor's goroutine (closing waits for the process).
func (ba *browserActor) release(ctx actor.Context) {
	slot := ba.slot
	if slot == nil {
		return
	}
	slot.mu.Lock()
	slot.stopped = true
	b := slot.b
	slot.b = nil
	slot.mu.Unlock()
	ctx.Send(ctx.Parent(), &BrowserDown{ID: ba.id, Generation: slot.generation})
	if b == nil {
		return
	}
	ba.app.closers.Add(1)
	go func() {
		defer ba.app.closers.Done()
		if err := b.Close(); err != nil {
			ba.app.log.Warn("closing browser", "browser", ba.id, "err", err)
		}
	}()
}
