package actors

import (
	"github.com/asynkron/protoactor-go/actor"
)

// deletePages asks a shard to remove pages of keys it owns (cache clear, eviction).
// The shard answers on Reply exactly once.
type deletePages struct {
	Keys  []string
	Reply chan<- pagesDeleted
}

// pagesDeleted is a shard's answer to deletePages: pages removed, and keys left
// alone because a render of them was running (its result replaces the page).
type pagesDeleted struct {
	Deleted int
	Busy    int
	Err     error
}

// deletesDone reports the end of a shard's delete goroutine.
type deletesDone struct {
	Keys  []string
	Busy  int
	N     int
	Err   error
	Reply chan<- pagesDeleted
}

// deleteState is the part of a shard that deletes: keys whose delete is running,
// and the render requests for them that wait until it is done.
type deleteState struct {
	deleting map[string]bool
	parked   []*StartRender
}

// deletePages removes keys in a goroutine (one synced batch is milliseconds of
// fsync, too long for Receive).
//
// INVARIANT: one write of a key at a time. A key being rendered is skipped: its
// flight ends with a write of its own. A key being deleted is skipped by a second
// delete. A render asked for a key being deleted is parked until the delete ends,
// so no PutPage of it runs beside DeletePages; flushed hits and served marks of it
// are dropped (addHits, markServed), so no m/ key outlives its page. Any new write
// path of the shard must check s.del.deleting the same way.
func (s *shardActor) deletePages(ctx actor.Context, m *deletePages) {
	if s.del.deleting == nil {
		s.del.deleting = make(map[string]bool)
	}
	keys := make([]string, 0, len(m.Keys))
	busy := 0
	for _, k := range m.Keys {
		switch {
		case s.inflight[k] != nil:
			busy++
		case s.del.deleting[k]:
		default:
			s.del.deleting[k] = true
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
		delete(s.del.deleting, k)
	}
	m.Reply <- pagesDeleted{Deleted: m.N, Busy: m.Busy, Err: m.Err}
	if len(s.del.parked) == 0 {
		return
	}
	parked := s.del.parked
	s.del.parked = nil
	for _, r := range parked {
		s.startOrPark(ctx, r)
	}
}

// startOrPark starts a render unless its key is being deleted.
func (s *shardActor) startOrPark(ctx actor.Context, m *StartRender) {
	if s.del.deleting[m.Key] {
		s.del.parked = append(s.del.parked, m)
		return
	}
	s.start(ctx, m)
}

// stopDeletes answers the parked renders when the shard stops.
func (s *shardActor) stopDeletes() {
	for _, r := range s.del.parked {
		r.Reply <- &Rendered{Err: ErrStopping}
	}
	s.del.parked = nil
}
