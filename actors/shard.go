package actors

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
	"prerenderd/storage"
)

// shardActor owns the keys that hash to it: the in-flight table, the waiters of each
// render, and every write of those keys.
type shardActor struct {
	app      *Appliance
	index    int
	seq      uint64
	inflight map[string]*flight
	del      deleteState
	stopping bool
}

type flight struct {
	waiters []chan<- *Rendered
	child   *actor.PID
	class   Class  // the most urgent class of its askers
	started Class  // the class of the asker that started the render
	source  string // of the asker that started the render
	live    bool   // a crawler waits on it (it started it or joined)
	// hits counted for this key while its store work runs; applied after it, so
	// the two read-modify-writes of m/<key> never interleave.
	hits hitCount
	// served: a crawler got this key's page as PRERENDER while the store work
	// ran; its flag is cleared after that work.
	served bool
}

func newShardActor(a *Appliance, i int) *shardActor {
	return &shardActor{app: a, index: i, inflight: make(map[string]*flight)}
}

func (s *shardActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *StartRender:
		s.startOrPark(ctx, m)
	case *deletePages:
		s.deletePages(ctx, m)
	case *deletesDone:
		s.deletesDone(ctx, m)
	case *RenderDone:
		s.done(ctx, m)
	case *renderApplied:
		s.applied(m)
	case *hitsBatch:
		s.addHits(m)
	case *markServed:
		s.markServed(m.Key)
	case *actor.Stopping:
		s.stopping = true
		// Children stop with us; their waiters must not hang.
		for key, f := range s.inflight {
			s.answer(f, &Rendered{Err: ErrStopping})
			delete(s.inflight, key)
		}
		s.stopDeletes()
	}
}

func (s *shardActor) start(ctx actor.Context, m *StartRender) {
	if s.stopping {
		// A child spawned now would never be told to stop, and this actor
		// would wait for it forever (protoactor still delivers user messages
		// while an actor stops).
		m.Reply <- &Rendered{Err: ErrStopping}
		return
	}
	if f, ok := s.inflight[m.Key]; ok {
		f.waiters = append(f.waiters, m.Reply)
		if m.Class == ClassLive && f.class != ClassLive {
			// A crawler now waits on a queued render: its wait for a tab becomes live.
			f.class = ClassLive
			ctx.Send(f.child, &upgradeToLive{})
		}
		f.live = f.live || m.Class == ClassLive
		s.app.metrics.rendersJoined.Inc()
		return
	}
	// A render of this key may have finished between the caller's cache read and this
	// message: look again so it is served, not rendered twice. A Pebble read of one
	// key is microseconds, so this does not hold up the shard.
	if r := s.unneeded(m); r != nil {
		m.Reply <- r
		return
	}
	s.seq++
	h := fnv.New64a()
	h.Write([]byte(m.Key))
	name := fmt.Sprintf("render-%016x-%d", h.Sum64(), s.seq)
	a := s.app
	req := a.renderRequest(m.Key, m.URL)
	key, class := m.Key, m.Class
	child, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &renderActor{app: a, key: key, req: req, class: class}
	}), name)
	if err != nil {
		m.Reply <- &Rendered{Err: fmt.Errorf("cannot spawn render actor: %w", err)}
		return
	}
	s.inflight[m.Key] = &flight{
		waiters: []chan<- *Rendered{m.Reply}, child: child,
		class: class, started: m.Class, source: m.Source, live: m.Class == ClassLive,
	}
}

