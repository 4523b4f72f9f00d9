package actors

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
	"prerenderd/policy"
	"prerenderd/storage"
)

// shardActor owns the keys that hash to it: the renders in flight and their
// waiters, every write of those keys, and (through its keyState) their flags,
// hit counts and running disk work.
//
// A restart by the supervisor answers every waiter with ErrRestarted, as a
// stop answers them with ErrStopping; the keyState outlives it.
type shardActor struct {
	app      *Appliance
	index    int
	keys     *keyState
	inflight map[string]*flight
	// parked are render requests for keys in keys.writing, started when the
	// write is done.
	parked   []*StartRender
	flushing *time.Timer // next flush of the hit counts
	stopping bool
}

// flightIDs numbers flights across shards and their incarnations, so that a
// late report of a child of an abandoned flight never matches a new one.
var flightIDs atomic.Uint64

type flight struct {
	id      uint64 // the render child's, so a late report of an abandoned child is ignored
	waiters []*StartRender
	child   *actor.PID
	class   Class // the most urgent class of its askers
	started Class // the class of the asker that started the render
	live    bool  // a crawler waits on it (it started it or joined)
	// markdown: a waiter answers the page's Markdown (StartRender.Markdown).
	markdown bool
	// hits counted for this key while its store work runs; applied after it, so
	// the two read-modify-writes of m/<key> never interleave.
	hits hitCount
	// served: a crawler got this key's page as PRERENDER while the store work
	// ran; the page's stored flag is cleared after that work.
	served bool
}

func newShardActor(a *Appliance, i int) *shardActor {
	return &shardActor{app: a, index: i, keys: a.keys[i], inflight: make(map[string]*flight)}
}

// renderChildren stops a render child that fails instead of restarting it: a
// restarted child would render again for waiters its shard has answered.
var renderChildren = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })

func (s *shardActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.armFlush(ctx)
	case *StartRender:
		s.startOrPark(ctx, m)
	case *RenderDone:
		s.done(ctx, m)
	case *renderApplied:
		s.applied(ctx, m)
	case *deletePages:
		s.deletePages(ctx, m)
	case *deletesDone:
		s.deletesDone(ctx, m)
	case *staleHit:
		s.staleHit(m)
	case *storeMarkdown:
		s.storeMarkdown(m)
	case *claimPrerender:
		m.Reply <- s.claimPrerender(m.Key)
	case *markPending:
		s.markPending(m)
	case *staleNotQueued:
		s.keys.setFlag(m.Key, func(f policy.Flags) policy.Flags { f.StaleQueued = false; return f })
	case *flushHits:
		s.flushHits()
		s.armFlush(ctx)
		if m.Done != nil {
			m.Done <- struct{}{}
		}
	case *crash:
		panic(fmt.Sprintf("shard %d: crash asked for", s.index))
	case *actor.Restarting:
		s.abandon(ErrRestarted)
	case *actor.Stopping:
		s.stopping = true
		s.abandon(ErrStopping)
	}
}

// abandon answers every waiter of this incarnation with err: its render
// children stop with it, so nobody else would. Disk work that runs goes on;
// its report reaches the next incarnation, which owns the same keyState.
func (s *shardActor) abandon(err error) {
	if s.flushing != nil {
		s.flushing.Stop()
	}
	for key, f := range s.inflight {
		s.answer(f, &Rendered{Err: err})
		delete(s.inflight, key)
	}
	for _, r := range s.parked {
		s.reply(r, &Rendered{Err: err})
	}
	s.parked = nil
}

// startOrPark joins the render of m's key that runs, waits for the key's disk
// write to end, or starts a render.
func (s *shardActor) startOrPark(ctx actor.Context, m *StartRender) {
	if _, ok := s.inflight[m.Key]; !ok && s.keys.writing[m.Key] {
		s.parked = append(s.parked, m)
		return
	}
	s.start(ctx, m)
}

