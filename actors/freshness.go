package actors

import (
	"errors"
	"time"

	"prerenderd/browser"
	"prerenderd/storage"
)

// What a finished render does to the stored page of its key. These are
// prerender.io's recache rules (seed 001), applied to every render of a key
// that has a stored page, live or queued: a live render past the stale window
// is a recache too.
type action int

const (
	actServe  action = iota // nothing stored to change: answer the result as it is
	actStore                // a cacheable result: store it
	actRenew                // 304: keep the page, renew its expiry
	actKeep                 // ≥ 500 or no answer: keep the page, count, retry later
	actRemove               // any other status: remove the page
)

type verdict struct {
	action action
	reason string // why a page is removed or kept: status, 5xx, failed
}

// maxConsecutive5xx: the third consecutive answer ≥ 500 removes a page; single
// 5xx errors are transient.
const maxConsecutive5xx = 3

func judge(res *browser.Result, err error, stored bool) verdict {
	switch {
	case err != nil || res == nil || res.Incomplete:
		if stored {
			return verdict{actKeep, "failed"}
		}
	case storable(res):
		return verdict{action: actStore}
	case res.Status == 304:
		if stored {
			return verdict{action: actRenew}
		}
	case res.Status >= 500:
		if stored {
			return verdict{actKeep, "5xx"}
		}
	default: // < 200, 200 < status < 304, 304 < status < 500
		if stored {
			return verdict{actRemove, "status"}
		}
	}
	return verdict{action: actServe}
}

// retryBackoff is how long a page whose recache failed waits before the normal
// queue tries it again: soon enough that three 5xx remove a dead page within a
// TTL, late enough that one bad minute at the origin does not.
func (a *Appliance) retryBackoff() time.Duration {
	return min(max(a.cfg.TTL/4, time.Second), time.Hour)
}

// apply does the store work of a verdict. It runs in a goroutine of the key's
// shard while the key is held in flight.
func (a *Appliance) apply(v verdict, key string, res *browser.Result, rerr error, page *storage.Page, queued bool, now time.Time) *Rendered {
	st := a.store
	switch v.action {
	case actStore:
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
	case actRenew:
		if err := st.SetPageExpiry(key, now.Add(a.cfg.TTL)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			a.log.Error("cannot renew page", "key", key, "err", err)
		}
		a.updateMeta(key, func(m *storage.Meta) { m.LastStatus, m.Consecutive5xx = 304, 0 })
		return &Rendered{Result: res, Renewed: true}
	case actRemove:
		a.remove(key, v.reason, res.Status)
		return &Rendered{Result: res, Removed: v.reason}
	case actKeep:
		r := &Rendered{Result: res, Err: rerr, Kept: true}
		if v.reason == "5xx" {
			n := 0
			a.updateMeta(key, func(m *storage.Meta) {
				m.LastStatus = res.Status
				m.Consecutive5xx++
				n = m.Consecutive5xx
			})
			if n >= maxConsecutive5xx {
				a.remove(key, "5xx", res.Status)
				return &Rendered{Result: res, Removed: "5xx"}
			}
		}
		if queued {
			// Without this the page stays at the head of the due index and the
			// normal queue would hammer a failing origin.
			if err := st.SetPageExpiry(key, now.Add(a.retryBackoff())); err != nil && !errors.Is(err, storage.ErrNotFound) {
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
