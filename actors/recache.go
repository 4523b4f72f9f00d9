package actors

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"prerenderd/storage"
)

// ErrBadRecacheSpeed: a recache speed outside 0 and 3600–36000 URLs per hour.
var ErrBadRecacheSpeed = errors.New("urlsPerHour must be 0 (automatic) or between 3600 and 36000")

// RecacheItem is one URL to recache through the priority queue.
type RecacheItem struct {
	Key    string // cache key (variant and normalized URL)
	URL    string
	Source string // api, sitemap, manual
}

// RecacheResult says what a Recache call did.
type RecacheResult struct {
	Queued    int // new entries in the priority queue
	Duplicate int // already queued and not started: one render serves both
}

// Recache adds items to the persisted priority queue. It returns once they are
// on disk (fsynced), so an acknowledged request survives kill -9.
func (a *Appliance) Recache(ctx context.Context, items []RecacheItem) (RecacheResult, error) {
	if a.stopping.Load() {
		return RecacheResult{}, ErrStopping
	}
	now := a.cfg.Clock()
	qi := make([]storage.QueueItem, len(items))
	for i, it := range items {
		qi[i] = storage.QueueItem{Key: it.Key, URL: it.URL, Source: it.Source, EnqueuedAt: now}
	}
	reply := make(chan enqueueResult, 1)
	a.system.Root.Send(a.priority, &enqueueRecache{Items: qi, Sync: true, Reply: reply})
	select {
	case r := <-reply:
		return RecacheResult{Queued: r.Queued, Duplicate: r.Duplicate}, r.Err
	case <-ctx.Done():
		return RecacheResult{}, ctx.Err()
	case <-a.stopped:
		return RecacheResult{}, ErrStopping
	}
}

// SetRecacheSpeed sets the priority queue's pace in URLs per hour (0 =
// automatic, else 3600–36000) and persists it.
func (a *Appliance) SetRecacheSpeed(ctx context.Context, urlsPerHour int) error {
	if !validRecacheSpeed(urlsPerHour) {
		return ErrBadRecacheSpeed
	}
	reply := make(chan error, 1)
	a.system.Root.Send(a.priority, &setRecacheSpeed{URLsPerHour: urlsPerHour, Reply: reply})
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-a.stopped:
		return ErrStopping
	}
}

// RecacheStale queues one priority recache of a page served STALE. Only the
// first stale hit of a key sends anything; the queue dedupes the rest.
func (a *Appliance) RecacheStale(key, url string) {
	if _, dup := a.staleQueued.LoadOrStore(key, struct{}{}); dup {
		return
	}
	a.enqueueInternal(key, url, "stale")
}

// enqueueRetry queues a priority retry of a render a crawler saw fail.
func (a *Appliance) enqueueRetry(key, url string) {
	a.enqueueInternal(key, url, "retry")
}

func (a *Appliance) enqueueInternal(key, url, source string) {
	if a.stopping.Load() {
		return
	}
	item := storage.QueueItem{Key: key, URL: url, Source: source, EnqueuedAt: a.cfg.Clock()}
	a.system.Root.Send(a.priority, &enqueueRecache{Items: []storage.QueueItem{item}})
}

// PendingRecache reports whether a recache of key was asked for (Recache API,
// sitemap, cache manager) and has not run yet, and since when. A crawler asking
// for such a page gets a fresh render (REVALIDATED).
func (a *Appliance) PendingRecache(key string) (time.Time, bool) {
	v, ok := a.pending.Load(key)
	if !ok {
		return time.Time{}, false
	}
	return v.(time.Time), true
}

// Revalidate renders key now for a crawler because a recache of it was asked
// for at since; it joins a render already running, and answers FromStore when
// a render after since has been stored.
func (a *Appliance) Revalidate(ctx context.Context, key, url string, since time.Time) (*Rendered, error) {
	return a.render(ctx, &StartRender{Key: key, URL: url, Class: ClassLive, Source: "live", Since: since})
}

// FirstServe reports whether this is the first serve of a page the queues
// rendered before any crawler asked (X-Prerender-Cache: PRERENDER), and has the
// page's shard clear its flag. It is true once per page.
func (a *Appliance) FirstServe(key string) bool {
	if _, dup := a.served.LoadOrStore(key, struct{}{}); dup {
		return false
	}
	a.system.Root.Send(a.shardFor(key), &markServed{Key: key})
	return true
}

// hitStripes spreads the hit counters over locks so parallel hits rarely meet.
const hitStripes = 64

// hitRecorder counts hits in memory; a flusher hands them to the shards every
// hitFlushEvery, so the hit path never writes to Pebble.
type hitRecorder struct {
	seed    maphash.Seed
	stripes [hitStripes]struct {
		mu   sync.Mutex
		hits map[string]hitCount
		_    [40]byte // keep stripes on separate cache lines
	}
}

// NoteHit counts a cache hit of key for recency (eviction) and hit counts. It
// is on the hit path: a striped lock and a map update, no I/O.
func (a *Appliance) NoteHit(key string, at time.Time) {
	h := &a.hits
	st := &h.stripes[maphash.String(h.seed, key)%hitStripes]
	st.mu.Lock()
	if st.hits == nil {
		st.hits = make(map[string]hitCount)
	}
	c := st.hits[key]
	c.n++
	c.last = at
	st.hits[key] = c
	st.mu.Unlock()
}

// hitFlushEvery bounds how stale the hit counts in m/ are.
const hitFlushEvery = 10 * time.Second

// flushHits hands the counted hits to their shards.
func (a *Appliance) flushHits() {
	shards := a.shards.Load()
	if shards == nil {
		return
	}
	batches := make(map[int]map[string]hitCount)
	for i := range a.hits.stripes {
		st := &a.hits.stripes[i]
		st.mu.Lock()
		hits := st.hits
		st.hits = nil
		st.mu.Unlock()
		for key, c := range hits {
			idx := shardIndex(key, len(*shards))
			if batches[idx] == nil {
				batches[idx] = make(map[string]hitCount)
			}
			batches[idx][key] = c
		}
	}
	for idx, b := range batches {
		a.system.Root.Send((*shards)[idx], &hitsBatch{Hits: b})
	}
}

// runHitFlusher flushes hits until the appliance stops, then once more.
func (a *Appliance) runHitFlusher() {
	defer a.tasks.Done()
	t := time.NewTicker(a.cfg.HitFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			a.flushHits()
		case <-a.flushNow:
			a.flushHits()
			a.flushed <- struct{}{}
		case <-a.stopped:
			return
		}
	}
}

// FlushHits writes the hits counted so far through the shards (tests, and the
// cache manager before it reads hit counts).
func (a *Appliance) FlushHits() {
	select {
	case a.flushNow <- struct{}{}:
		<-a.flushed
	case <-a.stopped:
	}
}