func (s *shardActor) start(ctx actor.Context, m *StartRender) {
	if s.stopping {
		// A child spawned now would never be told to stop, and this actor
		// would wait for it forever (protoactor still delivers user messages
		// while an actor stops).
		s.reply(m, &Rendered{Err: ErrStopping})
		return
	}
	if f, ok := s.inflight[m.Key]; ok {
		f.waiters = append(f.waiters, m)
		if m.Class == ClassLive && f.class != ClassLive {
			// A crawler now waits on a queued render: its wait for a tab becomes live.
			f.class = ClassLive
			ctx.Send(f.child, &upgradeToLive{})
		}
		f.live = f.live || m.Class == ClassLive
		f.markdown = f.markdown || m.Markdown
		s.app.metrics.rendersJoined.Inc()
		return
	}
	// A render of this key may have finished between the caller's cache read and this
	// message: look again so it is served, not rendered twice. A Pebble read of one
	// key is microseconds, so this does not hold up the shard.
	if r := s.unneeded(m); r != nil {
		s.reply(m, r)
		return
	}
	id := flightIDs.Add(1)
	name := fmt.Sprintf("render-%08x-%d", keyHash(m.Key), id)
	a := s.app
	req := a.renderRequest(m.Key, m.URL)
	key, class := m.Key, m.Class
	child, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &renderActor{app: a, key: key, req: req, class: class, flight: id}
	}), name)
	if err != nil {
		s.reply(m, &Rendered{Err: fmt.Errorf("cannot spawn render actor: %w", err)})
		return
	}
	s.inflight[m.Key] = &flight{
		id: id, waiters: []*StartRender{m}, child: child,
		class: class, started: m.Class, live: m.Class == ClassLive, markdown: m.Markdown,
	}
}

// unneeded answers a StartRender that the stored page already satisfies
// (policy.Recheck), or returns nil when a render must run.
func (s *shardActor) unneeded(m *StartRender) *Rendered {
	p, err := s.stored(m.Key)
	if err != nil {
		return nil // a store that cannot be read is not a reason to refuse a render
	}
	switch policy.Recheck(p, policy.Ask{Live: m.Class == ClassLive, Since: m.Since, OnlyStored: m.OnlyStored}, s.app.cfg.Clock()) {
	case policy.Skip:
		return &Rendered{Skipped: true}
	case policy.AnswerFromStore:
		return &Rendered{FromStore: true, Skipped: m.Class != ClassLive}
	}
	return nil
}

