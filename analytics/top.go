package analytics

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Measure is what a top list ranks URLs by.
type Measure uint8

// The measures, in the order of the stored format (append only).
const (
	// Requested counts every answer of a URL.
	Requested Measure = iota
	// Missed counts the answers that were a render (MISS, REVALIDATED, BYPASS).
	Missed
	// Slowest keeps the longest time of a URL: what a crawler waited for a
	// render, or a recache's render time.
	Slowest
	numMeasures
)

var measureNames = [numMeasures]string{"requested", "missed", "slowest"}

func (m Measure) String() string {
	if m < numMeasures {
		return measureNames[m]
	}
	return "unknown"
}

// MeasureOf maps "requested", "missed" or "slowest" to its value.
func MeasureOf(s string) (Measure, bool) {
	for i, n := range measureNames {
		if n == s {
			return Measure(i), true
		}
	}
	return 0, false
}

// topList keeps the heaviest URLs of a stream in bounded memory: a min-heap of
// at most max entries and an index by URL hash.
//
// For counts it is the space-saving algorithm (Metwally et al.): a URL not in a
// full list takes the place of the lightest one and inherits its count (kept as
// err, the most it may be overestimated by). Every URL counted more than N/max
// times is in the list, and two lists add up (sum the counts and the errors), so
// hours merge into a day and any window into its top. For the slowest list it
// keeps each URL's maximum, and is exact for the URLs it holds: the threshold
// to get in only rises.
//
// Entries are keyed by a 64-bit hash of the URL (one hash per request, no string
// hashing in the map); two URLs colliding would share an entry, a chance of one
// in 2^64 per pair.
type topList struct {
	max int
	idx map[uint64]int32 // URL hash → slot in entries
	// entries never move; order holds their slots by value, lightest first,
	// and each entry knows its place in it.
	entries []topEntry
	order   []int32
}

type topEntry struct {
	h   uint64
	url string
	v   uint64
	err uint64
	pos int32 // index in order
}

func newTopList(max int) *topList {
	return &topList{max: max, idx: make(map[uint64]int32, max)}
}

func (l *topList) len() int { return len(l.order) }

// lightest is the value an entry must beat to get into a full list.
func (l *topList) lightest() uint64 { return l.entries[l.order[0]].v }

// count adds n to url (space-saving). url is kept as it is: the callers' URL
// strings are theirs to keep (never a view of a buffer).
func (l *topList) count(h uint64, url string, n uint64) {
	if slot, ok := l.idx[h]; ok {
		e := &l.entries[slot]
		l.raise(int(e.pos), e.v+n)
		return
	}
	if len(l.order) < l.max {
		l.add(topEntry{h: h, url: url, v: n})
		return
	}
	floor := l.lightest()
	l.replaceLightest(topEntry{h: h, url: url, v: floor + n, err: floor})
}

// keepMax records v for url if it is more than what url has, and makes room
// for it when the list is full and v beats the lightest entry.
func (l *topList) keepMax(h uint64, url string, v uint64) {
	if slot, ok := l.idx[h]; ok {
		if e := &l.entries[slot]; v > e.v {
			l.raise(int(e.pos), v)
		}
		return
	}
	if len(l.order) < l.max {
		l.add(topEntry{h: h, url: url, v: v})
		return
	}
	if v <= l.lightest() {
		return
	}
	l.replaceLightest(topEntry{h: h, url: url, v: v})
}

// load puts back a stored entry (a restart in the middle of its hour).
func (l *topList) load(e topEntry, m Measure) {
	if slot, ok := l.idx[e.h]; ok {
		x := &l.entries[slot]
		if m != Slowest {
			x.err += e.err
			l.raise(int(x.pos), x.v+e.v)
		} else if e.v > x.v {
			l.raise(int(x.pos), e.v)
		}
		return
	}
	if len(l.order) < l.max {
		l.add(e)
		return
	}
	if e.v <= l.lightest() {
		return
	}
	l.replaceLightest(e)
}

// replaceLightest puts e in the place of the lightest entry.
func (l *topList) replaceLightest(e topEntry) {
	slot := l.order[0]
	delete(l.idx, l.entries[slot].h)
	v := e.v
	e.v, e.pos = l.entries[slot].v, 0
	l.entries[slot] = e
	l.idx[e.h] = slot
	l.raise(0, v)
}

// add appends e while the list is not full.
func (l *topList) add(e topEntry) {
	slot := int32(len(l.entries))
	v := e.v
	e.v, e.pos = 0, 0
	l.entries = append(l.entries, e)
	l.idx[e.h] = slot
	// In at the light end, then raised to its value.
	l.order = append(l.order, 0)
	copy(l.order[1:], l.order)
	l.order[0] = slot
	for i, s := range l.order {
		l.entries[s].pos = int32(i)
	}
	l.raise(0, v)
}

func (l *topList) value(i int) uint64 { return l.entries[l.order[i]].v }

