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
	max  int
	idx  map[uint64]int32
	heap []topEntry
}

type topEntry struct {
	h   uint64
	url string
	v   uint64
	err uint64
}

func newTopList(max int) *topList {
	return &topList{max: max, idx: make(map[uint64]int32, max)}
}

// count adds n to url (space-saving).
func (l *topList) count(h uint64, url string, n uint64) {
	if i, ok := l.idx[h]; ok {
		l.heap[i].v += n
		l.down(int(i))
		return
	}
	if len(l.heap) < l.max {
		l.push(topEntry{h: h, url: strings.Clone(url), v: n})
		return
	}
	root := &l.heap[0]
	delete(l.idx, root.h)
	floor := root.v
	*root = topEntry{h: h, url: strings.Clone(url), v: floor + n, err: floor}
	l.idx[h] = 0
	l.down(0)
}

// keepMax records v for url if it is more than what url has, and makes room
// for it when the list is full and v beats the lightest entry.
func (l *topList) keepMax(h uint64, url string, v uint64) {
	if i, ok := l.idx[h]; ok {
		if v > l.heap[i].v {
			l.heap[i].v = v
			l.down(int(i))
		}
		return
	}
	if len(l.heap) < l.max {
		l.push(topEntry{h: h, url: strings.Clone(url), v: v})
		return
	}
	if v <= l.heap[0].v {
		return
	}
	root := &l.heap[0]
	delete(l.idx, root.h)
	*root = topEntry{h: h, url: strings.Clone(url), v: v}
	l.idx[h] = 0
	l.down(0)
}

// load puts back a stored entry (a restart in the middle of its hour).
func (l *topList) load(e topEntry, m Measure) {
	if i, ok := l.idx[e.h]; ok {
		if m == Slowest {
			l.heap[i].v = max(l.heap[i].v, e.v)
		} else {
			l.heap[i].v += e.v
			l.heap[i].err += e.err
		}
		l.down(int(i))
		return
	}
	if len(l.heap) < l.max {
		l.push(e)
		return
	}
	if e.v <= l.heap[0].v {
		return
	}
	delete(l.idx, l.heap[0].h)
	l.heap[0] = e
	l.idx[e.h] = 0
	l.down(0)
}

func (l *topList) push(e topEntry) {
	l.heap = append(l.heap, e)
	i := len(l.heap) - 1
	l.idx[e.h] = int32(i)
	l.up(i)
}

func (l *topList) swap(i, j int) {
	l.heap[i], l.heap[j] = l.heap[j], l.heap[i]
	l.idx[l.heap[i].h] = int32(i)
	l.idx[l.heap[j].h] = int32(j)
}

func (l *topList) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if l.heap[p].v <= l.heap[i].v {
			return
		}
		l.swap(i, p)
		i = p
	}
}

func (l *topList) down(i int) {
	n := len(l.heap)
	for {
		least := i
		if c := 2*i + 1; c < n && l.heap[c].v < l.heap[least].v {
			least = c
		}
		if c := 2*i + 2; c < n && l.heap[c].v < l.heap[least].v {
			least = c
		}
		if least == i {
			return
		}
		l.swap(i, least)
		i = least
	}
}

// topShards spreads the top lists of an hour over locks by URL hash, so requests
// for different URLs rarely wait for each other. Each shard sees its own part
// of the URLs, and the shards' lists are merged when the hour is written.
const topShards = 8

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
				if l == nil || len(l.heap) == 0 {
					continue
				}
				k := topListKey{m, slot}
				for _, e := range l.heap {
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
