package storage

import (
	"hash/maphash"
	"sync"
)

// bodyIndex maps a page key to where its record lies in the segments
// (segments.go), so that a hit reads no Pebble: a Get of a page's p/ value cost
// a third of a random hit at a million pages (iterators of every level, index
// blocks, a calloc per block), and an index kept in Pebble only gained a
// quarter of that back (README "Performance at a million pages").
//
// It is a hint, not the truth: p/ in Pebble is. A slot holds a 64-bit hash of
// the key, not the key, and the record a slot points at carries its key, which
// the reader compares; a record of another key (two keys of one hash) sends the
// reader to Pebble's p/. Only writers change it, after their batch is applied
// (applyMoves), so a slot never points at a location its key left before the
// write that left it returned. Readers never insert: a reader that read an old
// pointer from Pebble could put it back after a delete.
//
// Memory: 16 bytes a slot, open addressing with linear probing at most 3/4
// full, in indexShards tables that grow one at a time: 24 to 43 bytes a page
// (README gives the figure measured at a million).
type bodyIndex struct {
	hash func(string) uint64
	// hashBytes is hash of a key in bytes, without making it a string: the
	// build at Open hashes a million keys.
	hashBytes func([]byte) uint64
	shards    [indexShards]indexShard
}

// indexShards spreads the locks of writers and of a table's growth.
const indexShards = 64

type indexShard struct {
	mu    sync.RWMutex
	slots []indexSlot // len a power of two, or 0
	n     int
	// building: the index is being built from the pointers (buildBodyIndex);
	// a remove then leaves a tombstone, so the build does not put back a
	// pointer a writer removed after the build's snapshot.
	building bool
}

// indexSlot is one entry; h is never 0, which marks an empty slot.
type indexSlot struct {
	h   uint64
	loc uint64 // packLoc
}

// A location packs into 64 bits: the segment id (20 bits), the record's offset
// (26 bits: a segment is rolled before it reaches segmentTarget, 64 MiB, so a
// record starts below it) and its length (18 bits, 256 KiB: a 30 KB page's
// record is ~8 KB). A location that does not fit is not indexed: its page is
// read through Pebble's p/, as before the index.
const (
	locSegBits = 20
	locOffBits = 26
	locLenBits = 18
)

// locTombstone marks a key removed while the index is built; packLoc never
// makes it (the last segment id is not indexed).
const locTombstone = ^uint64(0)

func packLoc(l bodyLoc) (uint64, bool) {
	if uint64(l.seg) >= 1<<locSegBits-1 || l.off < 0 || l.off >= 1<<locOffBits || l.n <= 0 || l.n >= 1<<locLenBits {
		return 0, false
	}
	return uint64(l.seg)<<(locOffBits+locLenBits) | uint64(l.off)<<locLenBits | uint64(l.n), true
}

func unpackLoc(v uint64) bodyLoc {
	return bodyLoc{
		seg: uint32(v >> (locOffBits + locLenBits)),
		off: int64(v >> locLenBits & (1<<locOffBits - 1)),
		n:   int64(v & (1<<locLenBits - 1)),
	}
}

func newBodyIndex(hash func(string) uint64) *bodyIndex {
	if hash == nil {
		// maphash.Bytes and maphash.String agree on the same bytes.
		seed := maphash.MakeSeed()
		return &bodyIndex{
			hash:      func(key string) uint64 { return maphash.String(seed, key) },
			hashBytes: func(key []byte) uint64 { return maphash.Bytes(seed, key) },
		}
	}
	return &bodyIndex{hash: hash, hashBytes: func(key []byte) uint64 { return hash(string(key)) }}
}

func (x *bodyIndex) hashOf(key string) uint64 {
	return nonZero(x.hash(key))
}

func nonZero(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// shardOf takes the top bits: the slot within a shard is taken from the low ones.
func (x *bodyIndex) shardOf(h uint64) *indexShard {
	return &x.shards[h>>(64-6)]
}

// presize makes room for about n keys, so that building the index at Open
// does not grow each table several times.
func (x *bodyIndex) presize(n int64) {
	per := int(n/indexShards) + 1
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		if size := tableSize(per); size > len(sh.slots) {
			sh.rehash(size)
		}
		sh.mu.Unlock()
	}
}

