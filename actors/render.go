package actors

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
	"prerenderd/cachekey"
)

var leaseIDs atomic.Uint64

// maxAttempts: a render whose browser died is retried once on another browser.
const maxAttempts = 2

// renderActor is the short-lived child of a shard for one URL being rendered. It
// asks the pool for a tab, renders in a goroutine, retries once if the browser died,
// reports RenderDone to its shard and stops.
type renderActor struct {
	app      *Appliance
	key      string
	flight   uint64 // the shard's flight this render is for
	req      browser.Request
	class    Class
	waitID   uint64
	attempts int
	avoid    *Lease
	// softAvoid: the avoided browser is alive (a tab crashed), it may still serve.
	softAvoid bool
	running   bool // holds a tab now; false while waiting for one
	started   time.Time
	cancel    context.CancelFunc

	// reply, when set, gets the RenderDone instead of the parent: a capture
	// (Appliance.Capture) has no shard.
	reply chan<- *RenderDone
	// abandoned: the capture's caller left. Its render is cancelled, and a tab
	// granted later is handed straight back.
	abandoned bool
	// reported: RenderDone was sent. A child stopped before it reports (its
	// shard stops, or it failed: renderChildren stops it) reports then.
	reported bool
}

// renderRequest is the browser request of a cached render of key: the variant
// in the key chooses the screen, so a mobile key is rendered as a phone
// whoever asks for it (a crawler, a recache, a sitemap, the normal queue).
func (a *Appliance) renderRequest(key, url string) browser.Request {
	req := browser.Request{URL: url}
	if cachekey.VariantOfKey(key) == cachekey.Mobile {
		d := a.cfg.MobileDevice
		req.Device = &d
	}
	return req
}

func (r *renderActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.started = r.app.cfg.Clock()
		r.app.metrics.renderInflight.Add(1)
		r.app.tracker.waiting(r) // live state (state.go, issue 14)
		r.acquire(ctx)
	case *TabRefused:
		if m.ID != r.waitID {
			return
		}
		r.finish(ctx, nil, m.Err)
	case *upgradeToLive:
		if r.class == ClassLive {
			return
		}
		r.class = ClassLive
		if r.waitID != 0 && !r.running {
			ctx.Send(r.app.pool.Load(), &upgradeWait{ID: r.waitID, Deadline: r.app.cfg.Clock().Add(r.app.cfg.QueueTimeout)})
		}
	case *TabGranted:
		if m.ID != r.waitID || r.abandoned {
			// A grant for a wait we gave up on: hand the tab straight back.
			ctx.Send(r.app.pool.Load(), &ReleaseTab{Lease: m.Lease})
			if m.ID == r.waitID {
				r.finish(ctx, nil, context.Canceled)
			}
			return
		}
		r.run(ctx, m.Lease)
	case *abandonRender:
		r.abandoned = true
		if r.running && r.cancel != nil {
			r.cancel()
		}
	case *tabRendered:
		if m.Err != nil && !r.abandoned && r.attempts < maxAttempts && retryable(m.Err) {
			r.app.log.Warn("render failed, retrying on another browser", "url", r.req.URL, "browser", m.Lease.BrowserID, "err", m.Err)
			failed := m.Lease
			r.avoid = &failed
			r.softAvoid = !errors.Is(m.Err, browser.ErrBrowserClosed)
			r.acquire(ctx)
			return
		}
		r.finish(ctx, m.Result, m.Err)
	case *actor.Stopping:
		if r.cancel != nil {
			r.cancel()
		}
		if !r.reported {
			// A failure of this actor stops it (renderChildren), and so does
			// its shard's stop or restart: whoever waits on it is answered,
			// never left hanging, and the live state forgets it.
			r.app.tracker.done(r)
			r.report(ctx, nil, ErrRestarted)
		}
	}
}

func (r *renderActor) acquire(ctx actor.Context) {
	r.running = false
	r.waitID = leaseIDs.Add(1)
	// Only a crawler's wait is bounded: a queued recache may wait long for a tab.
	var deadline time.Time
	if r.class == ClassLive {
		deadline = r.app.cfg.Clock().Add(r.app.cfg.QueueTimeout)
	}
	ctx.Send(r.app.pool.Load(), &AcquireTab{
		ID:                 r.waitID,
		Class:              r.class,
		Deadline:           deadline,
		Avoid:              r.avoid,
		AvoidOnlyIfAnother: r.softAvoid,
		ReplyTo:            ctx.Self(),
	})
}

func (r *renderActor) run(ctx actor.Context, lease Lease) {
	r.attempts++
	r.running = true
	r.app.tracker.running(r, lease, r.app.cfg.Clock()) // live state (state.go, issue 14)
	// The page timeout is enforced inside the browser; this bound only guards against
	// a browser call that never returns.
	rctx, cancel := context.WithTimeout(context.Background(), r.app.cfg.Browser.PageTimeout+30*time.Second)
	r.cancel = cancel
	self, root, pool, req := ctx.Self(), r.app.system.Root, r.app.pool.Load(), r.req
	end := r.app.loading.begin(r.key)
	go func() {
		defer cancel()
		res, err := lease.Browser.Render(rctx, req)
		if end() && err == nil && res.Status == loopStatus {
			// The document is prerenderd's own refusal of the loop: the page
			// never loaded. A subresource refused the same way leaves the page.
			res, err = nil, fmt.Errorf("cannot render %q: %w", req.URL, ErrLoop)
		}
		// Released here, not by the actor: the actor may be gone by now, and a lost
		// release would be a tab lost for good.
		root.Send(pool, &ReleaseTab{Lease: lease})
		root.Send(self, &tabRendered{Result: res, Err: err, Lease: lease})
	}()
}

func (r *renderActor) finish(ctx actor.Context, res *browser.Result, err error) {
	m := r.app.metrics
	m.renderInflight.Add(-1)
	m.renderDuration.UpdateDuration(r.started)
	switch {
	case r.abandoned:
		r.app.log.Info("render abandoned by its caller", "url", r.req.URL, "attempts", r.attempts)
	case errors.Is(err, ErrOverloaded):
		m.rendersRefused.Inc()
	case err != nil:
		m.rendersFailed.Inc()
		r.app.log.Warn("render failed", "url", r.req.URL, "attempts", r.attempts, "err", err)
	case res.Incomplete:
		m.rendersIncompl.Inc()
		r.app.log.Info("render incomplete", "url", r.req.URL, "status", res.Status, "ms", res.Duration.Milliseconds())
	default:
		m.rendersOK.Inc()
		r.app.log.Info("rendered", "url", r.req.URL, "status", res.Status, "ms", res.Duration.Milliseconds(), "bytes", len(res.HTML)+len(res.Body))
	}
	r.app.renderFinished(r, res, err) // live state and Config.OnRender (state.go)
	r.report(ctx, res, err)
	ctx.Stop(ctx.Self())
}

// report sends the render's outcome to whoever waits on it, once.
func (r *renderActor) report(ctx actor.Context, res *browser.Result, err error) {
	r.reported = true
	done := &RenderDone{Key: r.key, URL: r.req.URL, Flight: r.flight, Result: res, Err: err}
	if r.reply != nil {
		r.reply <- done // buffered: the caller may have left
		return
	}
	ctx.Send(ctx.Parent(), done)
}

// retryable: the browser or the tab failed, not the origin; another browser may
// succeed once (a crash or a hang may be the page's own, so only once).
func retryable(err error) bool {
	return errors.Is(err, browser.ErrBrowserClosed) || errors.Is(err, browser.ErrTabCrashed) ||
		errors.Is(err, browser.ErrTabHung)
}