// raise sets the value of the entry at position p to v (no less than it has)
// and moves it up to keep the order: it jumps over each run of equal lighter
// values by one swap with the run's last entry, found by binary search. A +1
// (the usual count) is one search and one swap however many entries tie.
func (l *topList) raise(p int, v uint64) {
	n := len(l.order)
	for p+1 < n && l.value(p+1) < v {
		run := l.value(p + 1)
		lo, hi := p+1, n // the first position past the run
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if l.value(mid) > run {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		end := lo - 1
		l.order[p], l.order[end] = l.order[end], l.order[p]
		l.entries[l.order[p]].pos = int32(p)
		l.entries[l.order[end]].pos = int32(end)
		p = end
	}
	l.entries[l.order[p]].v = v
}

// topShards spreads the top lists of an hour over locks by URL hash, so requests
// for different URLs rarely wait for each other. Each shard sees its own part
// of the URLs, and the shards' lists are merged when the hour is written.
const topShards = 16

// topSet holds the top lists of one hour: per measure, one list for all
// crawlers and one per crawler class seen (plus Recache for the slowest).
type topSet struct {
	hour    int64
	changed atomic.Bool
	shards  [topShards]topShard
	// closedTick: see slot.closedTick.
	closedTick uint64
}

type topShard struct {
	mu    sync.Mutex
	lists [numMeasures][]*topList // [0] all crawlers, [1+class] one class; nil until used
	_     [64]byte
}

// topCaps are the sizes of the merged lists of an hour.
type topCaps struct{ all, perClass int }

func newTopSet(hour int64) *topSet {
	t := &topSet{hour: hour}
	for i := range t.shards {
		for m := range t.shards[i].lists {
			t.shards[i].lists[m] = make([]*topList, numClasses+2)
		}
	}
	return t
}

// shardCap over-provisions each shard (twice its share) so that an uneven
// spread of URLs over shards costs no accuracy when they are merged.
func shardCap(total int) int { return max(2*total/topShards, 16) }

func (s *topShard) list(m Measure, slot int, caps topCaps) *topList {
	l := s.lists[m][slot]
	if l == nil {
		c := caps.perClass
		if slot == 0 {
			c = caps.all
		}
		l = newTopList(shardCap(c))
		s.lists[m][slot] = l
	}
	return l
}

// record counts one answer of url by crawler class in the lists of its shard.
func (t *topSet) record(h uint64, url string, class int, r Result, ms uint64, caps topCaps) {
	if !t.changed.Load() {
		t.changed.Store(true)
	}
	s := &t.shards[h%topShards]
	s.mu.Lock()
	s.list(Requested, 0, caps).count(h, url, 1)
	s.list(Requested, 1+class, caps).count(h, url, 1)
	if r.rendered() {
		s.list(Missed, 0, caps).count(h, url, 1)
		s.list(Missed, 1+class, caps).count(h, url, 1)
		s.list(Slowest, 0, caps).keepMax(h, url, ms)
		s.list(Slowest, 1+class, caps).keepMax(h, url, ms)
	}
	s.mu.Unlock()
}

// recordRender adds a queued render's time to the slowest lists.
func (t *topSet) recordRender(h uint64, url string, ms uint64, caps topCaps) {
	if !t.changed.Load() {
		t.changed.Store(true)
	}
	s := &t.shards[h%topShards]
	s.mu.Lock()
	s.list(Slowest, 0, caps).keepMax(h, url, ms)
	s.list(Slowest, 1+recacheClass, caps).keepMax(h, url, ms)
	s.mu.Unlock()
}

// TopItem is one URL of a top list.
type TopItem struct {
	URL string
	// Value is the count (requested, missed) or the milliseconds (slowest).
	Value uint64
	// Err is how much Value may overstate the count (space-saving); 0 for slowest.
	Err uint64
}

type topListKey struct {
	m    Measure
	slot int // 0 all, 1+class
}

// snapshot merges the shards' lists into one list per measure and class, each
// cut to its size, heaviest first.
func (t *topSet) snapshot(caps topCaps) map[topListKey][]TopItem {
	out := make(map[topListKey][]TopItem)
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for m := range numMeasures {
			for slot, l := range s.lists[m] {
				if l == nil || l.len() == 0 {
					continue
				}
				k := topListKey{m, slot}
				for _, e := range l.entries {
					out[k] = append(out[k], TopItem{URL: e.url, Value: e.v, Err: e.err})
				}
			}
		}
		s.mu.Unlock()
	}
	for k, items := range out {
		sortTop(items)
		c := caps.perClass
		if k.slot == 0 {
			c = caps.all
		}
		out[k] = items[:min(len(items), c)]
	}
	return out
}

// sortTop orders heaviest first, then by URL so the order is stable.
func sortTop(items []TopItem) {
	slices.SortFunc(items, func(a, b TopItem) int {
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		return strings.Compare(a.URL, b.URL)
	})
}

// slotName is the stored name of a list's crawler: "" for all crawlers.
func slotName(slot int) string {
	switch {
	case slot == 0:
		return ""
	case slot-1 == recacheClass:
		return Recache
	}
	return classes[slot-1].name
}

// slotOf is the inverse of slotName; ok is false for a name not in the list.
func slotOf(name string) (int, bool) {
	switch name {
	case "":
		return 0, true
	case Recache:
		return 1 + recacheClass, true
	}
	k, ok := classByName[name]
	return 1 + k, ok
}