// unneeded answers a StartRender that the stored page already satisfies, or
// returns nil when a render must run.
func (s *shardActor) unneeded(m *StartRender) *Rendered {
	now := s.app.cfg.Clock()
	var renderedAt, expiresAt time.Time
	err := s.app.store.ViewPage(m.Key, func(v *storage.PageView) error {
		renderedAt, expiresAt = v.RenderedAt, v.ExpiresAt
		return nil
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if m.OnlyStored {
			return &Rendered{Skipped: true}
		}
		return nil
	case err != nil:
		return nil // a store that cannot be read is not a reason to refuse a render
	case m.Since.IsZero() && now.Before(expiresAt):
		return &Rendered{FromStore: true, Skipped: m.Class != ClassLive}
	case !m.Since.IsZero() && !renderedAt.Before(m.Since):
		return &Rendered{FromStore: true, Skipped: m.Class != ClassLive}
	}
	return nil
}

func (s *shardActor) done(ctx actor.Context, m *RenderDone) {
	f, ok := s.inflight[m.Key]
	if !ok {
		return
	}
	prev := s.previous(m.Key)
	v := judge(m.Result, m.Err, prev.exists)
	if f.live && v.action != actStore && retryWorthy(m.Result, m.Err) {
		// A crawler got a failure: try once more from the priority queue, so the
		// next crawler finds the page (prerender.io's render retries).
		s.app.enqueueRetry(m.Key, m.URL)
	}
	if v.action == actServe {
		delete(s.inflight, m.Key)
		s.answer(f, &Rendered{Result: m.Result, Err: m.Err})
		return
	}
	// Store work runs off the actor's goroutine (gzip and an fsync are
	// milliseconds). The key stays in flight meanwhile, so askers that arrive now
	// join and get the outcome.
	// INVARIANT: only this shard writes p/<key>, and only one write per key is in
	// progress, because the key stays in s.inflight until renderApplied arrives.
	a := s.app
	self, root := ctx.Self(), a.system.Root
	now := a.cfg.Clock()
	key, url, res, rerr := m.Key, m.URL, m.Result, m.Err
	queued := f.started != ClassLive
	var page *storage.Page
	if v.action == actStore {
		page = s.pageOf(key, url, res)
		page.Prerendered = !f.live && (!prev.exists || prev.prerendered)
	}
	go func() {
		r := a.apply(v, key, res, rerr, page, queued, now)
		root.Send(self, &renderApplied{Key: key, Rendered: r})
	}()
}

// retryWorthy: the origin failed in a way that is often transient (a 5xx, a
// refused connection, a DNS failure, a document cut short), so one more try from the priority queue
// may give the next crawler a page. A page that crashes its tab or never goes
// idle is not retried: that would only take a tab from live work again.
// Overload and shutdown are not either: no render was tried.
func retryWorthy(res *browser.Result, err error) bool {
	if err != nil {
		return errors.Is(err, browser.ErrNavigation) && !errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, browser.ErrDocumentIncomplete)
	}
	return res.Status >= 500
}

type previousPage struct{ exists, prerendered bool }

func (s *shardActor) previous(key string) previousPage {
	var p previousPage
	_ = s.app.store.ViewPage(key, func(v *storage.PageView) error {
		p = previousPage{exists: true, prerendered: v.Prerendered}
		return nil
	})
	return p
}

func (s *shardActor) applied(m *renderApplied) {
	f, ok := s.inflight[m.Key]
	if !ok {
		return
	}
	delete(s.inflight, m.Key)
	if f.hits.n > 0 {
		s.storeHits(m.Key, f.hits)
	}
	if f.served {
		s.markServed(m.Key)
	}
	s.answer(f, m.Rendered)
}

func (s *shardActor) answer(f *flight, r *Rendered) {
	for i, w := range f.waiters {
		rr := *r
		rr.Joined = i > 0
		w <- &rr // buffered: an asker that left does not block the shard
	}
}

// storable: complete 200 renders are cached, and redirects a page declares with
// prerender-status-code and a prerender-header Location (prerender.io's rules).
func storable(r *browser.Result) bool {
	if r == nil || r.Incomplete {
		return false
	}
	return r.Status == 200 || (r.StatusDeclared && r.Status >= 300 && r.Status < 400 && r.Header.Get("Location") != "")
}

func (s *shardActor) pageOf(key, url string, r *browser.Result) *storage.Page {
	now := s.app.cfg.Clock()
	sum := sha256.Sum256(r.HTML)
	return &storage.Page{
		Key:        key,
		URL:        url,
		Status:     r.Status,
		Header:     r.Header,
		RenderedAt: now,
		ExpiresAt:  now.Add(s.app.cfg.TTL),
		RenderTime: r.Duration,
		Plain:      r.HTML,
		ETag:       `"` + hex.EncodeToString(sum[:16]) + `"`,
	}
}

func gzipInto(p *storage.Page) error {
	var buf bytes.Buffer
	buf.Grow(len(p.Plain) / 4)
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(p.Plain); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	p.Gzip = buf.Bytes()
	return nil
}
