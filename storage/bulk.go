package storage

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Summary returns the summary of the page stored under key (status, times, size,
// URL) without reading its body, or ErrNotFound.
func (s *Store) Summary(key string) (PageMeta, error) {
	if err := s.enter(); err != nil {
		return PageMeta{}, err
	}
	defer s.leave()
	m, ok, err := s.summary(key)
	if err != nil {
		return PageMeta{}, err
	}
	if !ok {
		return PageMeta{}, ErrNotFound
	}
	return m, nil
}

// DeletePages removes each key as DeletePage does (p/, i/, d/ and m/), all in one
// synced batch, and returns how many of the keys had a page. A bulk clear or an
// eviction pays one fsync per batch instead of one per page.
//
// INVARIANT: see PutPage; only the shard owner of every key deletes it, and no
// write of any of these keys runs at the same time.
func (s *Store) DeletePages(keys []string) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	s.bodies.writers.RLock()
	defer s.bodies.writers.RUnlock()
	b := s.newPageBatch()
	defer b.Close()
	var pages int
	var size int64
	for _, key := range keys {
		counted, n, err := s.deleteInto(b, key)
		if err != nil {
			return 0, err
		}
		if counted {
			pages++
			size += n
		}
	}
	if err := s.checkFree(int64(b.Len()), s.deleteFloor()); err != nil {
		return 0, fmt.Errorf("cannot delete %d pages: %w", len(keys), err)
	}
	if err := s.commitPages(b, pebble.Sync, -int64(pages), -size, keys...); err != nil {
		return 0, fmt.Errorf("cannot delete %d pages: %w", len(keys), err)
	}
	return pages, nil
}

// PageInfo is what ScanPagesMeta gives for each page: its summary and its recache
// metadata (zero when it has none).
type PageInfo struct {
	PageMeta
	Meta Meta
}

// ScanPagesMeta calls fn for each stored page with key >= start, in key order, with
// its summary and metadata, until fn returns false. It walks i/ and m/ side by side
// (both are in key order), so it reads no bodies and does no point lookups. fn may
// call other Store methods except Close.
func (s *Store) ScanPagesMeta(start string, fn func(key string, info *PageInfo) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	it, err := s.prefixIter(prefixIndex, start)
	if err != nil {
		return fmt.Errorf("cannot scan pages: %w", err)
	}
	defer it.Close()
	mit, err := s.prefixIter(prefixMeta, start)
	if err != nil {
		return fmt.Errorf("cannot scan pages: %w", err)
	}
	defer mit.Close()
	mvalid := mit.First()
	var info PageInfo
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()[len(prefixIndex):]
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("cannot scan pages at %q: %w", key, err)
		}
		if info.PageMeta, err = decodeSummary(v); err != nil {
			return fmt.Errorf("cannot decode page summary %q: %w", key, err)
		}
		info.Meta = Meta{}
		// Move the meta iterator up to this key; a meta without a page (a URL whose
		// renders fail) is skipped.
		for mvalid && bytes.Compare(mit.Key()[len(prefixMeta):], key) < 0 {
			mvalid = mit.Next()
		}
		if mvalid && bytes.Equal(mit.Key()[len(prefixMeta):], key) {
			mv, err := mit.ValueAndErr()
			if err != nil {
				return fmt.Errorf("cannot scan meta at %q: %w", key, err)
			}
			if info.Meta, err = decodeMeta(mv); err != nil {
				return fmt.Errorf("cannot decode meta %q: %w", key, err)
			}
		}
		if !fn(string(key), &info) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("cannot scan pages: %w", err)
	}
	if err := mit.Error(); err != nil {
		return fmt.Errorf("cannot scan meta: %w", err)
	}
	return nil
}

// ScanKeys calls fn with the key of each stored page with key >= start, in key
// order, until fn returns false. It decodes nothing, so a search or a clear can
// filter 100,000 keys without an allocation per key; key is valid only during the
// call. fn may call other Store methods except Close.
func (s *Store) ScanKeys(start string, fn func(key []byte) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	it, err := s.prefixIter(prefixIndex, start)
	if err != nil {
		return fmt.Errorf("cannot scan page keys: %w", err)
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		if !fn(it.Key()[len(prefixIndex):]) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("cannot scan page keys: %w", err)
	}
	return nil
}

// PutPages stores pages as PutPage does, all in one synced batch: an import or a
// warm-up of many pages pays one fsync per call instead of one per page. The keys
// must be distinct; a batch of a few megabytes (a hundred pages of 30 KB) is the
// size to aim for, since the whole batch is held in memory.
//
// INVARIANT: see PutPage; only the shard owner of every key writes it, and no
// other write of these keys runs at the same time.
func (s *Store) PutPages(pages []*Page) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.bodies.writers.RLock()
	defer s.bodies.writers.RUnlock()
	seen := make(map[string]struct{}, len(pages))
	b := s.newPageBatch()
	defer b.Close()
	var added, size int64
	for _, p := range pages {
		if _, dup := seen[p.Key]; dup {
			return fmt.Errorf("storage: PutPages given the key %q twice", p.Key)
		}
		seen[p.Key] = struct{}{}
		a, n, err := s.putInto(b, p)
		if err != nil {
			return fmt.Errorf("cannot store %d pages: %w", len(pages), err)
		}
		added += a
		size += n
	}
	if err := s.checkFree(int64(b.Len()), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot store %d pages: %w", len(pages), err)
	}
	keys := make([]string, 0, len(pages))
	for _, p := range pages {
		keys = append(keys, p.Key)
	}
	if err := s.commitPages(b, pebble.Sync, added, size, keys...); err != nil {
		return fmt.Errorf("cannot store %d pages: %w", len(pages), err)
	}
	return nil
}
