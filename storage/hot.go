package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	// klauspost's inflate, not compress/gzip's: a random plain hit gunzips its
	// page, and on a 30 KB page (7.5 KB gzipped) it takes about half the CPU
	// (BenchmarkGunzipPage; it decodes from a bytes.Reader without the
	// byte-at-a-time interface calls of the standard library).
	"github.com/klauspost/compress/gzip"
)

// hotCache keeps the decoded pages of recent hits in memory, bounded in bytes,
// so that a hit on a hot page reads neither Pebble nor gunzip: since version 3
// a page is stored gzipped only (codec.go), and its plain body is decompressed
// once, on the first plain client's hit, then kept beside the gzip.
//
// It is invalidated in one place, Store.commitPages, after every write of a
// page (put, delete, Markdown, served flag), so a purge or a re-render is never
// answered from it. A miss that read Pebble before such a write must not put
// the old page back: each shard counts its invalidations (gen), and a miss
// inserts only when the count did not move while it read.
type hotCache struct {
	seed     maphash.Seed
	capacity int64 // bytes, over all shards
	shards   [hotShards]hotShard
	total    atomic.Int64 // bytes held, over all shards
	// evicting: one eviction pass at a time; a writer that finds one running
	// leaves the work to it.
	evicting sync.Mutex
	next     int // the shard the next pass starts at, under evicting
	hits     atomic.Uint64
	misses   atomic.Uint64
}

// hotShards spread the locks of the hit path; the capacity is one budget
// over all of them, so one big page fits as well as many small ones.
const hotShards = 16

// hotEntryOverhead is what an entry costs beyond its bodies, ETag and URL:
// the entry, its map slot, its header map and the memos readers keep with it
// (two of ~100 bytes in the HTTP front), roughly.
const hotEntryOverhead = 512

type hotShard struct {
	mu  sync.RWMutex
	m   map[string]*hotEntry
	gen atomic.Uint64
	// seen holds the hashes of keys read once since it was last emptied: a
	// page joins the cache on its second read, so a scan or random keys over
	// a store far bigger than the cache (one read each) do not pay a copy
	// and an eviction per read, nor push the hot pages out.
	seen map[uint64]struct{}
}

// hotSeenMax bounds each shard's seen set; a full one is emptied.
const hotSeenMax = 4096

// admit reports whether the key of hash h was read before (and forgets it),
// else remembers it.
func (sh *hotShard) admit(h uint64) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.seen[h]; ok {
		delete(sh.seen, h)
		return true
	}
	if sh.seen == nil || len(sh.seen) >= hotSeenMax {
		sh.seen = make(map[uint64]struct{}, 64)
	}
	sh.seen[h] = struct{}{}
	return false
}

// hotEntry is one page; immutable once inserted but for the bodies made on
// first use and the reference bit of the eviction.
type hotEntry struct {
	status      int
	header      http.Header
	renderedAt  time.Time
	expiresAt   time.Time
	etag, url   string
	prerendered bool
	gzip        []byte
	mdGzip      []byte
	plain       atomic.Pointer[[]byte]
	md          atomic.Pointer[[]byte]
	key         string
	making      sync.Mutex // one gunzip of a body at a time: the others wait for it
	referenced  atomic.Bool
	size        atomic.Int64
	shard       *hotShard
	// memo holds what readers derived from the page (PageView.Memo).
	memo [MemoSlots]atomic.Value
}

// MemoSlots is how many values a reader may keep with a page in the hot cache.
const MemoSlots = 2

// Memo is slot i (below MemoSlots) of the values a reader derives from the
// page and keeps with it while it stays in the hot cache: the HTTP front keeps
// the header values of its answers there, made once per page instead of once
// per hit. It is nil for a page not read from the hot cache. Each write of a
// page makes a new entry, so a memo never outlives the page it was made from;
// what a slot holds is the reader's to define (one type per slot), and must
// not be changed once stored.
func (v *PageView) Memo(i int) *atomic.Value {
	if v.entry == nil {
		return nil
	}
	return &v.entry.memo[i]
}

func newHotCache(capacity int64) *hotCache {
	if capacity <= 0 {
		return nil
	}
	return &hotCache{seed: maphash.MakeSeed(), capacity: capacity}
}

func (c *hotCache) shard(key string) *hotShard {
	return &c.shards[maphash.String(c.seed, key)%hotShards]
}

// get returns the entry of key, or nil and the shard's invalidation count,
// which put needs.
func (c *hotCache) get(key string) (*hotEntry, uint64) {
	sh := c.shard(key)
	gen := sh.gen.Load()
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	if e == nil {
		c.misses.Add(1)
		return nil, gen
	}
	c.hits.Add(1)
	if !e.referenced.Load() {
		e.referenced.Store(true)
	}
	return e, 0
}

