package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Analytics rows live under a/<kind>/<name>/<bucket_be64>: kind is one byte
// ('m' minute counts, 'h' hour counts, 't' and 'd' top lists of an hour and a
// day), name the row's site (no '/'), bucket the Unix seconds at which the
// bucket starts (sign bit flipped, so byte order is time order). A site's rows
// are contiguous: a query of one site for 48 hours of minutes reads its 2,880
// rows and no other. The values are the analytics package's encoding; storage
// keeps them as opaque bytes.
func appendAnalyticsKey(dst []byte, kind byte, name string, bucket int64) []byte {
	dst = appendAnalyticsName(dst, kind, name)
	return binary.BigEndian.AppendUint64(dst, uint64(bucket)^(1<<63))
}

// appendAnalyticsName is the prefix of the rows of one name: a/<kind>/<name>/.
func appendAnalyticsName(dst []byte, kind byte, name string) []byte {
	dst = append(dst, prefixAnalytics...)
	dst = append(dst, kind, '/')
	dst = append(dst, name...)
	return append(dst, '/')
}

// parseAnalyticsKey splits a key of kind into its name and bucket.
func parseAnalyticsKey(k []byte) (name []byte, bucket int64, ok bool) {
	head := len(prefixAnalytics) + 2
	if len(k) < head+1+8 || string(k[:len(prefixAnalytics)]) != prefixAnalytics || k[len(k)-9] != '/' {
		return nil, 0, false
	}
	return k[head : len(k)-9], int64(binary.BigEndian.Uint64(k[len(k)-8:]) ^ (1 << 63)), true
}

// PutAnalytics writes the rows rows puts in one synced batch: the analytics
// flusher calls it every few seconds, off the hit path, and a row it wrote must
// survive kill -9.
//
// INVARIANT: only the analytics recorder writes a/ keys, one flush at a time.
func (s *Store) PutAnalytics(rows func(put func(kind byte, bucket int64, name string, value []byte))) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	b := s.db.NewBatch()
	defer b.Close()
	var key []byte
	var bad error
	rows(func(kind byte, bucket int64, name string, value []byte) {
		if kind == 0 || kind == '/' {
			bad = errors.Join(bad, fmt.Errorf("analytics row kind %q is not a letter", kind))
			return
		}
		if strings.Contains(name, "/") {
			bad = errors.Join(bad, fmt.Errorf("analytics row name %q has a '/'", name))
			return
		}
		key = appendAnalyticsKey(key[:0], kind, name, bucket)
		_ = b.Set(key, value, nil)
	})
	if bad != nil {
		return bad
	}
	if b.Empty() {
		return nil
	}
	if err := s.checkFree(int64(b.Len()), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot store analytics: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("cannot store analytics: %w", err)
	}
	return nil
}

// ScanAnalytics calls fn with the rows of kind and name whose bucket is in
// [from, to), in bucket order, until fn returns false. value aliases Pebble's
// buffer and is valid only during fn.
func (s *Store) ScanAnalytics(kind byte, name string, from, to int64, fn func(bucket int64, value []byte) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if from >= to {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: appendAnalyticsKey(nil, kind, name, from),
		UpperBound: appendAnalyticsKey(nil, kind, name, to),
	})
	if err != nil {
		return fmt.Errorf("cannot scan analytics: %w", err)
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		_, bucket, ok := parseAnalyticsKey(it.Key())
		if !ok {
			return fmt.Errorf("cannot scan analytics: %w", corruptf("analytics key %q", it.Key()))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("cannot scan analytics at %q: %w", it.Key(), err)
		}
		if !fn(bucket, v) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("cannot scan analytics: %w", err)
	}
	return nil
}

// AnalyticsNames lists the names that have rows of kind, in order.
func (s *Store) AnalyticsNames(kind byte) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	lo := append([]byte(prefixAnalytics), kind, '/')
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: append([]byte(prefixAnalytics), kind, '0')})
	if err != nil {
		return nil, fmt.Errorf("cannot list analytics rows: %w", err)
	}
	defer it.Close()
	var names []string
	for valid := it.First(); valid; {
		name, _, ok := parseAnalyticsKey(it.Key())
		if !ok {
			return nil, fmt.Errorf("cannot list analytics rows: %w", corruptf("analytics key %q", it.Key()))
		}
		names = append(names, string(name))
		// The next name starts past every row of this one: a/<kind>/<name>0.
		next := appendAnalyticsName(nil, kind, string(name))
		next[len(next)-1]++
		valid = it.SeekGE(next)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("cannot list analytics rows: %w", err)
	}
	return names, nil
}

// DeleteAnalytics removes every row of kind whose bucket is before before: one
// range deletion per name.
func (s *Store) DeleteAnalytics(kind byte, before int64) error {
	names, err := s.AnalyticsNames(kind)
	if err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	b := s.db.NewBatch()
	defer b.Close()
	for _, name := range names {
		_ = b.DeleteRange(appendAnalyticsName(nil, kind, name), appendAnalyticsKey(nil, kind, name, before), nil)
	}
	if b.Empty() {
		return nil
	}
	if err := s.checkFree(int64(b.Len()), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot drop old analytics: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("cannot drop old analytics: %w", err)
	}
	return nil
}