// tableSize is the power of two that holds n keys at most 3/4 full.
func tableSize(n int) int {
	size := 16
	for size*3/4 < n {
		size *= 2
	}
	return size
}

// get returns the location indexed for key.
func (x *bodyIndex) get(key string) (bodyLoc, bool) {
	h := x.hashOf(key)
	sh := x.shardOf(h)
	sh.mu.RLock()
	v, ok := sh.find(h)
	sh.mu.RUnlock()
	if !ok || v == locTombstone {
		return bodyLoc{}, false
	}
	return unpackLoc(v), true
}

// startBuild marks every shard as being built: removes leave tombstones.
func (x *bodyIndex) startBuild() {
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		sh.building = true
		sh.mu.Unlock()
	}
}

// addBuilt indexes key at l unless a writer indexed or removed its hash since
// the build's snapshot was taken: a writer's location is always newer.
func (x *bodyIndex) addBuilt(key []byte, l bodyLoc) {
	v, ok := packLoc(l)
	if !ok {
		return
	}
	h := nonZero(x.hashBytes(key))
	sh := x.shardOf(h)
	sh.mu.Lock()
	if _, found := sh.find(h); !found {
		sh.put(h, v)
	}
	sh.mu.Unlock()
}

// endBuild drops the tombstones and ends the build, shard by shard.
func (x *bodyIndex) endBuild() {
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		for j := 0; j < len(sh.slots); {
			if s := sh.slots[j]; s.h != 0 && s.loc == locTombstone {
				sh.del(s.h) // shifts a later entry into j: look at j again
				continue
			}
			j++
		}
		sh.building = false
		sh.mu.Unlock()
	}
}

// set indexes key at l, or drops its entry when l does not pack.
func (x *bodyIndex) set(key string, l bodyLoc) {
	v, ok := packLoc(l)
	if !ok {
		x.remove(key)
		return
	}
	h := x.hashOf(key)
	sh := x.shardOf(h)
	sh.mu.Lock()
	sh.put(h, v)
	sh.mu.Unlock()
}

// remove drops the entry of key's hash (which may be another key's of the same
// hash: that key is then read through Pebble, still right).
func (x *bodyIndex) remove(key string) {
	h := x.hashOf(key)
	sh := x.shardOf(h)
	sh.mu.Lock()
	if sh.building {
		sh.put(h, locTombstone)
	} else {
		sh.del(h)
	}
	sh.mu.Unlock()
}

// bytes is what the tables take.
func (x *bodyIndex) bytes() int64 {
	var n int64
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.RLock()
		n += int64(len(sh.slots)) * 16
		sh.mu.RUnlock()
	}
	return n
}

func (sh *indexShard) find(h uint64) (uint64, bool) {
	if len(sh.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(sh.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &sh.slots[i]
		if s.h == h {
			return s.loc, true
		}
		if s.h == 0 {
			return 0, false
		}
	}
}

func (sh *indexShard) put(h, v uint64) {
	if (sh.n+1)*4 > len(sh.slots)*3 {
		sh.rehash(max(16, 2*len(sh.slots)))
	}
	mask := uint64(len(sh.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &sh.slots[i]
		if s.h == h {
			s.loc = v
			return
		}
		if s.h == 0 {
			*s = indexSlot{h: h, loc: v}
			sh.n++
			return
		}
	}
}

// del removes h by shifting back the entries after it that probed past it, so
// the table needs no tombstones.
func (sh *indexShard) del(h uint64) {
	if len(sh.slots) == 0 {
		return
	}
	mask := uint64(len(sh.slots) - 1)
	i := h & mask
	for {
		if sh.slots[i].h == 0 {
			return
		}
		if sh.slots[i].h == h {
			break
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; sh.slots[j].h != 0; j = (j + 1) & mask {
		home := sh.slots[j].h & mask
		// The entry at j may move into the hole at i when its home is not in
		// the cyclic range (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			sh.slots[i] = sh.slots[j]
			i = j
		}
	}
	sh.slots[i] = indexSlot{}
	sh.n--
}

func (sh *indexShard) rehash(size int) {
	old := sh.slots
	sh.slots = make([]indexSlot, size)
	sh.n = 0
	for _, s := range old {
		if s.h != 0 {
			sh.put(s.h, s.loc)
		}
	}
}
