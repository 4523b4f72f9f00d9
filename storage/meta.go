package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Meta is the recache metadata of a key. It may exist without a page, for a
// URL whose renders fail.
type Meta struct {
	LastStatus     int
	Consecutive5xx int
	LastHit        time.Time
	Hits           int64
	Source         string // live, sitemap, api
	RenderedAt     time.Time
}

// GetMeta returns the metadata of key, or ErrNotFound.
func (s *Store) GetMeta(key string) (Meta, error) {
	if err := s.enter(); err != nil {
		return Meta{}, err
	}
	defer s.leave()
	return s.meta(key)
}

func (s *Store) meta(key string) (Meta, error) {
	val, closer, err := s.db.Get(appendKey(nil, prefixMeta, key))
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return Meta{}, ErrNotFound
		}
		return Meta{}, fmt.Errorf("cannot read meta %q: %w", key, err)
	}
	defer closer.Close()
	m, err := decodeMeta(val)
	if err != nil {
		return Meta{}, fmt.Errorf("cannot decode meta %q: %w", key, err)
	}
	return m, nil
}

// PutMeta replaces the metadata of key. It is not synced: a crash may lose
// the last updates (hit counts, failure streaks), which only shifts recache
// scheduling; the next synced write (PutPage, DeletePage) persists it.
//
// INVARIANT: see PutPage; only the key's shard owner writes m/<key>.
func (s *Store) PutMeta(key string, m Meta) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if key == "" {
		return errors.New("storage: meta has an empty key")
	}
	k := appendKey(nil, prefixMeta, key)
	v := encodeMeta(m)
	if err := s.checkFree(int64(len(k)+len(v)), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot store meta %q: %w", key, err)
	}
	if err := s.db.Set(k, v, pebble.NoSync); err != nil {
		return fmt.Errorf("cannot store meta %q: %w", key, err)
	}
	return nil
}
