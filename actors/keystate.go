package actors

import (
	"sync"
	"sync/atomic"
	"time"

	"prerenderd/policy"
)

// keyState is what a cache shard owns for its keys besides the renders in
// flight: the keys' flags (policy.Flags), the hits counted on the hit path
// since the last flush, and the keys whose disk work (a page's store work, a
// delete) runs in a goroutine. It belongs to the shard's index, not to one
// incarnation of the shard actor: a shard restarted by its supervisor takes
// it over, so the flags survive the restart and the one-write-per-key
// invariant holds across it.
//
// INVARIANT: only the shard actor of this index writes flags and writing; the
// hit path reads the flags through the snapshot the shard publishes (one
// atomic load and a map read, never an actor hop), and only adds to hits.
type keyState struct {
	// flags is the published snapshot: an immutable map, replaced whole on
	// every change (copy on write). Keys without flags are absent.
	flags atomic.Pointer[map[string]policy.Flags]
	hits  hitCounter
	// writing are the keys whose store work or delete runs in a goroutine: a
	// render asked for one of them waits until the write is done (see
	// shardActor.startOrPark).
	writing map[string]bool
}

func newKeyState() *keyState {
	k := &keyState{writing: make(map[string]bool)}
	empty := map[string]policy.Flags{}
	k.flags.Store(&empty)
	return k
}

// flagsOf reads key's flags from the snapshot. Safe from any goroutine.
func (k *keyState) flagsOf(key string) policy.Flags {
	return (*k.flags.Load())[key]
}

// setFlags changes the flags of keys and publishes the new snapshot once.
// fn gets each key's flags and returns the new ones; flags equal to zero
// remove the key. Called by the shard only.
func (k *keyState) setFlags(keys []string, fn func(key string, f policy.Flags) policy.Flags) {
	old := *k.flags.Load()
	var next map[string]policy.Flags
	for _, key := range keys {
		was, had := old[key]
		now := fn(key, was)
		if now == was {
			continue
		}
		if next == nil {
			next = make(map[string]policy.Flags, len(old)+1)
			for k, v := range old {
				next[k] = v
			}
		}
		if now == (policy.Flags{}) {
			if had {
				delete(next, key)
			}
			continue
		}
		next[key] = now
	}
	if next != nil {
		k.flags.Store(&next)
	}
}

// setFlag is setFlags for one key.
func (k *keyState) setFlag(key string, fn func(policy.Flags) policy.Flags) {
	k.setFlags([]string{key}, func(_ string, f policy.Flags) policy.Flags { return fn(f) })
}

// hitStripes spreads one shard's hit counters over locks so parallel hits
// rarely meet (eight shards of eight: as many stripes as one recorder of 64).
const hitStripes = 8

// hitCounter counts hits in memory; the shard writes them to m/ every
// Config.HitFlushEvery, so the hit path never writes to Pebble.
type hitCounter struct {
	stripes [hitStripes]struct {
		mu   sync.Mutex
		hits map[string]hitCount
		_    [40]byte // keep stripes on separate cache lines
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

// add counts a hit of key at at. It is on the hit path: a striped lock and a
// map update, no I/O. hash is the key's keyHash.
func (h *hitCounter) add(key string, hash uint32, at time.Time) {
	st := &h.stripes[(hash>>8)%hitStripes]
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

// drain takes the hits counted so far. Called by the shard only.
func (h *hitCounter) drain() map[string]hitCount {
	var all map[string]hitCount
	for i := range h.stripes {
		st := &h.stripes[i]
		st.mu.Lock()
		hits := st.hits
		st.hits = nil
		st.mu.Unlock()
		if all == nil {
			all = hits
			continue
		}
		for k, c := range hits {
			all[k] = c
		}
	}
	return all
}

// keyHash is FNV-1a of key, inline so that the hit path does not allocate a
// hash.Hash for it: it picks the key's shard and its hit stripe.
func keyHash(key string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return h
}
