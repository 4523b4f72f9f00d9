package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// This file is the top of the actor tree: the root supervisor that spawns
// the pool, the shards, the queues and the sitemaps actor, and the actor that
// owns the HTTP server's lifecycle.

// applianceActor is the root supervisor.
type applianceActor struct {
	app   *Appliance
	ready chan struct{}
}

func (r *applianceActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a := r.app
		a.pool.Store(ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newPoolActor(a) },
			actor.WithSupervisor(actor.NewOneForOneStrategy(10, 10*time.Second, actor.DefaultDecider)))))
		shards := make([]*actor.PID, a.cfg.Shards)
		for i := range shards {
			props := actor.PropsFromProducer(func() actor.Actor { return newShardActor(a, i) }, actor.WithSupervisor(renderChildren))
			pid, err := ctx.SpawnNamed(props, fmt.Sprintf("shard-%d", i))
			if err != nil {
				panic(fmt.Sprintf("cannot spawn shard %d: %v", i, err))
			}
			shards[i] = pid
		}
		a.shards.Store(&shards)
		// The priority queue first: the normal queue yields to what it loaded.
		for _, q := range []struct {
			name     string
			producer func() actor.Actor
			pid      **actor.PID
		}{
			{"queue-priority", func() actor.Actor { return newPriorityQueue(a) }, &a.priority},
			{"queue-normal", func() actor.Actor { return newNormalQueue(a) }, &a.normal},
		} {
			pid, err := ctx.SpawnNamed(actor.PropsFromProducer(q.producer), q.name)
			if err != nil {
				panic(fmt.Sprintf("cannot spawn %s: %v", q.name, err))
			}
			*q.pid = pid
		}
		a.sitemaps.Store(ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newSitemapsActor(a) })))
		if r.ready != nil {
			close(r.ready)
			r.ready = nil
		}
	case *spawnFront:
		pid, err := ctx.SpawnNamed(m.props, "httpfront")
		if err != nil {
			r.app.log.Error("spawn httpfront", "err", err)
		}
		m.reply <- pid
	}
}

// levelFloor drops records below a level; it keeps protoactor's chatter out of logs.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (l levelFloor) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.Handler.Enabled(ctx, lv)
}

// httpfrontActor owns the HTTP server's lifecycle: it starts it, and on stopHTTP shuts
// it down in a goroutine so that Receive never blocks on in-flight requests.
type httpfrontActor struct {
	srv    HTTPServer
	log    *slog.Logger
	failed chan<- error
	down   bool
}

func (h *httpfrontActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		srv, failed := h.srv, h.failed
		go func() {
			if err := srv.Serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.log.Error("http server failed", "err", err)
				select {
				case failed <- err:
				default:
				}
			}
		}()
	case *stopHTTP:
		if h.down {
			m.Done <- nil
			return
		}
		h.down = true
		sctx, cancel := context.Background(), context.CancelFunc(func() {})
		if !m.Deadline.IsZero() {
			sctx, cancel = context.WithDeadline(sctx, m.Deadline)
		}
		go func() {
			defer cancel()
			m.Done <- h.srv.Shutdown(sctx)
		}()
	}
}