// stored reads the summary of key's page the policy needs; a page that is not
// stored is a zero Page and no error.
func (s *shardActor) stored(key string) (policy.Page, error) {
	var p policy.Page
	err := s.app.store.ViewPage(key, func(v *storage.PageView) error {
		p = pageOf(v)
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		err = nil
	}
	return p, err
}

// pageOf is the policy's summary of a stored page.
func pageOf(v *storage.PageView) policy.Page {
	return policy.Page{Stored: true, RenderedAt: v.RenderedAt, ExpiresAt: v.ExpiresAt, Prerendered: v.Prerendered}
}

// done judges a finished render (policy.Judge) and starts its store work.
func (s *shardActor) done(ctx actor.Context, m *RenderDone) {
	f, ok := s.inflight[m.Key]
	if !ok || f.id != m.Flight {
		return // a child of an abandoned flight
	}
	prev, _ := s.stored(m.Key)
	res := resultOf(m.Result, m.Err)
	v := policy.Judge(res, prev.Stored)
	if policy.RetryLive(f.live, v, res) {
		// A crawler got a failure: try once more from the priority queue, so the
		// next crawler finds the page.
		s.app.enqueueRecache(m.Key, m.URL, "retry")
	}
	if v.Action == policy.Answer {
		delete(s.inflight, m.Key)
		if f.served {
			s.markServed(m.Key)
		}
		s.answer(f, &Rendered{Result: m.Result, Err: m.Err})
		return
	}
	// Store work runs off the actor's goroutine (gzip and an fsync are
	// milliseconds). The key stays in flight meanwhile, so askers that arrive now
	// join and get the outcome.
	// INVARIANT: only this shard writes p/<key>, and only one write per key is in
	// progress: the key stays in s.inflight, and in keys.writing, until
	// renderApplied arrives (at this incarnation or, after a restart, the next).
	st := &storeWork{
		shard: s, key: m.Key, verdict: v, result: m.Result, err: m.Err,
		queued: f.started != ClassLive, now: s.app.cfg.Clock(), markdownFirst: f.markdown,
	}
	if v.Action == policy.Store {
		st.page = s.newPage(m.Key, m.URL, m.Result, st.now)
		st.page.Prerendered = policy.Prerendered(f.live, prev)
	}
	s.keys.writing[m.Key] = true
	self, root := ctx.Self(), s.app.system.Root
	go func() {
		root.Send(self, &renderApplied{Key: st.key, Rendered: st.apply()})
		if st.markdownLater {
			st.storeMarkdownLater(self)
		}
	}()
}

// resultOf is what the policy reads of a finished render.
func resultOf(res *browser.Result, err error) policy.Result {
	switch {
	case err != nil && (errors.Is(err, browser.ErrNavigation) && !errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, browser.ErrDocumentIncomplete)):
		return policy.Result{Err: policy.OriginUnreachable}
	case err != nil || res == nil:
		return policy.Result{Err: policy.OtherError}
	}
	return policy.Result{Status: res.Status, Incomplete: res.Incomplete, StatusDeclared: res.StatusDeclared, Location: res.Header.Get("Location")}
}

// applied ends a key's store work: the counted hits and a PRERENDER claimed
// meanwhile are written, and the waiters answered.
func (s *shardActor) applied(ctx actor.Context, m *renderApplied) {
	delete(s.keys.writing, m.Key)
	f, ok := s.inflight[m.Key]
	if ok {
		delete(s.inflight, m.Key)
		if f.hits.n > 0 {
			s.storeHits(m.Key, f.hits)
		}
		if f.served {
			s.markServed(m.Key)
		}
		s.answer(f, m.Rendered)
	}
	s.unpark(ctx)
}

// answer replies to every waiter of a flight.
func (s *shardActor) answer(f *flight, r *Rendered) {
	for i, w := range f.waiters {
		rr := *r
		rr.Joined = i > 0
		s.reply(w, &rr)
	}
}

// reply answers one asker: on its channel (the façade, which may have left:
// the channel is buffered) or, for a queue, by a message. A priority recache
// that ran, or found nothing to do, clears the flags it answered
// (policy.Flags.RecacheRan); one that was never tried (no tab, a stop, a
// restart) leaves them.
func (s *shardActor) reply(m *StartRender, r *Rendered) {
	if m.Class == ClassPriority && !deferred(r.Err) {
		s.keys.setFlag(m.Key, func(f policy.Flags) policy.Flags { return f.RecacheRan(m.Since) })
	}
	switch {
	case m.Reply != nil:
		m.Reply <- r
	case m.ReplyTo != nil:
		s.app.system.Root.Send(m.ReplyTo, &queueRenderDone{Item: m.Item, Rendered: r, Err: r.Err})
	}
}

// deferred: the render was never tried; a queue keeps its item.
func deferred(err error) bool {
	return errors.Is(err, ErrOverloaded) || errors.Is(err, ErrStopping) || errors.Is(err, ErrRestarted)
}

// newPage is the stored form of a storable render. Its gzip body and ETag
// are made by storage.PutPage, in the store work.
func (s *shardActor) newPage(key, url string, r *browser.Result, now time.Time) *storage.Page {
	return &storage.Page{
		Key:        key,
		URL:        url,
		Status:     r.Status,
		Header:     r.Header,
		RenderedAt: now,
		ExpiresAt:  now.Add(s.app.cfg.TTL),
		RenderTime: r.Duration,
		Plain:      r.HTML,
	}
}

