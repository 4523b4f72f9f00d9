package actors

import (
	"container/list"
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/storage"
)

// Recache speed bounds of prerender.io's Change Recache Speed API.
const (
	MinRecacheSpeed = 3600
	MaxRecacheSpeed = 36000
)

// settingRecacheSpeed is the runtime setting that holds the priority pace.
const settingRecacheSpeed = "recache_urls_per_hour"

// pacer spaces dispatches evenly: one per interval, and no burst to make up for
// time spent idle or waiting for a tab.
type pacer struct{ next time.Time }

// wait returns how long until the next dispatch may go; 0 means now.
func (p *pacer) wait(now time.Time) time.Duration {
	if now.Before(p.next) {
		return p.next.Sub(now)
	}
	return 0
}

// took records a dispatch at now.
func (p *pacer) took(now time.Time, interval time.Duration) {
	p.next = now.Add(interval)
}

// normalInterval is the normal queue's pace from seed 001: cached pages / TTL in
// days per day, spread evenly, i.e. one page every TTL / pages.
func normalInterval(pages int64, ttl time.Duration) time.Duration {
	if pages <= 0 {
		return ttl
	}
	return max(ttl/time.Duration(pages), time.Millisecond)
}

// normalPerHour is the same pace in URLs per hour, for the metric.
func normalPerHour(pages int64, ttl time.Duration) float64 {
	if ttl <= 0 {
		return 0
	}
	return float64(pages) * float64(time.Hour) / float64(ttl)
}

// queueSlots is how many renders a queue keeps in flight: every tab but the
// share reserved for live work. The pool enforces the share; this only keeps
// a queue from piling up waits it cannot be granted.
func (a *Appliance) queueSlots() int {
	// The same rounding as the pool's nonLiveMax: in favour of live work.
	tabs := a.cfg.Browsers * a.cfg.TabsPerBrowser
	return max(1, tabs-int(math.Ceil(float64(tabs)*a.cfg.ReservedLive)))
}

// priorityQueue is the FIFO of recache requests (Recache API, sitemaps, STALE
// hits, retries of failed renders). Items are persisted in q/ before they are
// acknowledged and deleted after their render, so they survive kill -9
// (at-least-once); a key queued twice before its render starts is rendered once.
type priorityQueue struct {
	app      *Appliance
	items    *list.List // of storage.QueueItem, FIFO, not yet dispatched
	byKey    map[string]*list.Element
	inflight int
	// running are the items dispatched and not finished, by Seq: their copies
	// are sent again when the backups change.
	running map[uint64]storage.QueueItem
	perHour int // 0 = automatic: as fast as the pool's tabs allow; in a cluster, the cluster's
	pace    pacer
	timer   *time.Timer
	// marks are the explicit recaches accepted since the last sendMarks, by
	// shard: their keys' shards flag them pending (REVALIDATED for a crawler).
	marks map[int][]pendingMark
}

// newPriorityQueue loads the persisted queue right away: the producer runs
// inside the spawn, so the normal queue, spawned after, already sees the
// priority work it must yield to.
func newPriorityQueue(a *Appliance) *priorityQueue {
	q := &priorityQueue{app: a, items: list.New(), byKey: make(map[string]*list.Element), running: map[uint64]storage.QueueItem{}}
	q.load()
	q.sendMarks(nil)
	return q
}

func (q *priorityQueue) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		q.pump(ctx)
	case *enqueueRecache:
		res, pushed := q.enqueue(m.Items, m.Sync)
		cn := q.app.cluster.Load()
		if m.Reply != nil {
			done := make(chan struct{}, len(q.marks))
			res.Marked, res.Marks = done, q.sendMarks(done)
			if cn != nil && len(pushed) > 0 {
				// Sent before any of them can finish, so a backup gets each
				// copy before the owner's word that it is done.
				res.Copies = cn.sendCopies(pushed, true)
			}
			m.Reply <- res
		} else {
			q.sendMarks(nil)
			if cn != nil && len(pushed) > 0 {
				cn.sendCopies(pushed, false)
			}
		}
		// After the marks: a shard sees them before the renders they are for.
		q.pump(ctx)
	case *queueTick:
		q.timer = nil
		q.pump(ctx)
	case *queueRenderDone:
		q.finished(m)
		q.pump(ctx)
	case *replicateAll:
		if cn := q.app.cluster.Load(); cn != nil {
			q.handOffMoved(ctx)
			all := make([]storage.QueueItem, 0, q.items.Len()+len(q.running))
			for el := q.items.Front(); el != nil; el = el.Next() {
				all = append(all, el.Value.(storage.QueueItem))
			}
			for _, it := range q.running {
				all = append(all, it)
			}
			cn.sendCopies(all, false)
		}
		q.pump(ctx) // this member's part of the pace changed too
	case *handedOff:
		q.handedOff(m)
		q.pump(ctx)
	case *setRecacheSpeed:
		m.Reply <- q.setSpeed(m.URLsPerHour)
		q.pace = pacer{}
		q.pump(ctx)
	case *actor.Restarting, *actor.Stopping:
		// It holds no waiter: a Recache is answered in the Receive that takes
		// it. A restart reloads the queue from Pebble.
		if q.timer != nil {
			q.timer.Stop()
		}
	}
}

