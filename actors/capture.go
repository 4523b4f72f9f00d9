package actors

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
)

// Capture renders req once for a caller that wants the result as it is: a
// screenshot, a PDF or a HAR, or HTML with options (a viewport, a User-Agent,
// followed redirects) that must not reach the cache. It takes a tab through
// the pool's admission as a live render does (ErrOverloaded past
// render.queue_timeout or a full queue), and is retried once on another
// browser if its browser or tab fails, but it never joins another render and
// never reads or writes the cache.
//
// When ctx ends first, the render is cancelled (or its tab, once granted,
// handed straight back): nobody else wants its result.
func (a *Appliance) Capture(ctx context.Context, req browser.Request) (*browser.Result, error) {
	if a.stopping.Load() {
		return nil, ErrStopping
	}
	a.inflight.Add(1)
	defer a.inflight.Done()
	reply := make(chan *RenderDone, 1)
	// A capture has no shard: the guardian of its kind stops it when it fails,
	// and its Stopping answers reply (renderActor).
	props := actor.PropsFromProducer(func() actor.Actor {
		return &renderActor{app: a, req: req, class: ClassLive, reply: reply}
	}, actor.WithGuardian(renderChildren))
	pid := a.system.Root.SpawnPrefix(props, "capture-")
	select {
	case d := <-reply:
		if d.Err != nil {
			return nil, d.Err
		}
		return d.Result, nil
	case <-ctx.Done():
		a.system.Root.Send(pid, &abandonRender{})
		return nil, ctx.Err()
	}
}
