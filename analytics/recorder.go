package analytics

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Store keeps the analytics rows, each under (kind, name, bucket): kind is one
// of the kind* bytes, name a site's row name (no '/'), bucket the Unix seconds
// at which the bucket starts. *storage.Store is one; a nil Store writes
// nothing (benchmarks of Record).
type Store interface {
	// PutAnalytics writes the rows rows puts, at once.
	PutAnalytics(rows func(put func(kind byte, bucket int64, name string, value []byte))) error
	// ScanAnalytics calls fn for the rows of kind and name with from <= bucket
	// < to, in bucket order, until fn returns false. value is valid during fn.
	ScanAnalytics(kind byte, name string, from, to int64, fn func(bucket int64, value []byte) bool) error
	// DeleteAnalytics removes the rows of kind with bucket < before.
	DeleteAnalytics(kind byte, before int64) error
}

// Kinds of stored rows.
const (
	kindMinute  byte = 'm' // Counts of a minute, per site row
	kindHour    byte = 'h' // Counts of an hour, per site row
	kindTopHour byte = 't' // top lists of an hour (all sites), name ""
	kindTopDay  byte = 'd' // top lists of a day, merged from its hours, name ""
)

// Retention of the stored rows.
const (
	MinuteRetention = 48 * time.Hour
	HourRetention   = 90 * 24 * time.Hour
	// An hour's top lists are merged into their day's once the whole day is
	// older than TopHourRetention; the day's lists are kept HourRetention.
	TopHourRetention = 48 * time.Hour
	// retainEvery is how often old rows are dropped.
	retainEvery = time.Hour
)

// Options configures a Recorder.
type Options struct {
	// Sites are the [[sites]] hosts: each gets rows of its own, the other hosts
	// share the "other" row, and a total row sums them.
	Sites []string
	// FlushInterval is how often counts are written (default 10s): at most this
	// much is lost by a kill -9.
	FlushInterval time.Duration
	// TopSize is how many URLs an hour's top list keeps for all crawlers
	// (default 200); a crawler's own lists keep half as many.
	TopSize int
	Logger  *slog.Logger
	Clock   func() time.Time
}

