package analytics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Counts are the counters of one bucket (a minute or an hour) of one site, laid
// out as the off* constants say: fixed counters, then perCrawler counters per
// crawler class. Rows of any buckets add up: a window is the sum of its rows.
type Counts []uint64

// countsLen is the length of a Counts vector, set once the crawler classes are
// known (schema.go).
var countsLen int

func newCounts() Counts { return make(Counts, countsLen) }

func (c Counts) add(o Counts) {
	for i, v := range o {
		c[i] += v
	}
}

func (c Counts) reset() { clear(c) }

func (c Counts) isZero() bool {
	for _, v := range c {
		if v != 0 {
			return false
		}
	}
	return true
}

func (c Counts) requests() uint64 {
	var n uint64
	for r := range numResults {
		n += c[offRequests+int(r)]
	}
	return n
}

func (c Counts) result(r Result) uint64 { return c[offRequests+int(r)] }

func (c Counts) cachedAnswers() uint64 {
	return c.result(Hit) + c.result(Stale) + c.result(Prerender)
}

func (c Counts) renders(r RenderResult, q Queue) uint64 {
	return c[offRenders+int(r)*int(numQueues)+int(q)]
}

func (c Counts) crawler(class, what int) uint64 {
	return c[numFixed+class*perCrawler+what]
}

// histogram adds the render time buckets of every queue into h.
func (c Counts) histogram(h *[numRenderBuckets]uint64) {
	for q := range numQueues {
		base := offHist + int(q)*numRenderBuckets
		for b := range numRenderBuckets {
			h[b] += c[base+b]
		}
	}
}

// renderTime is the count of timed renders and the sum of their milliseconds.
func (c Counts) renderTime() (n, ms uint64) {
	var h [numRenderBuckets]uint64
	c.histogram(&h)
	for _, v := range h {
		n += v
	}
	for q := range numQueues {
		ms += c[offRenderMs+int(q)]
	}
	return n, ms
}

// quantile estimates the q-quantile (0 < q ≤ 1) of the render times in h, in
// milliseconds, interpolating linearly inside the bucket that holds it. It is
// NaN when h is empty; in the open last bucket it is that bucket's lower bound.
func quantile(h *[numRenderBuckets]uint64, q float64) float64 {
	var total uint64
	for _, v := range h {
		total += v
	}
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var cum float64
	for i, v := range h {
		if v == 0 {
			continue
		}
		if cum+float64(v) >= rank {
			lo := 0.0
			if i > 0 {
				lo = float64(renderBounds[i-1])
			}
			if i == len(renderBounds) {
				return lo
			}
			hi := float64(renderBounds[i])
			return lo + (hi-lo)*(rank-cum)/float64(v)
		}
		cum += float64(v)
	}
	return float64(renderBounds[len(renderBounds)-1])
}

// countsVersion is the first byte of an encoded row.
const countsVersion = 1

// errCorrupt marks a stored value that does not decode.
var errCorrupt = errors.New("analytics: corrupt value")

// appendCounts encodes c sparsely: zero counters take no space, so a quiet
// minute of a site is a few bytes. Crawler classes are stored by name, so rows
// written before the crawler list changed still read.
//
//	version byte
//	uvarint n, then n × (uvarint gap to the previous fixed index + 1, uvarint value)
//	uvarint m, then m × (uvarint len, name, uvarint requests, cached, rendered)
func appendCounts(dst []byte, c Counts) []byte {
	dst = append(dst, countsVersion)
	n := 0
	for i := range numFixed {
		if c[i] != 0 {
			n++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	prev := -1
	for i := range numFixed {
		if c[i] != 0 {
			dst = binary.AppendUvarint(dst, uint64(i-prev-1))
			dst = binary.AppendUvarint(dst, c[i])
			prev = i
		}
	}
	m := 0
	for k := range numClasses {
		if c.crawler(k, crawlerRequests) != 0 || c.crawler(k, crawlerCached) != 0 || c.crawler(k, crawlerRendered) != 0 {
			m++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(m))
	for k := range numClasses {
		base := numFixed + k*perCrawler
		if c[base] == 0 && c[base+1] == 0 && c[base+2] == 0 {
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(classes[k].name)))
		dst = append(dst, classes[k].name...)
		for w := range perCrawler {
			dst = binary.AppendUvarint(dst, c[base+w])
		}
	}
	return dst
}

// addEncoded decodes a row written by appendCounts and adds it into c. A
// crawler name no longer in the list is counted as OtherBots.
func (c Counts) addEncoded(b []byte) error {
	if len(b) == 0 || b[0] != countsVersion {
		return fmt.Errorf("%w: counts of version %v", errCorrupt, b[:min(len(b), 1)])
	}
	r := reader{b: b[1:]}
	n := r.uvarint()
	idx := -1
	for range n {
		idx += int(r.uvarint()) + 1
		v := r.uvarint()
		if r.err != nil {
			break
		}
		if idx < 0 || idx >= numFixed {
			return fmt.Errorf("%w: counter %d out of range", errCorrupt, idx)
		}
		c[idx] += v
	}
	m := r.uvarint()
	for range m {
		name := r.bytes()
		var vals [perCrawler]uint64
		for w := range perCrawler {
			vals[w] = r.uvarint()
		}
		if r.err != nil {
			break
		}
		k, ok := classByName[string(name)]
		if !ok {
			k = otherBotsIdx
		}
		base := numFixed + k*perCrawler
		for w := range perCrawler {
			c[base+w] += vals[w]
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the counts", errCorrupt, len(r.b))
	}
	return nil
}

// reader decodes uvarints and length-prefixed bytes, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: truncated number", errCorrupt)
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: a string of %d bytes in %d", errCorrupt, n, len(r.b))
		r.b = nil
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = fmt.Errorf("%w: truncated", errCorrupt)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}
