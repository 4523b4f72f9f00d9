package actors

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/policy"
	"prerenderd/storage"
)

// This file holds the shard's handlers for what it owns of its keys besides
// renders (keystate.go): their flags, their hit counts, and their deletes.

// staleHit queues one priority recache of a page served STALE. Only the first
// stale hit of a key queues one: the flag stays until a recache of the key has
// run (reply), or the queue could not persist it (staleNotQueued).
func (s *shardActor) staleHit(m *staleHit) {
	if s.keys.flagsOf(m.Key).StaleQueued {
		return
	}
	s.keys.setFlag(m.Key, func(f policy.Flags) policy.Flags { f.StaleQueued = true; return f })
	s.app.enqueueRecache(m.Key, m.URL, "stale")
}

// claimPrerender decides whether the request that asks is the first serve of
// key's page rendered ahead of any crawler (X-Prerender-Cache: PRERENDER). It
// is true once per page: the shard clears the page's stored flag at once, or
// after the store work that runs, and announces it meanwhile in the flags.
func (s *shardActor) claimPrerender(key string) bool {
	if s.keys.flagsOf(key).Announced {
		return false
	}
	p, err := s.stored(key)
	if err != nil || !p.Prerendered {
		return false // another request claimed it and the flag is cleared already
	}
	if f, busy := s.inflight[key]; busy {
		f.served = true
		s.keys.setFlag(key, func(f policy.Flags) policy.Flags { f.Announced = true; return f })
		return true
	}
	if !s.keys.writing[key] {
		// Its delete runs otherwise: a write beside it would bring the page back.
		s.markServed(key)
	}
	return true
}

// markServed clears the prerendered flag of a page a crawler got, and its
// announcement. A NoSync write of one key: microseconds.
func (s *shardActor) markServed(key string) {
	if err := s.app.store.MarkServed(key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.app.log.Warn("cannot mark page served", "key", key, "err", err)
	}
	s.keys.setFlag(key, func(f policy.Flags) policy.Flags { f.Announced = false; return f })
}

// markPending records explicit recaches the priority queue accepted: a crawler
// asking for such a page before the queue reaches it gets a fresh render
// (REVALIDATED). The queue sends it before it dispatches the items, so the
// shard sees the mark before their renders.
func (s *shardActor) markPending(m *markPending) {
	keys := make([]string, len(m.Marks))
	since := make(map[string]time.Time, len(m.Marks))
	for i, mk := range m.Marks {
		keys[i] = mk.Key
		since[mk.Key] = mk.Since
	}
	s.keys.setFlags(keys, func(key string, f policy.Flags) policy.Flags {
		f.PendingSince = since[key]
		return f
	})
	if m.Done != nil {
		m.Done <- struct{}{}
	}
}

// armFlush schedules the next flush of the hit counts.
func (s *shardActor) armFlush(ctx actor.Context) {
	if s.flushing != nil {
		s.flushing.Stop()
	}
	self, root := ctx.Self(), s.app.system.Root
	s.flushing = time.AfterFunc(s.app.cfg.HitFlushEvery, func() { root.Send(self, &flushHits{}) })
}

// flushHits writes the hits counted since the last flush to m/. A key whose
// store work is running keeps its hits until that work ends; a key being
// deleted loses them.
func (s *shardActor) flushHits() {
	drained := s.keys.hits.drain()
	batch := make([]storage.Hits, 0, len(drained))
	for key, h := range drained {
		if f, ok := s.inflight[key]; ok {
			f.hits.add(h)
			continue
		}
		if s.keys.writing[key] {
			// Its delete runs now: a write beside it would leave an m/ key without
			// its page (see deletePages).
			continue
		}
		batch = append(batch, storage.Hits{Key: key, N: h.n, Last: h.last})
	}
	// One batch for the flush: after random hits it holds a key per hit.
	if err := s.app.store.AddHitsBatch(batch); err != nil {
		s.app.log.Warn("cannot record hits", "keys", len(batch), "err", err)
	}
}

func (s *shardActor) storeHits(key string, h hitCount) {
	// A NoSync Pebble write is microseconds; a flush holds one shard's keys of a
	// flush interval.
	if err := s.app.store.AddHits(key, h.n, h.last); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.app.log.Warn("cannot record hits", "key", key, "err", err)
	}
}

// deletePages removes keys in a goroutine (one synced batch is milliseconds of
// fsync, too long for Receive).
//
// INVARIANT: one write of a key at a time. A key being rendered is skipped: its
// flight ends with a write of its own. A key being written (deleted, or stored
// by a flight of an earlier incarnation) is skipped by a delete. A render asked
// for a key being deleted is parked until the delete ends, so no PutPage of it
// runs beside DeletePages; flushed hits and PRERENDER claims of it write
// nothing (flushHits, claimPrerender), so no m/ key outlives its page. Any new
// write path of the shard must check keys.writing the same way.
func (s *shardActor) deletePages(ctx actor.Context, m *deletePages) {
	keys := make([]string, 0, len(m.Keys))
	busy := 0
	for _, k := range m.Keys {
		switch {
		case s.inflight[k] != nil:
			busy++
		case s.keys.writing[k]:
		default:
			s.keys.writing[k] = true
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		m.Reply <- pagesDeleted{Busy: busy}
		return
	}
	self, root, store := ctx.Self(), s.app.system.Root, s.app.store
	go func() {
		n, err := store.DeletePages(keys)
		root.Send(self, &deletesDone{Keys: keys, Busy: busy, N: n, Err: err, Reply: m.Reply})
	}()
}

func (s *shardActor) deletesDone(ctx actor.Context, m *deletesDone) {
	for _, k := range m.Keys {
		delete(s.keys.writing, k)
	}
	m.Reply <- pagesDeleted{Deleted: m.N, Busy: m.Busy, Err: m.Err}
	s.unpark(ctx)
}

// unpark starts the parked renders whose key is no longer written.
func (s *shardActor) unpark(ctx actor.Context) {
	if len(s.parked) == 0 {
		return
	}
	parked := s.parked
	s.parked = nil
	for _, r := range parked {
		s.startOrPark(ctx, r)
	}
}
