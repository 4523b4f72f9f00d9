package actors

import (
	"errors"
	"time"

	"prerenderd/browser"
	"prerenderd/policy"
	"prerenderd/storage"
)

// apply does the store work of a verdict. It runs in a goroutine of the key's
// shard while the key is held in flight.
func (a *Appliance) apply(v policy.Judgement, key string, res *browser.Result, rerr error, page *storage.Page, queued bool, now time.Time) *Rendered {
	st := a.store
	switch v.Action {
	case policy.Store:
		r := &Rendered{Result: &browser.Result{
			Status: page.Status, Header: page.Header, HTML: page.Plain, FinalURL: page.URL,
			Duration: page.RenderTime, StatusDeclared: res.StatusDeclared,
		}}
		err := gzipInto(page)
		if err == nil {
			err = st.PutPage(page)
		}
		if err != nil {
			a.metrics.storeFailed.Inc()
			a.log.Error("cannot store page", "key", key, "err", err)
			r.StoreErr = err
			return r
		}
		r.Stored, r.Page = true, page
		return r
	case policy.Renew:
		if err := st.SetPageExpiry(key, now.Add(a.cfg.TTL)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			a.log.Error("cannot renew page", "key", key, "err", err)
		}
		a.updateMeta(key, func(m *storage.Meta) { m.LastStatus, m.Consecutive5xx = 304, 0 })
		return &Rendered{Result: res, Renewed: true}
	case policy.Remove:
		a.remove(key, v.Reason, res.Status)
		return &Rendered{Result: res, Removed: v.Reason}
	case policy.Keep:
		r := &Rendered{Result: res, Err: rerr, Kept: true}
		if v.Reason == "5xx" {
			n := 0
			a.updateMeta(key, func(m *storage.Meta) {
				m.LastStatus = res.Status
				m.Consecutive5xx++
				n = m.Consecutive5xx
			})
			if policy.RemoveAfter5xx(n) {
				a.remove(key, "5xx", res.Status)
				return &Rendered{Result: res, Removed: "5xx"}
			}
		}
		if queued {
			// Without this the page stays at the head of the due index and the
			// normal queue would hammer a failing origin.
			if err := st.SetPageExpiry(key, now.Add(policy.RetryBackoff(a.cfg.TTL))); err != nil && !errors.Is(err, storage.ErrNotFound) {
				a.log.Error("cannot reschedule page", "key", key, "err", err)
			}
		}
		return r
	}
	return &Rendered{Result: res, Err: rerr}
}

func (a *Appliance) remove(key, reason string, status int) {
	if err := a.store.DeletePage(key); err != nil {
		a.log.Error("cannot remove page", "key", key, "reason", reason, "err", err)
		return
	}
	a.metrics.removed(reason).Inc()
	a.log.Info("page removed from cache", "key", key, "reason", reason, "status", status)
}

// updateMeta read-modify-writes m/<key> of a stored page.
// INVARIANT: called by the key's shard, or by its goroutine while the key is in
// flight, so no other write of m/<key> runs at the same time.
func (a *Appliance) updateMeta(key string, fn func(*storage.Meta)) {
	m, err := a.store.GetMeta(key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.log.Error("cannot read page metadata", "key", key, "err", err)
		return
	}
	fn(&m)
	if err := a.store.PutMeta(key, m); err != nil {
		a.log.Error("cannot store page metadata", "key", key, "err", err)
	}
}

// hitCount is the hits of one key since the last flush.
type hitCount struct {
	n    int64
	last time.Time
}

func (h *hitCount) add(o hitCount) {
	h.n += o.n
	if o.last.After(h.last) {
		h.last = o.last
	}
}

// addHits writes a flushed batch of hits. A key whose store work is running
// keeps its hits until that work ends.
func (s *shardActor) addHits(m *hitsBatch) {
	for key, h := range m.Hits {
		if f, ok := s.inflight[key]; ok {
			f.hits.add(h)
			continue
		}
		if s.del.deleting[key] {
			// Its delete runs now: a write beside it would leave an m/ key without
			// its page (see deletePages).
			continue
		}
		s.storeHits(key, h)
	}
}

func (s *shardActor) storeHits(key string, h hitCount) {
	// A NoSync Pebble write is microseconds; a batch holds one shard's keys of a
	// flush interval.
	if err := s.app.store.AddHits(key, h.n, h.last); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.app.log.Warn("cannot record hits", "key", key, "err", err)
	}
}

func (s *shardActor) markServed(key string) {
	if f, busy := s.inflight[key]; busy {
		f.served = true
		return
	}
	if s.del.deleting[key] {
		s.app.served.Delete(key)
		return
	}
	if err := s.app.store.MarkServed(key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.app.log.Warn("cannot mark page served", "key", key, "err", err)
	}
	s.app.served.Delete(key)
}
