package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
	"prerenderd/egress"
	"prerenderd/storage"
)

// This file is the appliance's life: Start builds the actor tree, Serve
// hands it the HTTP server, Stop takes both down in reverse order; the
// goroutines the appliance itself owns (goBackground) end before its actors.

// Start builds the actor tree. Browsers start in the background; Ready tells when one
// answers.
func Start(cfg Config, store *storage.Store) (*Appliance, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot start appliance: %w", err)
	}
	a := &Appliance{cfg: cfg, store: store, log: cfg.Logger, stopped: make(chan struct{})}
	a.keys = make([]*keyState, cfg.Shards)
	for i := range a.keys {
		a.keys[i] = newKeyState()
	}
	a.bgCtx, a.bgCancel = context.WithCancel(context.Background())
	a.metrics = newApplianceMetrics(a)
	// Profiles of an earlier run killed with -9 are never removed otherwise.
	browser.RemoveStaleProfiles(cfg.Logger)
	a.cfg.Egress.Metrics = a.metrics.set
	egr, err := egress.Start(a.cfg.Egress)
	if err != nil {
		return nil, fmt.Errorf("cannot start appliance: %w", err)
	}
	a.egress = egr
	a.cfg.Browser.Egress = egr
	// protoactor logs dead letters with the whole message (a render result can be
	// megabytes): keep its own logging at Warn.
	quiet := cfg.Logger.Handler()
	a.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(levelFloor{quiet, slog.LevelWarn})
	}))
	ready := make(chan struct{})
	props := actor.PropsFromProducer(func() actor.Actor {
		return &applianceActor{app: a, ready: ready}
	}, actor.WithSupervisor(actor.NewOneForOneStrategy(10, 10*time.Second, actor.DefaultDecider)))
	pid, err := a.system.Root.SpawnNamed(props, "appliance")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cannot spawn appliance actor: %w", err), egr.Close())
	}
	a.root = pid
	<-ready
	if cfg.MaxBytes > 0 {
		a.goBackground(func(ctx context.Context) { a.evictLoop(ctx, cfg.EvictInterval) })
	}
	return a, nil
}

// HTTPServer is the part of *http.Server the httpfront actor drives.
type HTTPServer interface {
	Serve() error
	Shutdown(ctx context.Context) error
}

// Serve hands srv to the httpfront actor, which starts it and shuts it down first on
// Stop. It returns at once; a server that fails is logged and reported on the channel.
func (a *Appliance) Serve(srv HTTPServer) <-chan error {
	failed := make(chan error, 1)
	props := actor.PropsFromProducer(func() actor.Actor {
		return &httpfrontActor{srv: srv, log: a.log, failed: failed}
	})
	reply := make(chan *actor.PID, 1)
	a.system.Root.Send(a.root, &spawnFront{props: props, reply: reply})
	a.front = <-reply
	return failed
}

// Stop shuts down in reverse order of start: the HTTP server stops accepting and lets
// requests finish (up to ctx's deadline), in-flight renders end, the actors are
// poisoned, and every Chromium process is closed and waited for.
func (a *Appliance) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() { a.stopErr = a.stop(ctx) })
	return a.stopErr
}

func (a *Appliance) stop(ctx context.Context) error {
	var errs []error
	if cn := a.cluster.Load(); cn != nil {
		// First: the other members place this one's virtual shards while it
		// drains, instead of when its etcd lease expires.
		cn.leave()
	}
	if a.front != nil {
		done := make(chan error, 1)
		deadline, _ := ctx.Deadline()
		a.system.Root.Send(a.front, &stopHTTP{Deadline: deadline, Done: done})
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("http shutdown: %w", ctx.Err()))
		}
	}
	// Under bgMu, so no background goroutine starts after bg.Wait.
	a.bgMu.Lock()
	a.stopping.Store(true)
	a.bgMu.Unlock()
	a.bgCancel()
	a.bg.Wait()
	renders := make(chan struct{})
	go func() { a.inflight.Wait(); close(renders) }()
	select {
	case <-renders:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("renders still running at the deadline: %w", ctx.Err()))
	}
	// Hits counted since the last flush go to the shards before they stop.
	a.flushHits(ctx)
	close(a.stopped)
	if cn := a.cluster.Load(); cn != nil {
		cn.shutdown()
	}
	// Poison rather than Shutdown: Shutdown does not stop actors.
	if err := a.system.Root.PoisonFuture(a.root).Wait(); err != nil {
		errs = append(errs, fmt.Errorf("stopping actors: %w (still running: %s)", err, a.liveActors()))
	}
	a.closers.Wait()
	a.system.Shutdown()
	// Last: no Chromium is left to connect through it.
	if err := a.egress.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// goBackground runs f in a goroutine the appliance owns: Stop cancels its context
// and waits for it. It returns false, without running f, once Stop has begun.
func (a *Appliance) goBackground(f func(ctx context.Context)) bool {
	a.bgMu.Lock()
	defer a.bgMu.Unlock()
	if a.stopping.Load() {
		return false
	}
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		f(a.bgCtx)
	}()
	return true
}

// liveActors names the actors still registered, for a stop that timed out.
func (a *Appliance) liveActors() string {
	var names []string
	for _, bucket := range a.system.ProcessRegistry.LocalPIDs.LocalPIDs {
		names = append(names, bucket.Keys()...)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
