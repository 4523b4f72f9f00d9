package actors

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"prerenderd/storage"
)

// SearchPageSize is the most results one Search call returns (prerender.io's page).
const SearchPageSize = 200

// SearchQuery selects cached pages. Query is matched against the page URL: with a
// '%' it is a pattern where '%' stands for any run of characters, without one it is
// a substring. ExactMatch, when set, is one normalized URL and wins over Query.
type SearchQuery struct {
	Query      string
	ExactMatch string
	Start      int
	// Variant limits the results to one variant ("desktop", "mobile"); "" is both.
	Variant string
	// Limit is the most results returned; 0 is SearchPageSize. A cluster's
	// search asks each member for the first Start+SearchPageSize of its own
	// and merges them (httpfront/cluster.go).
	Limit int
	// OwnedOnly leaves out the pages of keys another member of the cluster
	// owns now: copies a member kept from before a change of membership,
	// which are never served (a cluster's search sets it on every member).
	OwnedOnly bool
}

// SearchItem is one cached page.
type SearchItem struct {
	URL        string
	Variant    string
	Status     int
	RenderedAt time.Time
	ExpiresAt  time.Time
	Hits       int64
	LastHit    time.Time
	Size       int
}

// SearchResult is one page of results. Total counts every match, so a client can
// page with Start.
type SearchResult struct {
	Items []SearchItem
	Total int
}

// Search lists cached pages. Like ViewPage it reads Pebble without an actor hop: it
// changes nothing, and a scan of 100,000 keys must not hold up a shard. The scan
// matches keys only (a key is the variant and the URL); summaries and metadata are
// read for the results of the page alone.
func (a *Appliance) Search(q SearchQuery) (SearchResult, error) {
	res := SearchResult{Items: []SearchItem{}}
	var window []string
	limit := SearchPageSize
	if q.Limit > 0 {
		limit = q.Limit
	}
	if q.ExactMatch != "" {
		for _, v := range variantsOf(q.Variant) {
			key := v + "|" + q.ExactMatch
			if _, mine := a.OwnerOf(key); q.OwnedOnly && !mine {
				continue
			}
			if _, err := a.store.Summary(key); err == nil {
				res.Total++
				if res.Total > q.Start {
					window = append(window, key)
				}
			} else if !errors.Is(err, storage.ErrNotFound) {
				return SearchResult{}, err
			}
		}
	} else {
		m := newMatcher(q.Query, true)
		bar := []byte("|")
		match := func(key []byte) bool {
			variant, url, ok := bytes.Cut(key, bar)
			if !ok || (q.Variant != "" && string(variant) != q.Variant) || !m.match(url) {
				return true
			}
			if q.OwnedOnly {
				if _, mine := a.OwnerOf(string(key)); !mine {
					return true
				}
			}
			res.Total++
			if res.Total > q.Start && len(window) < limit {
				window = append(window, string(key))
			}
			return true
		}
		// A pattern that starts with a literal ("https://shop.example/%") only
		// needs the keys from there, per variant; anything else scans every key.
		starts := []string{""}
		if p := m.prefix(); p != "" {
			starts = starts[:0]
			for _, v := range variantsOf(q.Variant) {
				starts = append(starts, v+"|"+p)
			}
		}
		for _, from := range starts {
			fromB := []byte(from)
			err := a.store.ScanKeys(from, func(key []byte) bool {
				if !bytes.HasPrefix(key, fromB) {
					return false
				}
				return match(key)
			})
			if err != nil {
				return SearchResult{}, err
			}
		}
	}
	for _, key := range window {
		sum, err := a.store.Summary(key)
		if errors.Is(err, storage.ErrNotFound) {
			continue // cleared since the scan
		}
		if err != nil {
			return SearchResult{}, err
		}
		meta, err := a.store.GetMeta(key)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return SearchResult{}, err
		}
		variant, _, _ := strings.Cut(key, "|")
		res.Items = append(res.Items, SearchItem{
			URL: sum.URL, Variant: variant, Status: sum.Status,
			RenderedAt: sum.RenderedAt, ExpiresAt: sum.ExpiresAt,
			Hits: meta.Hits, LastHit: meta.LastHit, Size: sum.Size,
		})
	}
	return res, nil
}

func variantsOf(v string) []string {
	if v != "" {
		return []string{v}
	}
	return []string{"desktop", "mobile"}
}

// matcher matches URLs against a cache-clear or search pattern: '%' is any run of
// characters (SQL LIKE, as prerender.io's API uses it), everything else is literal.
// It works on bytes, so a scan matches keys without converting them.
type matcher struct {
	parts  [][]byte // the literal pieces between '%'
	anchor bool     // false when the pattern starts with '%'
	tail   bool     // false when the pattern ends with '%'
}