// load reads the persisted queue and the persisted pace. Duplicates left by a
// crash are dropped here.
func (q *priorityQueue) load() {
	a := q.app
	q.perHour = a.cfg.RecacheURLsPerHour
	if v, err := a.store.GetSetting(settingRecacheSpeed); err == nil {
		if n, err := strconv.Atoi(string(v)); err == nil && validRecacheSpeed(n) {
			q.perHour = n
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		a.log.Error("cannot read the recache speed", "err", err)
	}
	var dups []uint64
	err := a.store.ScanQueue(func(it storage.QueueItem) bool {
		if _, ok := q.byKey[it.Key]; ok {
			dups = append(dups, it.Seq)
			return true
		}
		q.push(it)
		return true
	})
	if err != nil {
		a.log.Error("cannot read the priority queue; the rest of it is lost", "err", err, "loaded", q.items.Len())
	}
	if len(dups) > 0 {
		_ = a.store.DeleteQueue(dups...)
	}
	a.metrics.priorityPace.Store(int64(math.Round(a.priorityShare(q.perHour))))
	if q.items.Len() > 0 {
		a.log.Info("priority queue loaded", "items", q.items.Len())
	}
}

func (q *priorityQueue) push(it storage.QueueItem) {
	q.byKey[it.Key] = q.items.PushBack(it)
	q.app.metrics.priorityLen.Store(int64(q.items.Len()))
	if explicit(it.Source) {
		q.mark(it.Key, it.EnqueuedAt)
	}
}

// mark notes that key's shard must flag it pending since since.
func (q *priorityQueue) mark(key string, since time.Time) {
	if q.marks == nil {
		q.marks = make(map[int][]pendingMark)
	}
	i := q.app.shardOf(key)
	q.marks[i] = append(q.marks[i], pendingMark{Key: key, Since: since})
}

// sendMarks sends the noted marks to their shards, before any render of them
// is dispatched (one sender, so each shard gets them in order), and returns
// how many shards were told; each sends one value on done once it has
// published the flags.
func (q *priorityQueue) sendMarks(done chan<- struct{}) int {
	n := 0
	for i, marks := range q.marks {
		q.app.system.Root.Send(q.app.shardPID(i), &markPending{Marks: marks, Done: done})
		n++
	}
	q.marks = nil
	return n
}

// explicit sources ask for a recache because the content changed: a crawler
// that comes before the queue reaches the page gets a fresh render
// (REVALIDATED), not the page the site said is out of date.
func explicit(source string) bool {
	return source == "api" || source == "manual" || source == "sitemap"
}

// enqueue persists and queues the items not queued yet, and returns them.
func (q *priorityQueue) enqueue(items []storage.QueueItem, sync bool) (enqueueResult, []storage.QueueItem) {
	var res enqueueResult
	fresh := items[:0:0]
	for _, it := range items {
		if el, ok := q.byKey[it.Key]; ok {
			// Queued and not started: one render serves both requests. An explicit
			// request upgrades a stale or retry entry, so a crawler meanwhile gets
			// REVALIDATED.
			old := el.Value.(storage.QueueItem)
			if explicit(it.Source) && !explicit(old.Source) {
				q.mark(it.Key, old.EnqueuedAt)
			}
			res.Duplicate++
			continue
		}
		fresh = append(fresh, it)
	}
	if len(fresh) == 0 {
		return res, nil
	}
	if err := q.app.store.PushQueue(fresh, sync); err != nil {
		res.Err = err
		q.app.log.Error("cannot queue recache", "urls", len(fresh), "err", err)
		for _, it := range fresh {
			if it.Source == "stale" {
				// Not queued: a later stale hit tries again.
				q.app.system.Root.Send(q.app.shardFor(it.Key), &staleNotQueued{Key: it.Key})
			}
		}
		return res, nil
	}
	pushed := fresh[:0:0]
	for _, it := range fresh {
		if _, ok := q.byKey[it.Key]; ok { // twice in one request
			res.Duplicate++
			_ = q.app.store.DeleteQueue(it.Seq)
			continue
		}
		q.push(it)
		pushed = append(pushed, it)
		res.Queued++
	}
	return res, pushed
}

// pump dispatches items while the pace and the slots allow, then sleeps until
// the pace allows the next one.
func (q *priorityQueue) pump(ctx actor.Context) {
	a := q.app
	if a.stopping.Load() {
		return
	}
	for q.items.Len() > 0 && q.inflight < a.queueSlots() {
		now := a.cfg.Clock()
		if q.perHour > 0 {
			if d := q.pace.wait(now); d > 0 {
				q.wake(ctx, d)
				return
			}
			q.pace.took(now, q.interval())
		}
		el := q.items.Front()
		it := el.Value.(storage.QueueItem)
		q.items.Remove(el)
		delete(q.byKey, it.Key)
		a.metrics.priorityLen.Store(int64(q.items.Len()))
		q.inflight++
		q.running[it.Seq] = it
		a.system.Root.Send(a.shardFor(it.Key), &StartRender{
			Key: it.Key, URL: it.URL, Class: ClassPriority, Source: it.Source, Since: it.EnqueuedAt,
			ReplyTo: ctx.Self(), Item: it,
		})
	}
}

func (q *priorityQueue) wake(ctx actor.Context, d time.Duration) {
	if q.timer != nil {
		return
	}
	self, root := ctx.Self(), q.app.system.Root
	q.timer = time.AfterFunc(d, func() { root.Send(self, &queueTick{}) })
}

func (q *priorityQueue) finished(m *queueRenderDone) {
	a := q.app
	// Not below zero: after a restart of this queue, answers to renders the
	// earlier incarnation dispatched still arrive.
	q.inflight = max(q.inflight-1, 0)
	it := m.Item
	delete(q.running, it.Seq)
	if deferred(m.Err) {
		// No tab for it: it was never rendered. Back to the head, still persisted.
		if _, ok := q.byKey[it.Key]; !ok {
			q.byKey[it.Key] = q.items.PushFront(it)
			a.metrics.priorityLen.Store(int64(q.items.Len()))
		}
		a.metrics.recache("priority", "deferred").Inc()
		q.pace.took(a.cfg.Clock(), time.Second) // let the pool breathe
		return
	}
	// The key's flags were cleared by its shard as it answered (RecacheRan).
	if err := a.store.DeleteQueue(it.Seq); err != nil {
		a.log.Warn("cannot delete a done queue entry; it will be rendered again after a restart", "key", it.Key, "err", err)
	}
	if cn := a.cluster.Load(); cn != nil {
		cn.dropCopies(it.Seq)
	}
	a.metrics.recache("priority", outcome(m.Rendered, m.Err)).Inc()
}

// handOffMoved hands the queued items whose key another member owns now (its
// virtual shard moved to a member that joined) to that owner's queue, in a
// goroutine the appliance owns: rendered here, they would be stored where
// they are not served. They count as running until handedOff.
func (q *priorityQueue) handOffMoved(ctx actor.Context) {
	a := q.app
	var moved []storage.QueueItem
	for el := q.items.Front(); el != nil; {
		next := el.Next()
		it := el.Value.(storage.QueueItem)
		if _, mine := a.OwnerOf(it.Key); !mine {
			q.items.Remove(el)
			delete(q.byKey, it.Key)
			q.running[it.Seq] = it
			moved = append(moved, it)
		}
		el = next
	}
	if len(moved) == 0 {
		return
	}
	a.metrics.priorityLen.Store(int64(q.items.Len()))
	self, root := ctx.Self(), a.system.Root
	a.goBackground(func(bg context.Context) {
		_, err := a.queueOnOwners(bg, moved)
		root.Send(self, &handedOff{Items: moved, Err: err})
	})
	// Not started (stopping): they stay persisted and load at the next start.
}

// handedOff drops the items their new owners queued, or takes back those
// they could not: rendered here rather than lost.
func (q *priorityQueue) handedOff(m *handedOff) {
	a := q.app
	seqs := make([]uint64, 0, len(m.Items))
	for _, it := range m.Items {
		delete(q.running, it.Seq)
		seqs = append(seqs, it.Seq)
	}
	if m.Err != nil {
		a.log.Warn("cannot hand queued recaches to the member that owns them now; rendering them here", "items", len(m.Items), "err", m.Err)
		for _, it := range m.Items {
			if _, ok := q.byKey[it.Key]; !ok {
				q.byKey[it.Key] = q.items.PushBack(it)
			}
		}
		a.metrics.priorityLen.Store(int64(q.items.Len()))
		return
	}
	if err := a.store.DeleteQueue(seqs...); err != nil {
		a.log.Warn("cannot delete handed-over queue entries; they will be handed over again after a restart", "items", len(seqs), "err", err)
	}
	if cn := a.cluster.Load(); cn != nil {
		cn.dropCopies(seqs...)
		cn.m.moved.Add(len(seqs))
	}
	a.log.Info("queued recaches handed to the members that own them now", "items", len(seqs))
}

// interval is the time between two dispatches at this member's part of the
// pace (perHour > 0), which it also shows as its pace.
func (q *priorityQueue) interval() time.Duration {
	share := q.app.priorityShare(q.perHour)
	q.app.metrics.priorityPace.Store(int64(math.Round(share)))
	return time.Duration(float64(time.Hour) / share)
}

func validRecacheSpeed(n int) bool {
	return n == 0 || (n >= MinRecacheSpeed && n <= MaxRecacheSpeed)
}

func (q *priorityQueue) setSpeed(n int) error {
	if !validRecacheSpeed(n) {
		return ErrBadRecacheSpeed
	}
	if err := q.app.store.PutSetting(settingRecacheSpeed, []byte(strconv.Itoa(n))); err != nil {
		return err
	}
	q.perHour = n
	q.app.metrics.priorityPace.Store(int64(math.Round(q.app.priorityShare(n))))
	q.app.log.Info("recache speed changed", "urls_per_hour", n)
	return nil
}

// outcome names a recache's result for the metric.
func outcome(r *Rendered, err error) string {
	switch {
	case r != nil && r.Removed != "":
		return "removed"
	case r != nil && r.Skipped:
		return "skipped"
	case r != nil && r.Renewed:
		return "renewed"
	case r != nil && r.Stored:
		return "stored"
	case r != nil && r.Kept:
		return "kept"
	case err != nil:
		return "failed"
	}
	return "not_stored"
}

// normalQueue recaches pages past their TTL, oldest first, at the seed's pace.
// It keeps no list: the due index in Pebble is the queue. A tick reads the first
// few due keys from a cursor, so no tick scans the whole index (nor the
// tombstones left behind by pages it has already moved).
type normalQueue struct {
	app      *Appliance
	inflight map[string]bool
	pace     pacer
	timer    *time.Timer
	cursor   time.Time // expiry of the last key dispatched; earlier keys are done
	counting bool
	counter  *time.Timer // next count of the backlog
}

func newNormalQueue(a *Appliance) *normalQueue {
	return &normalQueue{app: a, inflight: make(map[string]bool)}
}

// dueCountEvery is how often the normal queue's backlog is counted for metrics.
const dueCountEvery = time.Minute

func (q *normalQueue) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		q.pump(ctx)
		q.count(ctx)
	case *queueTick:
		q.timer = nil
		q.pump(ctx)
	case *queueRenderDone:
		delete(q.inflight, m.Item.Key)
		q.app.metrics.recache("normal", outcome(m.Rendered, m.Err)).Inc()
		if deferred(m.Err) {
			q.cursor = time.Time{} // it is still due; find it again
		}
		q.pump(ctx)
	case *dueCounted:
		q.counting = false
		q.app.metrics.normalLen.Store(int64(m.N))
		self, root := ctx.Self(), q.app.system.Root
		q.counter = time.AfterFunc(dueCountEvery, func() { root.Send(self, &dueCount{}) })
	case *dueCount:
		q.count(ctx)
	case *actor.Restarting, *actor.Stopping:
		// It holds no waiter: the due index in Pebble is its queue.
		if q.timer != nil {
			q.timer.Stop()
		}
		if q.counter != nil {
			q.counter.Stop()
		}
	}
}

