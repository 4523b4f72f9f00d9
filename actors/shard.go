package actors

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"

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
}

type flight struct {
	waiters []chan<- *Rendered
	child   *actor.PID
	class   Class // the most urgent class of its askers
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
	case *pagePersisted:
		s.persisted(m)
	case *actor.Stopping:
		// Children stop with us; their waiters must not hang.
		for key, f := range s.inflight {
			s.answer(f, &Rendered{Err: ErrStopping})
			delete(s.inflight, key)
		}
		s.stopDeletes()
	}
}

func (s *shardActor) start(ctx actor.Context, m *StartRender) {
	if f, ok := s.inflight[m.Key]; ok {
		f.waiters = append(f.waiters, m.Reply)
		if m.Class == ClassLive && f.class != ClassLive {
			// A crawler now waits on a queued render: its wait for a tab becomes live.
			f.class = ClassLive
			ctx.Send(f.child, &upgradeToLive{})
		}
		s.app.metrics.rendersJoined.Inc()
		return
	}
	// A render of this key may have finished between the caller's cache read and this
	// message: look again so it is served, not rendered twice. A Pebble read of one
	// key is microseconds, so this does not hold up the shard.
	if s.fresh(m.Key) {
		m.Reply <- &Rendered{FromStore: true}
		return
	}
	s.seq++
	h := fnv.New64a()
	h.Write([]byte(m.Key))
	name := fmt.Sprintf("render-%016x-%d", h.Sum64(), s.seq)
	a := s.app
	req := browser.Request{URL: m.URL}
	key, class := m.Key, m.Class
	child, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &renderActor{app: a, key: key, req: req, class: class}
	}), name)
	if err != nil {
		m.Reply <- &Rendered{Err: fmt.Errorf("cannot spawn render actor: %w", err)}
		return
	}
	s.inflight[m.Key] = &flight{waiters: []chan<- *Rendered{m.Reply}, child: child, class: class}
}

func (s *shardActor) fresh(key string) bool {
	now := s.app.cfg.Clock()
	err := s.app.store.ViewPage(key, func(v *storage.PageView) error {
		if !now.Before(v.ExpiresAt) {
			return errExpired
		}
		return nil
	})
	return err == nil
}

var errExpired = errors.New("expired")

func (s *shardActor) done(ctx actor.Context, m *RenderDone) {
	f, ok := s.inflight[m.Key]
	if !ok {
		return
	}
	if m.Err != nil || !storable(m.Result) {
		delete(s.inflight, m.Key)
		s.answer(f, &Rendered{Result: m.Result, Err: m.Err})
		return
	}
	// Persist off the actor's goroutine (gzip and an fsync are milliseconds). The key
	// stays in flight meanwhile, so askers that arrive now join and are answered with
	// the stored page.
	// INVARIANT: only this shard writes p/<key>, and only one write per key is in
	// progress, because the key stays in s.inflight until pagePersisted arrives.
	self := ctx.Self()
	root := s.app.system.Root
	page := s.pageOf(m.Key, m.URL, m.Result)
	store := s.app.store
	go func() {
		err := gzipInto(page)
		if err == nil {
			err = store.PutPage(page)
		}
		root.Send(self, &pagePersisted{Key: page.Key, Page: page, Err: err})
	}()
}

func (s *shardActor) persisted(m *pagePersisted) {
	f, ok := s.inflight[m.Key]
	if !ok {
		return
	}
	delete(s.inflight, m.Key)
	r := &Rendered{Result: &browser.Result{
		Status: m.Page.Status, Header: m.Page.Header, HTML: m.Page.Plain,
		FinalURL: m.Page.URL, Duration: m.Page.RenderTime,
	}}
	if m.Err != nil {
		s.app.metrics.storeFailed.Inc()
		s.app.log.Error("cannot store page", "key", m.Key, "err", m.Err)
		r.StoreErr = m.Err
	} else {
		r.Stored = true
		r.Page = m.Page
	}
	s.answer(f, r)
}

func (s *shardActor) answer(f *flight, r *Rendered) {
	for i, w := range f.waiters {
		rr := *r
		rr.Joined = i > 0
		w <- &rr // buffered: an asker that left does not block the shard
	}
}

// storable: only complete 200 renders are cached (prerender.io's rule).
func storable(r *browser.Result) bool {
	return r != nil && r.Status == 200 && !r.Incomplete
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
