package actors

import (
	"context"
	"errors"

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
// on disk (fsynced), so an acknowledged request survives kill -9; in a
// cluster, also once the backup of their keys keeps a copy, so that it
// survives the loss of this member.
func (a *Appliance) Recache(ctx context.Context, items []RecacheItem) (RecacheResult, error) {
	now := a.cfg.Clock()
	qi := make([]storage.QueueItem, len(items))
	for i, it := range items {
		qi[i] = storage.QueueItem{Key: it.Key, URL: it.URL, Source: it.Source, EnqueuedAt: now}
	}
	return a.queueItems(ctx, qi)
}

// queueItems is Recache for items already made: this member's priority
// queue, whoever owns their keys.
func (a *Appliance) queueItems(ctx context.Context, qi []storage.QueueItem) (RecacheResult, error) {
	if a.stopping.Load() {
		return RecacheResult{}, ErrStopping
	}
	reply := make(chan enqueueResult, 1)
	a.system.Root.Send(a.priority, &enqueueRecache{Items: qi, Sync: true, Reply: reply})
	var r enqueueResult
	select {
	case r = <-reply:
	case <-ctx.Done():
		return RecacheResult{}, ctx.Err()
	case <-a.stopped:
		return RecacheResult{}, ErrStopping
	}
	// The answer waits for the keys' shards to flag them pending, so that a
	// crawler asking once it has the answer is REVALIDATED.
	for range r.Marks {
		select {
		case <-r.Marked:
		case <-ctx.Done():
			return RecacheResult{}, ctx.Err()
		case <-a.stopped:
			return RecacheResult{}, ErrStopping
		}
	}
	if cn := a.cluster.Load(); cn != nil {
		cn.waitCopies(r.Copies)
	}
	return RecacheResult{Queued: r.Queued, Duplicate: r.Duplicate}, r.Err
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

// enqueueRecache queues a priority recache the appliance itself asks for: a
// STALE hit's (its shard, once per stale period) or the retry of a render a
// crawler saw fail. Not synced: the next stale hit asks again.
func (a *Appliance) enqueueRecache(key, url, source string) {
	if a.stopping.Load() {
		return
	}
	item := storage.QueueItem{Key: key, URL: url, Source: source, EnqueuedAt: a.cfg.Clock()}
	a.system.Root.Send(a.priority, &enqueueRecache{Items: []storage.QueueItem{item}})
}