func (q *normalQueue) pump(ctx actor.Context) {
	a := q.app
	if a.stopping.Load() {
		return
	}
	now := a.cfg.Clock()
	pages := a.store.PageCount()
	interval := normalInterval(pages, a.cfg.TTL)
	a.metrics.normalPace.Store(int64(normalPerHour(pages, a.cfg.TTL)))
	if len(q.inflight) >= a.queueSlots() {
		return // a render's end pumps again
	}
	if a.metrics.priorityLen.Load() > 0 {
		// The priority queue goes first (seed 001): look again shortly.
		q.wake(ctx, priorityYield)
		return
	}
	if d := q.pace.wait(now); d > 0 {
		q.wake(ctx, d)
		return
	}
	key, url, expires, next, err := q.head(now)
	if err != nil {
		a.log.Error("cannot read the due index", "err", err)
		q.wake(ctx, time.Minute)
		return
	}
	if key == "" {
		// Nothing due: sleep until the oldest page expires, but look again within
		// a minute in case a page's expiry moved earlier.
		d := time.Minute
		if !next.IsZero() {
			d = min(max(next.Sub(now), time.Millisecond), time.Minute)
		}
		q.wake(ctx, d)
		return
	}
	if _, mine := a.OwnerOf(key); !mine {
		// In a cluster, another member owns this page since the membership
		// changed: the copy here is never served (requests go to the owner, which
		// renders it on the next one). Drop it when due rather than recache it.
		a.system.Root.Send(a.shardFor(key), &deletePages{Keys: []string{key}, Reply: make(chan pagesDeleted, 1)})
		q.cursor = expires
		q.wake(ctx, time.Millisecond)
		return
	}
	q.pace.took(now, interval)
	q.cursor = expires
	q.inflight[key] = true
	a.system.Root.Send(a.shardFor(key), &StartRender{
		Key: key, URL: url, Class: ClassNormal, Source: "normal", OnlyStored: true,
		ReplyTo: ctx.Self(), Item: storage.QueueItem{Key: key, URL: url},
	})
	q.wake(ctx, interval)
}