// put makes an entry of f (a value read while the shard's count was gen) and
// inserts it when nothing invalidated the shard meanwhile and it fits. The
// entry copies the bodies, so it outlives the Pebble buffer f aliases.
func (c *hotCache) put(key string, gen uint64, f *pageFields) *hotEntry {
	size := int64(len(f.gzip)+len(f.mdGzip)+len(f.plain)+len(f.md)+len(f.etag)+len(f.url)+len(key)) + hotEntryOverhead
	if size > c.capacity/4 {
		return nil // a page this big would push out many others: read it from Pebble
	}
	h := maphash.String(c.seed, key)
	sh := &c.shards[h%hotShards]
	if sh.gen.Load() != gen || !sh.admit(h) {
		return nil
	}
	e := &hotEntry{
		status: f.status, header: f.header, renderedAt: f.renderedAt, expiresAt: f.expiresAt,
		etag: f.etag, url: f.url, prerendered: f.prerendered,
		gzip: bytes.Clone(f.gzip), mdGzip: bytes.Clone(f.mdGzip), shard: sh, key: key,
	}
	if f.plain != nil {
		p := bytes.Clone(f.plain)
		e.plain.Store(&p)
	}
	if f.md != nil {
		m := bytes.Clone(f.md)
		e.md.Store(&m)
	}
	e.size.Store(size)
	sh.mu.Lock()
	if sh.gen.Load() != gen {
		sh.mu.Unlock()
		return nil
	}
	if old := sh.m[key]; old != nil {
		c.total.Add(-old.size.Load())
	}
	if sh.m == nil {
		sh.m = make(map[string]*hotEntry)
	}
	sh.m[key] = e
	c.total.Add(size)
	sh.mu.Unlock()
	c.evict()
	return e
}

// invalidate drops key's entry; commitPages calls it after every write of a
// page.
func (c *hotCache) invalidate(key string) {
	sh := c.shard(key)
	sh.mu.Lock()
	sh.gen.Add(1)
	if e := sh.m[key]; e != nil {
		c.total.Add(-e.size.Load())
		delete(sh.m, key)
	}
	sh.mu.Unlock()
}

// evict brings the cache under its capacity: the second-chance (CLOCK) rule
// over the shards in turn, in Go's random map order within each, so an entry
// hit since the last pass stays one more. One shard lock at a time.
func (c *hotCache) evict() {
	if c.total.Load() <= c.capacity || !c.evicting.TryLock() {
		return
	}
	defer c.evicting.Unlock()
	for pass := 0; pass < 2; pass++ {
		for range hotShards {
			if c.total.Load() <= c.capacity {
				return
			}
			sh := &c.shards[c.next]
			c.next = (c.next + 1) % hotShards
			sh.mu.Lock()
			for k, e := range sh.m {
				if c.total.Load() <= c.capacity {
					break
				}
				if pass == 0 && e.referenced.Swap(false) {
					continue
				}
				c.total.Add(-e.size.Load())
				delete(sh.m, k)
			}
			sh.mu.Unlock()
		}
	}
}

// grow accounts for a body e made on first use, and evicts if the cache went
// over its capacity.
func (c *hotCache) grow(e *hotEntry, n int64) {
	sh := e.shard
	sh.mu.Lock()
	e.size.Add(n)
	if sh.m[e.key] == e {
		c.total.Add(n)
	}
	sh.mu.Unlock()
	c.evict()
}

// body returns the plain body of e (md: its Markdown), gunzipping it on first
// use. Concurrent first uses wait for one gunzip.
func (c *hotCache) body(e *hotEntry, md bool) ([]byte, error) {
	slot, gz := &e.plain, e.gzip
	if md {
		slot, gz = &e.md, e.mdGzip
	}
	if p := slot.Load(); p != nil {
		return *p, nil
	}
	e.making.Lock()
	defer e.making.Unlock()
	if p := slot.Load(); p != nil {
		return *p, nil // made while this one waited
	}
	plain, err := gunzip(gz, nil)
	if err != nil {
		return nil, err
	}
	if e.size.Load()+int64(len(plain)) > c.capacity/4 {
		return plain, nil // too big to keep (see put): made per request
	}
	slot.Store(&plain)
	c.grow(e, int64(len(plain)))
	return plain, nil
}

// HotCacheStats is what the hot-body cache did since Open, for /metrics.
type HotCacheStats struct {
	Hits     uint64 // page reads answered from memory
	Misses   uint64 // page reads that went to Pebble
	Bytes    int64  // bytes the cache holds now (bodies, tags, URLs, overhead)
	Capacity int64  // storage.hot_cache; 0 when it is off
}

// HotCacheStats reads the hot-body cache's counters.
func (s *Store) HotCacheStats() HotCacheStats {
	c := s.hot
	if c == nil {
		return HotCacheStats{}
	}
	return HotCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Bytes: c.total.Load(), Capacity: c.capacity}
}

// gunzipPool keeps the readers that make plain bodies: a gzip.Reader holds
// ~40 KB of state, too much to allocate per request.
var gunzipPool sync.Pool

// gunzip decompresses gz, appending to dst.
func gunzip(gz, dst []byte) ([]byte, error) {
	br := bytes.NewReader(gz)
	zr, _ := gunzipPool.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(br)
	} else {
		err = zr.Reset(br)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot gunzip a page body: %w", err)
	}
	defer gunzipPool.Put(zr)
	if len(gz) >= 4 {
		// The gzip trailer ends with the body's size (mod 4 GiB): at most one
		// allocation, of the right size (bounded against a damaged trailer),
		// and none when dst (a pooled view's buffer) has the room. The +1
		// lets io.Copy see the end without growing the buffer.
		if n := min(int(binary.LittleEndian.Uint32(gz[len(gz)-4:])), 64<<20) + 1; cap(dst)-len(dst) < n {
			dst = append(make([]byte, 0, len(dst)+n), dst...)
		}
	}
	buf := bytes.NewBuffer(dst)
	if _, err := io.Copy(buf, zr); err != nil {
		return nil, fmt.Errorf("cannot gunzip a page body: %w", err)
	}
	return buf.Bytes(), nil
}