// newMatcher builds a matcher; with substring set, a pattern without '%' matches
// anywhere in the URL (search), otherwise it must equal the URL (clear).
func newMatcher(pattern string, substring bool) matcher {
	if substring && !strings.Contains(pattern, "%") {
		pattern = "%" + pattern + "%"
	}
	return matcher{
		parts:  bytes.Split([]byte(pattern), []byte("%")),
		anchor: !strings.HasPrefix(pattern, "%"),
		tail:   !strings.HasSuffix(pattern, "%"),
	}
}

func (m matcher) match(s []byte) bool {
	parts := m.parts
	if len(parts) == 1 {
		return bytes.Equal(s, parts[0])
	}
	if m.anchor {
		if !bytes.HasPrefix(s, parts[0]) {
			return false
		}
		s = s[len(parts[0]):]
	}
	last := parts[len(parts)-1]
	if m.tail {
		if !bytes.HasSuffix(s, last) {
			return false
		}
		s = s[:len(s)-len(last)]
	}
	for _, p := range parts[1 : len(parts)-1] {
		i := bytes.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// prefix is the literal part before the first '%': the scan of a clear can start at
// the first key with it.
func (m matcher) prefix() string {
	if !m.anchor {
		return ""
	}
	return string(m.parts[0])
}

// ClearURL removes the pages of one normalized URL (every variant, or one), and
// their due-index and metadata entries, through their shard owners, and returns
// how many pages it removed. It is synchronous: when it returns, the pages are gone.
func (a *Appliance) ClearURL(ctx context.Context, url, variant string) (int, error) {
	if a.stopping.Load() {
		return 0, ErrStopping
	}
	var keys []string
	for _, v := range variantsOf(variant) {
		keys = append(keys, v+"|"+url)
	}
	r, err := a.deleteKeys(ctx, keys)
	return r.Deleted, err
}

// deleteResult sums the answers of the shards to deletePages.
type deleteResult struct {
	Deleted int // pages removed
	Busy    int // keys being rendered at that moment, left to their render
}

// deleteKeys sends each shard its share of keys and waits for every answer.
// INVARIANT: deletes of a key go through its shard owner (shardFor), like writes.
func (a *Appliance) deleteKeys(ctx context.Context, keys []string) (deleteResult, error) {
	var res deleteResult
	if len(keys) == 0 {
		return res, nil
	}
	byShard := make(map[int][]string)
	for _, k := range keys {
		i := a.shardOf(k)
		byShard[i] = append(byShard[i], k)
	}
	reply := make(chan pagesDeleted, len(byShard))
	for i, ks := range byShard {
		a.system.Root.Send(a.shardPID(i), &deletePages{Keys: ks, Reply: reply})
	}
	var errs []error
	for range byShard {
		select {
		case r := <-reply:
			res.Deleted += r.Deleted
			res.Busy += r.Busy
			if r.Err != nil {
				errs = append(errs, r.Err)
			}
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	return res, errors.Join(errs...)
}

// ClearStatus is the progress of the last wildcard clear (GET /cache-clear-status).
type ClearStatus struct {
	ID         uint64
	Query      string
	Variant    string
	State      string // "none", "running", "done", "failed"
	Matched    int
	Deleted    int
	Busy       int
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string
}

// ErrClearRunning: a wildcard clear is already running; one runs at a time so that
// its progress is the one GET /cache-clear-status shows.
var ErrClearRunning = errors.New("a cache clear is already running")

// clearBatch is the keys one clear step deletes, split among the shards: each
// shard deletes its share in one synced batch, so a bigger step pays fewer fsyncs.
const clearBatch = 4096

// clears runs wildcard clears one at a time in a goroutine the appliance owns.
type clears struct {
	mu     sync.Mutex
	seq    uint64
	status ClearStatus
}

// StartClear starts removing every page whose URL matches pattern ('%' is any run of
// characters; "%" alone is everything) in the background, and returns its status.
// Progress is read with ClearProgress.
func (a *Appliance) StartClear(pattern, variant string) (ClearStatus, error) {
	c := &a.clears
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status.State == "running" {
		return c.status, ErrClearRunning
	}
	prev := c.status
	c.seq++
	c.status = ClearStatus{ID: c.seq, Query: pattern, Variant: variant, State: "running", StartedAt: a.cfg.Clock()}
	if !a.goBackground(func(context.Context) { a.runClear(pattern, variant) }) {
		c.seq--
		c.status = prev
		return ClearStatus{}, ErrStopping
	}
	return c.status, nil
}

// ClearProgress returns the status of the last wildcard clear.
func (a *Appliance) ClearProgress() ClearStatus {
	a.clears.mu.Lock()
	defer a.clears.mu.Unlock()
	st := a.clears.status
	if st.State == "" {
		st.State = "none"
	}
	return st
}

func (a *Appliance) runClear(pattern, variant string) {
	start := time.Now()
	m := newMatcher(pattern, false)
	update := func(f func(*ClearStatus)) {
		a.clears.mu.Lock()
		f(&a.clears.status)
		a.clears.mu.Unlock()
	}
	a.log.Info("cache clear started", "query", pattern, "variant", variant)
	var failed error
	for _, v := range variantsOf(variant) {
		if err := a.clearVariant(v, m, update); err != nil {
			failed = err
			break
		}
	}
	st := a.ClearProgress()
	update(func(s *ClearStatus) {
		s.FinishedAt = a.cfg.Clock()
		s.State = "done"
		if failed != nil {
			s.State, s.Error = "failed", failed.Error()
		}
	})
	a.metrics.cleared.Add(st.Deleted)
	if failed != nil {
		a.log.Error("cache clear failed", "query", pattern, "matched", st.Matched, "deleted", st.Deleted, "err", failed, "duration", time.Since(start))
		return
	}
	a.log.Info("cache clear done", "query", pattern, "matched", st.Matched, "deleted", st.Deleted, "busy", st.Busy, "duration", time.Since(start))
}

// clearVariant walks the keys of one variant from the pattern's literal prefix, in
// batches: the scan collects a batch, stops, and the batch is deleted through the
// shards before the scan goes on from the next key, so no iterator is held open
// across the deletes and memory stays one batch.
func (a *Appliance) clearVariant(variant string, m matcher, update func(func(*ClearStatus))) error {
	prefix := variant + "|" + m.prefix()
	prefixB := []byte(prefix)
	from := prefix
	for {
		if a.stopping.Load() {
			return ErrStopping
		}
		var batch []string
		next := ""
		err := a.store.ScanKeys(from, func(key []byte) bool {
			if !bytes.HasPrefix(key, prefixB) {
				return false
			}
			if len(batch) == clearBatch {
				next = string(key)
				return false
			}
			if m.match(key[len(variant)+1:]) {
				batch = append(batch, string(key))
			}
			return true
		})
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r, err := a.deleteKeys(ctx, batch)
		cancel()
		update(func(s *ClearStatus) {
			s.Matched += len(batch)
			s.Deleted += r.Deleted
			s.Busy += r.Busy
		})
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		from = next
	}
}

// Eviction keeps storage.max_bytes: when the stored pages pass it, the least
// recently hit are removed until they are under evictTarget of it.
const evictTarget = 0.9

// evictLoop checks the bound every interval (one atomic load) and evicts when it is
// passed, until ctx ends (Stop).
func (a *Appliance) evictLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if a.store.StoredBytes() > a.cfg.MaxBytes {
				if err := a.evict(); err != nil && !errors.Is(err, ErrStopping) {
					a.log.Error("cache eviction failed", "err", err)
				}
			}
		}
	}
}

// evictCandidate is a page and when it was last wanted: its last hit, or its render
// for a page never hit (a page prerendered from a sitemap is as recent as its
// render, not older than every page ever hit).
type evictCandidate struct {
	key    string
	recent time.Time
	size   int64
}

// evictHeap is a max-heap on recency: it holds the least recent pages seen so far
// whose sizes add up to what must go, the most recent of them on top.
type evictHeap []evictCandidate

func (h evictHeap) Len() int           { return len(h) }
func (h evictHeap) Less(i, j int) bool { return h[i].recent.After(h[j].recent) }
func (h evictHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *evictHeap) Push(x any)        { *h = append(*h, x.(evictCandidate)) }
func (h *evictHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// evict removes the least recently hit pages until the stored bytes are under
// evictTarget × MaxBytes. One scan of summaries and metadata picks them, keeping in
// memory only the pages that will go.
func (a *Appliance) evict() error {
	start := time.Now()
	total := a.store.StoredBytes()
	need := total - int64(float64(a.cfg.MaxBytes)*evictTarget)
	if need <= 0 {
		return nil
	}
	var h evictHeap
	var held int64
	err := a.store.ScanPagesMeta("", func(key string, info *storage.PageInfo) bool {
		recent := info.Meta.LastHit
		if recent.IsZero() {
			recent = info.RenderedAt
		}
		c := evictCandidate{key: key, recent: recent, size: int64(info.Size)}
		if held >= need && !c.recent.Before(h[0].recent) {
			return true
		}
		heap.Push(&h, c)
		held += c.size
		// Drop the most recent while the rest still covers what must go.
		for held-h[0].size >= need {
			held -= heap.Pop(&h).(evictCandidate).size
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("cannot choose pages to evict: %w", err)
	}
	keys := make([]string, len(h))
	for i, c := range h {
		keys[i] = c.key
	}
	var res deleteResult
	for len(keys) > 0 {
		n := min(len(keys), clearBatch)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r, err := a.deleteKeys(ctx, keys[:n])
		cancel()
		res.Deleted += r.Deleted
		res.Busy += r.Busy
		a.metrics.evicted.Add(r.Deleted)
		if err != nil {
			return fmt.Errorf("cannot evict: %w", err)
		}
		keys = keys[n:]
	}
	a.metrics.evictions.Inc()
	a.log.Info("cache evicted", "pages", res.Deleted, "busy", res.Busy, "bytes_before", total,
		"bytes_after", a.store.StoredBytes(), "max_bytes", a.cfg.MaxBytes, "duration", time.Since(start))
	return nil
}