// priorityYield is how often a normal queue held back by priority work looks again.
const priorityYield = 200 * time.Millisecond

// headScan bounds the keys one tick reads past those in flight.
const headScan = 64

// head returns the oldest due page not in flight, or, when none is due, the
// expiry of the oldest page (zero when the cache is empty).
func (q *normalQueue) head(now time.Time) (key, url string, expires, next time.Time, err error) {
	st := q.app.store
	seen := 0
	err = st.ScanDueFrom(q.cursor, now, func(k string, e time.Time) bool {
		seen++
		if q.inflight[k] {
			return seen < headScan
		}
		key, expires = k, e
		return false
	})
	if err != nil || key == "" {
		if err == nil && seen == 0 {
			q.cursor = time.Time{}
			err = st.ScanDueFrom(time.Time{}, time.Time{}, func(_ string, e time.Time) bool {
				next = e
				return false
			})
		}
		return "", "", time.Time{}, next, err
	}
	err = st.ViewPage(key, func(v *storage.PageView) error {
		url = v.URL
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		err = nil // removed meanwhile: the shard skips it (OnlyStored)
	}
	return key, url, expires, time.Time{}, err
}

// count counts the due backlog in a goroutine (it reads keys only, up to a
// bound), at most once a minute: it is a metric, not a scheduling input.
func (q *normalQueue) count(ctx actor.Context) {
	if q.counting {
		return
	}
	a := q.app
	self, root := ctx.Self(), a.system.Root
	now := a.cfg.Clock()
	q.counting = a.goBackground(func(context.Context) {
		n, err := a.store.CountDue(now, 10_000_000)
		if err != nil && !errors.Is(err, storage.ErrClosed) {
			a.log.Warn("cannot count due pages", "err", err)
		}
		root.Send(self, &dueCounted{N: n})
	})
}

func (q *normalQueue) wake(ctx actor.Context, d time.Duration) {
	if q.timer != nil {
		q.timer.Stop()
	}
	self, root := ctx.Self(), q.app.system.Root
	q.timer = time.AfterFunc(d, func() { root.Send(self, &queueTick{}) })
}