// storeWork is what a finished render does to its key's stored page,
// carried out in a goroutine of the key's shard while the key is held.
type storeWork struct {
	shard   *shardActor
	key     string
	verdict policy.Judgement
	result  *browser.Result
	err     error
	page    *storage.Page // the page to store, for policy.Store
	queued  bool          // started by a recache queue
	now     time.Time
	// markdownFirst: make the page's Markdown before storing it (a waiter
	// answers it); otherwise apply stores the HTML and sets markdownLater.
	markdownFirst bool
	markdownLater bool
}

// apply does the store work of the verdict and says what it did.
func (w *storeWork) apply() *Rendered {
	a, st, key, res := w.shard.app, w.shard.app.store, w.key, w.result
	switch w.verdict.Action {
	case policy.Store:
		r := &Rendered{Result: &browser.Result{
			Status: w.page.Status, Header: w.page.Header, HTML: w.page.Plain, FinalURL: w.page.URL,
			Duration: w.page.RenderTime, StatusDeclared: res.StatusDeclared,
		}}
		if w.markdownFirst {
			w.page.Markdown = a.markdownOf(w.page)
		}
		if err := st.PutPage(w.page); err != nil {
			a.metrics.storeFailed.Inc()
			a.log.Error("cannot store page", "key", key, "err", err)
			r.StoreErr = err
			return r
		}
		r.Stored, r.Page = true, w.page
		w.markdownLater = !w.markdownFirst && !a.cfg.NoMarkdown
		return r
	case policy.Renew:
		if err := st.SetPageExpiry(key, w.now.Add(a.cfg.TTL)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			a.log.Error("cannot renew page", "key", key, "err", err)
		}
		w.updateMeta(func(m *storage.Meta) { m.LastStatus, m.Consecutive5xx = 304, 0 })
		return &Rendered{Result: res, Renewed: true}
	case policy.Remove:
		w.remove(w.verdict.Reason, res.Status)
		return &Rendered{Result: res, Removed: w.verdict.Reason}
	case policy.Keep:
		r := &Rendered{Result: res, Err: w.err, Kept: true}
		if w.verdict.Reason == "5xx" {
			n := 0
			w.updateMeta(func(m *storage.Meta) {
				m.LastStatus = res.Status
				m.Consecutive5xx++
				n = m.Consecutive5xx
			})
			if policy.RemoveAfter5xx(n) {
				w.remove("5xx", res.Status)
				return &Rendered{Result: res, Removed: "5xx"}
			}
		}
		if w.queued {
			// Without this the page stays at the head of the due index and the
			// normal queue would hammer a failing origin.
			if err := st.SetPageExpiry(key, w.now.Add(policy.RetryBackoff(a.cfg.TTL))); err != nil && !errors.Is(err, storage.ErrNotFound) {
				a.log.Error("cannot reschedule page", "key", key, "err", err)
			}
		}
		return r
	}
	return &Rendered{Result: res, Err: w.err}
}

func (w *storeWork) remove(reason string, status int) {
	a := w.shard.app
	if err := a.store.DeletePage(w.key); err != nil {
		a.log.Error("cannot remove page", "key", w.key, "reason", reason, "err", err)
		return
	}
	a.metrics.removed(reason).Inc()
	a.log.Info("page removed from cache", "key", w.key, "reason", reason, "status", status)
}

// updateMeta read-modify-writes m/<key> of a stored page.
func (w *storeWork) updateMeta(fn func(*storage.Meta)) {
	a := w.shard.app
	m, err := a.store.GetMeta(w.key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.log.Error("cannot read page metadata", "key", w.key, "err", err)
		return
	}
	fn(&m)
	if err := a.store.PutMeta(w.key, m); err != nil {
		a.log.Error("cannot store page metadata", "key", w.key, "err", err)
	}
}