// EnsureDefaults fills the zero fields.
func (o *Options) EnsureDefaults() {
	if o.FlushInterval == 0 {
		o.FlushInterval = 10 * time.Second
	}
	if o.TopSize == 0 {
		o.TopSize = 200
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
}

// Validate names the first bad field.
func (o *Options) Validate() error {
	if o.FlushInterval < 100*time.Millisecond || o.FlushInterval > time.Minute {
		return fmt.Errorf("analytics.flush_interval: %s is not between 100ms and 1m", o.FlushInterval)
	}
	if o.TopSize < 50 || o.TopSize > 10000 {
		return fmt.Errorf("analytics: TopSize %d is not between 50 and 10000", o.TopSize)
	}
	if _, err := newSiteTable(o.Sites); err != nil {
		return fmt.Errorf("sites: %w", err)
	}
	return nil
}

// Request is one answer of the render route.
type Request struct {
	// Time is when the request arrived; it picks the minute.
	Time   time.Time
	Result Result
	Status int
	// Bytes is the body sent (0 for HEAD and 304).
	Bytes     int
	UserAgent string
	// URL is the normalized page URL, "" when the request named none.
	URL string
	// Wait is how long the answer took; read for renders (the slowest list).
	Wait time.Duration
	// Class is UserAgent's crawler class when the caller has it already
	// (Classify); zero classifies UserAgent.
	Class Class
}

// Render is one finished render.
type Render struct {
	Time     time.Time // when it finished
	Variant  string
	URL      string
	Result   RenderResult
	Queue    Queue
	Status   int
	Duration time.Duration
	Attempts int
	Err      string
}

// Recorder counts requests and renders into minute buckets, hour buckets and
// hourly top lists, and writes them in batches. Record and RecordRender are
// safe for concurrent use and take no global lock; a nil *Recorder ignores
// them (analytics off).
type Recorder struct {
	opts  Options
	store Store
	sites siteTable
	caps  topCaps
	seed  maphash.Seed

	open atomic.Pointer[slot]   // the minute being counted
	top  atomic.Pointer[topSet] // the hour's top lists

	// mu guards the rotation of open and top and the flusher's state below.
	mu      sync.Mutex
	tick    uint64
	closed  []*slot            // minutes replaced, not folded yet
	oldTops []*topSet          // hours replaced, to be written once more
	minutes map[int64][]Counts // folded minutes not written final yet, by site
	hours   map[int64][]Counts // folded hours not written final yet, by site
	dirty   map[int64]bool     // minutes and hours folded since their last write

	flushMu    sync.Mutex // one flush at a time
	lastRetain time.Time
	recent     recentRing

	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// Open reads back the current hour (a restart keeps counting into it), drops
// rows past their retention and starts the flusher. Close stops it.
func Open(opts Options, store Store) (*Recorder, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	sites, _ := newSiteTable(opts.Sites)
	r := &Recorder{
		opts: opts, store: store, sites: sites,
		caps:    topCaps{all: opts.TopSize, perClass: opts.TopSize / 2},
		seed:    maphash.MakeSeed(),
		minutes: make(map[int64][]Counts),
		hours:   make(map[int64][]Counts),
		dirty:   make(map[int64]bool),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	now := opts.Clock()
	r.open.Store(newSlot(floorTo(now, 60), len(sites.names)))
	r.top.Store(newTopSet(floorTo(now, 3600)))
	if store != nil {
		if err := r.load(now); err != nil {
			return nil, err
		}
		if err := r.retain(now); err != nil {
			opts.Logger.Warn("cannot drop old analytics", "err", err)
		}
		r.lastRetain = now
	}
	go r.run()
	return r, nil
}

// load reads the stored rows of the current hour and minute, and the hour's top
// lists: what the previous process wrote before it stopped (or was killed).
func (r *Recorder) load(now time.Time) error {
	hour, minute := floorTo(now, 3600), floorTo(now, 60)
	readRows := func(kind byte, bucket int64, into map[int64][]Counts) error {
		for site, name := range r.sites.names {
			if !r.sites.configured {
				name = rowTotal
			}
			err := r.store.ScanAnalytics(kind, name, bucket, bucket+1, func(_ int64, v []byte) bool {
				if into[bucket] == nil {
					into[bucket] = r.newSiteCounts()
				}
				if err := into[bucket][site].addEncoded(v); err != nil {
					r.opts.Logger.Warn("cannot read stored analytics, skipped", "kind", string(kind), "bucket", bucket, "site", name, "err", err)
				}
				return true
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := readRows(kindHour, hour, r.hours); err != nil {
		return fmt.Errorf("cannot read the analytics of the current hour: %w", err)
	}
	if err := readRows(kindMinute, minute, r.minutes); err != nil {
		return fmt.Errorf("cannot read the analytics of the current minute: %w", err)
	}
	return r.store.ScanAnalytics(kindTopHour, "", hour, hour+1, func(_ int64, v []byte) bool {
		lists, err := decodeTop(v)
		if err != nil {
			r.opts.Logger.Warn("cannot read stored top lists, skipped", "bucket", hour, "err", err)
			return false
		}
		r.top.Load().load(lists, r.seed, r.caps)
		return false
	})
}

func (r *Recorder) newSiteCounts() []Counts {
	out := make([]Counts, len(r.sites.names))
	for i := range out {
		out[i] = newCounts()
	}
	return out
}

// Sites are the names site= may take besides "all".
func (r *Recorder) Sites() []string { return r.sites.apiNames() }

// Record counts one answer of the render route. It takes no global lock: atomic
// adds into a random stripe of the minute, and a short lock on one of the top
// lists' shards chosen by URL.
func (r *Recorder) Record(q Request) {
	if r == nil {
		return
	}
	if q.Result >= numResults {
		q.Result = Error
	}
	site := r.sites.of(q.URL)
	class := q.Class.index()
	if q.Class == 0 {
		class = classify(q.UserAgent)
	}
	row := r.slotAt(q.Time).row(site)
	row[offRequests+int(q.Result)].Add(1)
	row[offStatus+statusClass(q.Status)].Add(1)
	if q.Bytes > 0 {
		row[offBytes].Add(uint64(q.Bytes))
	}
	base := numFixed + class*perCrawler
	row[base+crawlerRequests].Add(1)
	switch {
	case q.Result.cached():
		row[base+crawlerCached].Add(1)
	case q.Result.rendered():
		row[base+crawlerRendered].Add(1)
	}
	if q.URL != "" {
		h := maphash.String(r.seed, q.URL)
		r.topAt(q.Time).record(h, q.URL, class, q.Result, uint64(max(q.Wait.Milliseconds(), 0)), r.caps)
	}
}

// RecordRender counts one finished render and keeps it among the recent ones.
func (r *Recorder) RecordRender(e Render) {
	if r == nil {
		return
	}
	if e.Result >= numRenderResults {
		e.Result = RenderError
	}
	if e.Queue >= numQueues {
		e.Queue = Normal
	}
	row := r.slotAt(e.Time).row(r.sites.of(e.URL))
	q := int(e.Queue)
	row[offRenders+int(e.Result)*int(numQueues)+q].Add(1)
	ms := uint64(max(e.Duration.Milliseconds(), 0))
	// An overloaded render never ran: its time is a wait, not a render time.
	if e.Result != RenderOverloaded {
		row[offRenderMs+q].Add(ms)
		row[offHist+q*numRenderBuckets+renderBucket(e.Duration)].Add(1)
		// A crawler's render is in the slowest list through its request.
		if e.Queue != Live && e.URL != "" {
			r.topAt(e.Time).recordRender(maphash.String(r.seed, e.URL), e.URL, ms, r.caps)
		}
	}
	r.recent.add(e)
}

func floorTo(t time.Time, size int64) int64 {
	s := t.Unix()
	f := s / size * size
	if f > s {
		f -= size
	}
	return f
}

// slotAt returns the slot to count an event of time t in: the open minute, or a
// new one when t is past it. An event stamped before the open minute (a request
// that started just before it) counts in the open minute.
func (r *Recorder) slotAt(t time.Time) *slot {
	m := floorTo(t, 60)
	if s := r.open.Load(); s.minute >= m {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rotateLocked(m)
}

func (r *Recorder) rotateLocked(m int64) *slot {
	s := r.open.Load()
	if s.minute >= m {
		return s
	}
	s.closedTick = r.tick
	r.closed = append(r.closed, s)
	ns := newSlot(m, len(r.sites.names))
	r.open.Store(ns)
	return ns
}

func (r *Recorder) topAt(t time.Time) *topSet {
	h := floorTo(t, 3600)
	if ts := r.top.Load(); ts.hour >= h {
		return ts
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rotateTopLocked(h)
}

func (r *Recorder) rotateTopLocked(h int64) *topSet {
	ts := r.top.Load()
	if ts.hour >= h {
		return ts
	}
	ts.closedTick = r.tick
	r.oldTops = append(r.oldTops, ts)
	nt := newTopSet(h)
	r.top.Store(nt)
	return nt
}

// run is the flusher: every FlushInterval it writes what was counted, and once
// an hour it drops old rows. It stops on Close.
func (r *Recorder) run() {
	defer close(r.stopped)
	t := time.NewTicker(r.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			if err := r.flush(false); err != nil {
				r.opts.Logger.Warn("cannot write analytics, kept in memory for the next flush", "err", err)
			}
		}
	}
}

// Flush writes what was counted so far (tests, and callers that read storage).
func (r *Recorder) Flush() error {
	if r == nil {
		return nil
	}
	return r.flush(false)
}

// Close stops the flusher and writes everything counted. Counts recorded
// after Close stay in memory.
func (r *Recorder) Close() error {
	if r == nil {
		return nil
	}
	var err error
	r.once.Do(func() {
		close(r.stop)
		<-r.stopped
		err = r.flush(true)
	})
	return err
}

// flushPlan is what one flush writes, built under mu.
type flushPlan struct {
	minutes map[int64][]Counts // minute → counts by site, folded + live
	hours   map[int64][]Counts
	tops    []*topSet // written with their snapshot
	written []int64   // dirty buckets this plan writes
	done    []*topSet // old tops written for the last time
}

// flush folds the minutes closed at least one flush ago into their minute and
// hour, then writes every minute and hour that changed and the top lists.
// final folds and writes everything (Close).
func (r *Recorder) flush(final bool) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	now := r.opts.Clock()
	plan := r.plan(now, final)
	if r.store == nil {
		r.commit(plan)
		return nil
	}
	topRows := make(map[int64][]byte, len(plan.tops))
	for _, ts := range plan.tops {
		topRows[ts.hour] = appendTop(nil, ts.snapshot(r.caps))
	}
	var buf []byte
	err := r.store.PutAnalytics(func(put func(kind byte, bucket int64, name string, value []byte)) {
		for _, kb := range []struct {
			kind byte
			rows map[int64][]Counts
		}{{kindMinute, plan.minutes}, {kindHour, plan.hours}} {
			for bucket, bySite := range kb.rows {
				total := newCounts()
				for site, c := range bySite {
					total.add(c)
					if r.sites.configured && !c.isZero() {
						buf = appendCounts(buf[:0], c)
						put(kb.kind, bucket, r.sites.names[site], buf)
					}
				}
				if !total.isZero() {
					buf = appendCounts(buf[:0], total)
					put(kb.kind, bucket, rowTotal, buf)
				}
			}
		}
		for hour, v := range topRows {
			put(kindTopHour, hour, "", v)
		}
	})
	if err != nil {
		for _, ts := range plan.tops {
			ts.changed.Store(true)
		}
		return fmt.Errorf("cannot write analytics: %w", err)
	}
	r.commit(plan)
	if final || now.Sub(r.lastRetain) >= retainEvery {
		r.lastRetain = now
		if err := r.retain(now); err != nil {
			return fmt.Errorf("cannot drop old analytics: %w", err)
		}
	}
	return nil
}

// plan folds what may be folded and collects the rows to write.
func (r *Recorder) plan(now time.Time, final bool) flushPlan {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tick++
	r.rotateLocked(floorTo(now, 60))
	r.rotateTopLocked(floorTo(now, 3600))
	if final {
		// Nothing counts any more: the open minute is folded as well.
		r.closed = append(r.closed, r.open.Load())
		r.open.Store(newSlot(floorTo(now, 60)+60, len(r.sites.names)))
		r.oldTops = append(r.oldTops, r.top.Load())
		r.top.Store(newTopSet(floorTo(now, 3600) + 3600))
	}
	keep := r.closed[:0]
	for _, s := range r.closed {
		// A slot replaced during this tick may still be written by a request
		// that loaded it just before: it is folded at the next tick.
		if final || s.closedTick < r.tick {
			r.fold(s)
		} else {
			keep = append(keep, s)
		}
	}
	clear(r.closed[len(keep):])
	r.closed = keep

	plan := flushPlan{minutes: make(map[int64][]Counts), hours: make(map[int64][]Counts)}
	live := append(slices.Clone(r.closed), r.open.Load())
	for bucket := range r.dirty {
		plan.written = append(plan.written, bucket)
		if c, ok := r.minutes[bucket]; ok {
			plan.minutes[bucket] = cloneSites(c)
		}
		if c, ok := r.hours[bucket]; ok {
			plan.hours[bucket] = cloneSites(c)
		}
	}
	for _, s := range live {
		hour := s.minute / 3600 * 3600
		m, h := plan.minutes[s.minute], plan.hours[hour]
		if m == nil {
			m = r.basePlusNothing(r.minutes[s.minute])
			plan.minutes[s.minute] = m
		}
		if h == nil {
			h = r.basePlusNothing(r.hours[hour])
			plan.hours[hour] = h
		}
		for site := range m {
			s.sumInto(site, m[site])
			s.sumInto(site, h[site])
		}
	}
	for _, ts := range r.oldTops {
		if final || ts.closedTick < r.tick {
			plan.done = append(plan.done, ts)
		}
		plan.tops = append(plan.tops, ts)
	}
	if ts := r.top.Load(); ts.changed.Swap(false) {
		plan.tops = append(plan.tops, ts)
	}
	return plan
}

// basePlusNothing copies base (folded counts by site), or makes zero counts.
func (r *Recorder) basePlusNothing(base []Counts) []Counts {
	if base == nil {
		return r.newSiteCounts()
	}
	return cloneSites(base)
}

func cloneSites(c []Counts) []Counts {
	out := make([]Counts, len(c))
	for i := range c {
		out[i] = slices.Clone(c[i])
	}
	return out
}

// fold adds a closed slot into its minute's and hour's folded counts.
func (r *Recorder) fold(s *slot) {
	hour := s.minute / 3600 * 3600
	for site := range s.nsites {
		c := newCounts()
		s.sumInto(site, c)
		if c.isZero() {
			continue
		}
		if r.minutes[s.minute] == nil {
			r.minutes[s.minute] = r.newSiteCounts()
		}
		if r.hours[hour] == nil {
			r.hours[hour] = r.newSiteCounts()
		}
		r.minutes[s.minute][site].add(c)
		r.hours[hour][site].add(c)
		r.dirty[s.minute] = true
		r.dirty[hour] = true
	}
}

// commit forgets what a successful write made final: dirty marks it wrote,
// minutes and hours that can no longer change, top lists written for the last
// time.
func (r *Recorder) commit(p flushPlan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range p.written {
		delete(r.dirty, b)
	}
	openMinute := r.open.Load().minute
	liveMinutes := map[int64]bool{openMinute: true}
	liveHours := map[int64]bool{openMinute / 3600 * 3600: true}
	for _, s := range r.closed {
		liveMinutes[s.minute] = true
		liveHours[s.minute/3600*3600] = true
	}
	for m := range r.minutes {
		if !liveMinutes[m] && !r.dirty[m] {
			delete(r.minutes, m)
		}
	}
	for h := range r.hours {
		if !liveHours[h] && !r.dirty[h] {
			delete(r.hours, h)
		}
	}
	r.oldTops = slices.DeleteFunc(r.oldTops, func(ts *topSet) bool { return slices.Contains(p.done, ts) })
}

// retain drops minute rows older than 48 hours and hour rows older than 90
// days, and turns the top lists of every day wholly older than 48 hours into one
// list for the day.
func (r *Recorder) retain(now time.Time) error {
	var errs []error
	if err := r.store.DeleteAnalytics(kindMinute, floorTo(now.Add(-MinuteRetention), 60)); err != nil {
		errs = append(errs, err)
	}
	if err := r.store.DeleteAnalytics(kindHour, floorTo(now.Add(-HourRetention), 3600)); err != nil {
		errs = append(errs, err)
	}
	dayCut := floorTo(now.Add(-TopHourRetention), 86400)
	byDay := make(map[int64][][]byte)
	err := r.store.ScanAnalytics(kindTopHour, "", 0, dayCut, func(bucket int64, v []byte) bool {
		day := bucket / 86400 * 86400
		byDay[day] = append(byDay[day], slices.Clone(v))
		return true
	})
	if err != nil {
		errs = append(errs, err)
	} else if len(byDay) > 0 {
		days := make(map[int64][]byte, len(byDay))
		for day, values := range byDay {
			lists, err := mergeEncoded(values, r.caps)
			if err != nil {
				r.opts.Logger.Warn("cannot merge stored top lists, day skipped", "day", time.Unix(day, 0).UTC(), "err", err)
				continue
			}
			days[day] = appendTop(nil, lists)
		}
		err := r.store.PutAnalytics(func(put func(kind byte, bucket int64, name string, value []byte)) {
			for _, day := range slices.Sorted(maps.Keys(days)) {
				put(kindTopDay, day, "", days[day])
			}
		})
		if err != nil {
			errs = append(errs, err)
		} else if err := r.store.DeleteAnalytics(kindTopHour, dayCut); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.store.DeleteAnalytics(kindTopDay, floorTo(now.Add(-HourRetention), 86400)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