const topVersion = 1

// appendTop encodes an hour's (or a day's) lists:
//
//	version byte
//	uvarint n, then n × (measure byte, uvarint len, crawler name ("" all),
//	    uvarint k, then k × (uvarint len, url, uvarint value, uvarint err))
func appendTop(dst []byte, lists map[topListKey][]TopItem) []byte {
	keys := make([]topListKey, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b topListKey) int {
		return cmp.Or(cmp.Compare(a.m, b.m), cmp.Compare(a.slot, b.slot))
	})
	dst = append(dst, topVersion)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = append(dst, byte(k.m))
		name := slotName(k.slot)
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
		items := lists[k]
		dst = binary.AppendUvarint(dst, uint64(len(items)))
		for _, it := range items {
			dst = binary.AppendUvarint(dst, uint64(len(it.URL)))
			dst = append(dst, it.URL...)
			dst = binary.AppendUvarint(dst, it.Value)
			dst = binary.AppendUvarint(dst, it.Err)
		}
	}
	return dst
}

// scanTop calls fn with every list of an encoded value; crawler is "" for all
// crawlers. The url bytes alias b.
func scanTop(b []byte, fn func(m Measure, crawler []byte, url []byte, v, err uint64)) error {
	if len(b) == 0 || b[0] != topVersion {
		return fmt.Errorf("%w: top lists of version %v", errCorrupt, b[:min(len(b), 1)])
	}
	r := reader{b: b[1:]}
	n := r.uvarint()
	for range n {
		m := Measure(r.byte())
		name := r.bytes()
		k := r.uvarint()
		if r.err != nil {
			return r.err
		}
		if m >= numMeasures {
			return fmt.Errorf("%w: measure %d", errCorrupt, m)
		}
		for range k {
			u := r.bytes()
			v := r.uvarint()
			e := r.uvarint()
			if r.err != nil {
				return r.err
			}
			fn(m, name, u, v, e)
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the top lists", errCorrupt, len(r.b))
	}
	return nil
}

// decodeTop reads an encoded value back into lists. Lists of a crawler no
// longer in the list are dropped.
func decodeTop(b []byte) (map[topListKey][]TopItem, error) {
	out := make(map[topListKey][]TopItem)
	err := scanTop(b, func(m Measure, crawler, url []byte, v, e uint64) {
		slot, ok := slotOf(string(crawler))
		if !ok {
			return
		}
		k := topListKey{m, slot}
		out[k] = append(out[k], TopItem{URL: string(url), Value: v, Err: e})
	})
	return out, err
}

// load puts an hour's stored lists back into t.
func (t *topSet) load(lists map[topListKey][]TopItem, seed maphash.Seed, caps topCaps) {
	for k, items := range lists {
		for _, it := range items {
			h := maphash.String(seed, it.URL)
			s := &t.shards[h%topShards]
			s.mu.Lock()
			s.list(k.m, k.slot, caps).load(topEntry{h: h, url: it.URL, v: it.Value, err: it.Err}, k.m)
			s.mu.Unlock()
		}
	}
}

// topMerge adds lists up: counts and errors add, the slowest keep the maximum.
type topMerge struct {
	m     Measure
	items map[string]*TopItem
}

func newTopMerge(m Measure) *topMerge {
	return &topMerge{m: m, items: make(map[string]*TopItem)}
}

func (t *topMerge) add(url []byte, v, e uint64) {
	if it, ok := t.items[string(url)]; ok {
		if t.m == Slowest {
			it.Value = max(it.Value, v)
		} else {
			it.Value += v
			it.Err += e
		}
		return
	}
	t.items[string(url)] = &TopItem{URL: string(url), Value: v, Err: e}
}

// top returns the heaviest n items whose URL passes keep.
func (t *topMerge) top(n int, keep func(url string) bool) []TopItem {
	out := make([]TopItem, 0, len(t.items))
	for _, it := range t.items {
		if keep == nil || keep(it.URL) {
			out = append(out, *it)
		}
	}
	sortTop(out)
	return out[:min(len(out), n)]
}

// mergeEncoded adds every list of the encoded values into lists of the given
// sizes (a day's lists from its hours).
func mergeEncoded(values [][]byte, caps topCaps) (map[topListKey][]TopItem, error) {
	merges := make(map[topListKey]*topMerge)
	for _, b := range values {
		err := scanTop(b, func(m Measure, crawler, url []byte, v, e uint64) {
			slot, ok := slotOf(string(crawler))
			if !ok {
				return
			}
			k := topListKey{m, slot}
			tm := merges[k]
			if tm == nil {
				tm = newTopMerge(m)
				merges[k] = tm
			}
			tm.add(url, v, e)
		})
		if err != nil {
			return nil, err
		}
	}
	out := make(map[topListKey][]TopItem, len(merges))
	for k, tm := range merges {
		c := caps.perClass
		if k.slot == 0 {
			c = caps.all
		}
		out[k] = tm.top(c, nil)
	}
	return out, nil
}
