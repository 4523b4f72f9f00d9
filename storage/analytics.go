package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Analytics rows live under a/<kind>/<bucket_be64>/<name>: kind is one byte
// ('m' minute counts, 'h' hour counts, 't' and 'd' top lists of an hour and a
// day), bucket the Unix seconds at which the bucket starts (sign bit flipped, so
// byte order is time order), name the row's site. The values are the analytics
// package's encoding; storage keeps them as opaque bytes.
const analyticsHeaderLen = len(prefixAnalytics) + 2 + 8 + 1

func appendAnalyticsKey(dst []byte, kind byte, bucket int64, name string) []byte {
	dst = appendAnalyticsBound(dst, kind, bucket)
	dst = append(dst, '/')
	return append(dst, name...)
}

// appendAnalyticsBound is the key every row of kind at or after bucket sorts
// after: a/<kind>/<bucket_be64>.
func appendAnalyticsBound(dst []byte, kind byte, bucket int64) []byte {
	dst = append(dst, prefixAnalytics...)
	dst = append(dst, kind, '/')
	return binary.BigEndian.AppendUint64(dst, uint64(bucket)^(1<<63))
}

func parseAnalyticsKey(k []byte) (bucket int64, name []byte, ok bool) {
	if len(k) < analyticsHeaderLen || string(k[:len(prefixAnalytics)]) != prefixAnalytics || k[analyticsHeaderLen-1] != '/' {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(k[len(prefixAnalytics)+2:]) ^ (1 << 63)), k[analyticsHeaderLen:], true
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
		key = appendAnalyticsKey(key[:0], kind, bucket, name)
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

// ScanAnalytics calls fn with the rows of kind whose bucket is in [from, to),
// in bucket then name order, until fn returns false. value aliases Pebble's
// buffer and is valid only during fn.
func (s *Store) ScanAnalytics(kind byte, from, to int64, fn func(bucket int64, name string, value []byte) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if from >= to {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: appendAnalyticsBound(nil, kind, from),
		UpperBound: appendAnalyticsBound(nil, kind, to),
	})
	if err != nil {
		return fmt.Errorf("cannot scan analytics: %w", err)
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		bucket, name, ok := parseAnalyticsKey(it.Key())
		if !ok {
			return fmt.Errorf("cannot scan analytics: %w", corruptf("analytics key %q", it.Key()))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("cannot scan analytics at %q: %w", it.Key(), err)
		}
		if !fn(bucket, string(name), v) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("cannot scan analytics: %w", err)
	}
	return nil
}

// DeleteAnalytics removes every row of kind whose bucket is before before, with
// one range deletion: retention drops an hour of minutes, a day of hours at a
// time.
func (s *Store) DeleteAnalytics(kind byte, before int64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	lo := append([]byte(prefixAnalytics), kind, '/')
	hi := appendAnalyticsBound(nil, kind, before)
	if err := s.checkFree(int64(len(lo)+len(hi)), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot drop old analytics: %w", err)
	}
	if err := s.db.DeleteRange(lo, hi, pebble.NoSync); err != nil {
		return fmt.Errorf("cannot drop old analytics: %w", err)
	}
	return nil
}
