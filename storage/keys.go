package storage

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Key prefixes. Each is one letter and '/', so the upper bound of a prefix is
// the letter followed by '0' ('/'+1).
const (
	prefixPage  = "p/"
	prefixIndex = "i/"
	prefixMeta  = "m/"
	prefixDue   = "d/"
	prefixQueue = "q/" // the priority queue, q/<seq_be64>
	// copies of other cluster members' priority items, r/<owner>\x00<seq_be64>
	// (replica.go)
	prefixReplica = "r/"
	prefixSitemap = "s/" // sitemap poll state, written by the sitemaps actor only
	prefixSetting = "c/" // runtime settings changed through the API
	// analytics rows, a/<kind>/<name>/<bucket_be64>, written by the analytics
	// recorder only (analytics.go)
	prefixAnalytics = "a/"
	// the persisted page count and stored bytes, n/pages (counters.go)
	prefixCounter = "n/"
)

// dueKeyLen is the length of a d/ key before the page key: "d/", 8 bytes of
// expiry, '/'.
const dueKeyLen = len(prefixDue) + 8 + 1

func appendKey(dst []byte, prefix, key string) []byte {
	dst = append(dst, prefix...)
	return append(dst, key...)
}

// prefixIter iterates over the keys under prefix from prefix+start (start ""
// is the first) to the end of the prefix.
func (s *Store) prefixIter(prefix, start string) (*pebble.Iterator, error) {
	return s.db.NewIter(&pebble.IterOptions{
		LowerBound: appendKey(nil, prefix, start),
		UpperBound: prefixUpperBound(prefix),
	})
}

func prefixUpperBound(prefix string) []byte {
	b := []byte(prefix)
	b[len(b)-1]++
	return b
}

// appendDueKey appends d/<expires_be64>/<key>. The expiry is the signed
// nanosecond time with its sign bit flipped, so byte order is time order.
func appendDueKey(dst []byte, expires time.Time, key string) []byte {
	dst = append(dst, prefixDue...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(encodeTime(expires))^(1<<63))
	dst = append(dst, '/')
	return append(dst, key...)
}

func parseDueKey(k []byte) (key string, expires time.Time, ok bool) {
	if len(k) < dueKeyLen || string(k[:len(prefixDue)]) != prefixDue || k[dueKeyLen-1] != '/' {
		return "", time.Time{}, false
	}
	n := int64(binary.BigEndian.Uint64(k[len(prefixDue):]) ^ (1 << 63))
	return string(k[dueKeyLen:]), decodeTime(n), true
}

// zeroTime encodes time.Time{}, whose UnixNano is undefined.
const zeroTime = math.MinInt64

var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// encodeTime maps t to Unix nanoseconds, clamped to the representable range
// (years 1678 to 2262), with the zero time as zeroTime.
func encodeTime(t time.Time) int64 {
	switch {
	case t.IsZero():
		return zeroTime
	case t.Before(minTime):
		return math.MinInt64 + 1
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func decodeTime(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
