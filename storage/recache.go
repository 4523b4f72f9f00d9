package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// SetPageExpiry moves the expiry of a stored page (p/, i/ and its d/ entry,
// in one synced batch) without rewriting its body elsewhere: a 304 on recache
// renews it, a failed recache pushes it back so the normal queue does not
// retry it at once. It returns ErrNotFound when no page is stored.
//
// INVARIANT: see PutPage; only the key's shard owner calls it.
func (s *Store) SetPageExpiry(key string, expires time.Time) error {
	if expires.IsZero() {
		return fmt.Errorf("storage: page %q: zero expiry", key)
	}
	return s.patchPage(key, "set expiry of", pebble.Sync, func(val []byte, sum *PageMeta) {
		binary.LittleEndian.PutUint64(val[pageExpiresOff:], uint64(encodeTime(expires)))
		sum.ExpiresAt = expires
	})
}

// MarkServed clears the prerendered flag of a page once a crawler has been
// served it. Not synced: if it is lost in a crash the page is announced as
// PRERENDER once more, nothing worse.
//
// INVARIANT: see PutPage; only the key's shard owner calls it.
func (s *Store) MarkServed(key string) error {
	return s.patchPage(key, "mark served", pebble.NoSync, func(val []byte, _ *PageMeta) {
		val[pageFlagsOff] &^= flagPrerendered
	})
}

// patchPage rewrites the fixed header of p/<key> through fn, and i/ and d/
// to match the summary fn leaves.
func (s *Store) patchPage(key, what string, wo *pebble.WriteOptions, fn func(val []byte, sum *PageMeta)) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.bodies.writers.RLock()
	defer s.bodies.writers.RUnlock()
	var buf []byte
	raw, closer, err := s.readPageValue(key, appendKey(nil, prefixPage, key), &buf)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrNotFound
		}
		return fmt.Errorf("cannot %s page %q: %w", what, key, err)
	}
	val := raw
	if closer != nil {
		val = append([]byte(nil), raw...)
		closer.Close()
	}
	var f pageFields
	if err := decodePage(val, &f); err != nil {
		return fmt.Errorf("cannot %s page %q: %w", what, key, err)
	}
	prev, existed, err := s.summary(key)
	if err != nil {
		return err
	}
	if !existed {
		prev = PageMeta{URL: f.url, Status: f.status, RenderedAt: f.renderedAt, ExpiresAt: f.expiresAt, Size: len(val)}
	}
	sum := prev
	fn(val, &sum)
	b := s.newPageBatch()
	defer b.Close()
	if err := s.setPageValue(b, key, val); err != nil {
		return fmt.Errorf("cannot %s page %q: %w", what, key, err)
	}
	_ = b.Set(appendKey(nil, prefixIndex, key), encodeSummary(sum), nil)
	if !sum.ExpiresAt.Equal(prev.ExpiresAt) {
		_ = b.Delete(appendDueKey(nil, prev.ExpiresAt, key), nil)
		_ = b.Set(appendDueKey(nil, sum.ExpiresAt, key), nil, nil)
	}
	if err := s.checkFree(int64(b.Len()), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot %s page %q: %w", what, key, err)
	}
	// A page without a summary was not counted; its new summary counts it (with
	// its size, which the summary now records).
	var added, size int64
	if !existed {
		added, size = 1, int64(sum.Size)
	}
	if err := s.commitPages(b, wo, added, size, key); err != nil {
		return fmt.Errorf("cannot %s page %q: %w", what, key, err)
	}
	return nil
}

// CountDue counts the pages whose expiry is before before, reading keys only
// and stopping at limit (the count is then limit).
func (s *Store) CountDue(before time.Time, limit int) (int, error) {
	n := 0
	err := s.ScanDue(before, func(string, time.Time) bool {
		n++
		return n < limit
	})
	return n, err
}

// QueueItem is an entry of the persisted priority queue.
type QueueItem struct {
	Seq        uint64 // set by PushQueue; FIFO order
	Key        string
	URL        string
	Source     string // api, sitemap, manual, stale, retry
	EnqueuedAt time.Time
}

// PushQueue appends items to the priority queue (q/<seq_be64>) in one batch
// and sets their Seq. With sync the batch is fsynced, so an accepted request
// survives kill -9; without, a crash may lose it (for entries the next stale
// hit queues again).
//
// INVARIANT: only the priority queue actor pushes and deletes queue entries,
// one call at a time, so the sequence needs no lock beyond that.
func (s *Store) PushQueue(items []QueueItem, sync bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if len(items) == 0 {
		return nil
	}
	seq, err := s.lastQueueSeq()
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for i := range items {
		seq++
		items[i].Seq = seq
		_ = b.Set(queueKey(seq), encodeQueueItem(items[i]), nil)
	}
	if err := s.checkFree(int64(b.Len()), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot queue %d urls: %w", len(items), err)
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	if err := b.Commit(wo); err != nil {
		return fmt.Errorf("cannot queue %d urls: %w", len(items), err)
	}
	return nil
}

func (s *Store) lastQueueSeq() (uint64, error) {
	it, err := s.prefixIter(prefixQueue, "")
	if err != nil {
		return 0, fmt.Errorf("cannot read the queue: %w", err)
	}
	var seq uint64
	if it.Last() {
		k := it.Key()
		if len(k) != len(prefixQueue)+8 {
			_ = it.Close()
			return 0, fmt.Errorf("cannot read the queue: %w", corruptf("queue key %q", k))
		}
		seq = binary.BigEndian.Uint64(k[len(prefixQueue):])
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("cannot read the queue: %w", err)
	}
	return seq, nil
}

// ScanQueue calls fn for each queued item in FIFO order until fn returns
// false. A corrupt entry is an error: the caller logs it and deletes it.
func (s *Store) ScanQueue(fn func(QueueItem) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	it, err := s.prefixIter(prefixQueue, "")
	if err != nil {
		return fmt.Errorf("cannot scan the queue: %w", err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err == nil && len(k) != len(prefixQueue)+8 {
			err = corruptf("queue key %q", k)
		}
		var item QueueItem
		if err == nil {
			item, err = decodeQueueItem(v)
		}
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("cannot scan the queue at %x: %w", k, err)
		}
		item.Seq = binary.BigEndian.Uint64(k[len(prefixQueue):])
		if !fn(item) {
			break
		}
	}
	if err := it.Error(); err != nil {
		_ = it.Close()
		return fmt.Errorf("cannot scan the queue: %w", err)
	}
	return it.Close()
}

// DeleteQueue removes queue entries once their render has ended. Not synced:
// an entry whose delete is lost in a crash is rendered once more after the
// restart (at-least-once), which is harmless.
func (s *Store) DeleteQueue(seqs ...uint64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	b := s.db.NewBatch()
	defer b.Close()
	for _, seq := range seqs {
		_ = b.Delete(queueKey(seq), nil)
	}
	if err := s.checkFree(int64(b.Len()), s.deleteFloor()); err != nil {
		return fmt.Errorf("cannot delete %d queue entries: %w", len(seqs), err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("cannot delete %d queue entries: %w", len(seqs), err)
	}
	return nil
}

func queueKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixQueue), seq)
}

// Queue item encoding, version 1: the version byte, EnqueuedAt as a varint
// (Unix ns), then Key, URL and Source, each as uvarint length and bytes.
const queueVersion = 1

func encodeQueueItem(q QueueItem) []byte {
	b := []byte{queueVersion}
	b = binary.AppendVarint(b, encodeTime(q.EnqueuedAt))
	for _, f := range []string{q.Key, q.URL, q.Source} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func decodeQueueItem(b []byte) (QueueItem, error) {
	if len(b) < 1 || b[0] != queueVersion {
		return QueueItem{}, corruptf("queue item version")
	}
	at, b, err := readVarint(b[1:])
	if err != nil {
		return QueueItem{}, err
	}
	var f [3][]byte
	for i := range f {
		if f[i], b, err = readBytes(b); err != nil {
			return QueueItem{}, err
		}
	}
	if len(b) != 0 {
		return QueueItem{}, corruptf("%d bytes after queue item", len(b))
	}
	return QueueItem{EnqueuedAt: decodeTime(at), Key: string(f[0]), URL: string(f[1]), Source: string(f[2])}, nil
}

// GetSetting returns a runtime setting (c/<name>), or ErrNotFound.
func (s *Store) GetSetting(name string) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	val, closer, err := s.db.Get(appendKey(nil, prefixSetting, name))
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("cannot read setting %q: %w", name, err)
	}
	defer closer.Close()
	return append([]byte(nil), val...), nil
}

// PutSetting stores a runtime setting set through the API (synced: the
// caller was told it is saved).
func (s *Store) PutSetting(name string, val []byte) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	k := appendKey(nil, prefixSetting, name)
	if err := s.checkFree(int64(len(k)+len(val)), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot store setting %q: %w", name, err)
	}
	if err := s.db.Set(k, val, pebble.Sync); err != nil {
		return fmt.Errorf("cannot store setting %q: %w", name, err)
	}
	return nil
}

// AddHits adds n hits, the last at last, to the metadata of key. It makes
// the record only for a stored page: it returns ErrNotFound when there is
// neither a record nor a page, so that hits never leave an m/ entry behind a
// page that is gone (a record that exists without a page, for a URL whose
// renders fail, gets them). Not synced, like PutMeta.
//
// INVARIANT: see PutPage; only the key's shard owner calls it.
func (s *Store) AddHits(key string, n int64, last time.Time) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	m, err := s.meta(key)
	if errors.Is(err, ErrNotFound) {
		if _, existed, err := s.summary(key); err != nil {
			return err
		} else if !existed {
			return ErrNotFound
		}
	} else if err != nil {
		return err
	}
	m.Hits += n
	if last.After(m.LastHit) {
		m.LastHit = last
	}
	k := appendKey(nil, prefixMeta, key)
	v := encodeMeta(m)
	if err := s.checkFree(int64(len(k)+len(v)), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot store hits of %q: %w", key, err)
	}
	if err := s.db.Set(k, v, pebble.NoSync); err != nil {
		return fmt.Errorf("cannot store hits of %q: %w", key, err)
	}
	return nil
}

// Hits are the hits of one key since the last flush (AddHitsBatch).
type Hits struct {
	Key  string
	N    int64
	Last time.Time
}

// AddHitsBatch is AddHits for the keys of one flush of a shard, in one unsynced
// batch: one free-space check and one commit for the flush instead of one each
// per key. A shard's flush after random hits holds a key per hit (a million pages
// hit at random), and committing them one by one took a tenth of the CPU of the
// hits (make bench-scale's profile). Keys with neither metadata nor a page are
// skipped, as AddHits refuses them; a key whose records cannot be read is
// skipped and its error joined into the one returned, the others are still
// written.
//
// INVARIANT: see PutPage; only the keys' shard owner calls it.
func (s *Store) AddHitsBatch(hits []Hits) error {
	if len(hits) == 0 {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	// The keys in order, each read through one iterator per record kind: a Get
	// per key and record set up its own table iterators and looked the index
	// up again, which after random hits at a million pages took a seventh of
	// the CPU (make bench-scale's profile); iterators moving forward keep
	// their tables and index positions from one key to the next.
	sorted := slices.Clone(hits)
	slices.SortStableFunc(sorted, func(a, b Hits) int { return strings.Compare(a.Key, b.Key) })
	pages, err := s.seeker(prefixIndex)
	if err != nil {
		return err
	}
	defer pages.Close()
	metas, err := s.seeker(prefixMeta)
	if err != nil {
		return err
	}
	defer metas.Close()
	b := s.db.NewBatch()
	defer b.Close()
	var errs error
	var key []byte
	for i := 0; i < len(sorted); i++ {
		h := sorted[i]
		// One key given twice counts once, with both counts.
		for i+1 < len(sorted) && sorted[i+1].Key == h.Key {
			i++
			h.N += sorted[i].N
			if sorted[i].Last.After(h.Last) {
				h.Last = sorted[i].Last
			}
		}
		// The metadata first: every stored page has one (PutPage writes it), and
		// hits may be added to a record that exists, also one without a page
		// (see Meta). Only a key without one needs its page's summary, so that
		// a flush never makes a record for a page that is gone: at a million
		// pages hit at random the two reads were a key's whole cost, each a
		// table block of its own (make bench-scale's profile).
		var m Meta
		key = appendKey(key[:0], prefixMeta, h.Key)
		if val, exists, err := metas.find(key); err != nil {
			errs = errors.Join(errs, fmt.Errorf("cannot store hits of %q: %w", h.Key, err))
			continue
		} else if exists {
			if m, err = decodeMeta(val); err != nil {
				errs = errors.Join(errs, fmt.Errorf("cannot store hits of %q: cannot decode meta: %w", h.Key, err))
				continue
			}
		} else {
			page := appendKey(nil, prefixIndex, h.Key)
			if _, exists, err := pages.find(page); err != nil {
				errs = errors.Join(errs, fmt.Errorf("cannot store hits of %q: %w", h.Key, err))
				continue
			} else if !exists {
				continue
			}
		}
		m.Hits += h.N
		if h.Last.After(m.LastHit) {
			m.LastHit = h.Last
		}
		if err := b.Set(key, encodeMeta(m), nil); err != nil {
			return errors.Join(errs, fmt.Errorf("cannot store hits of %q: %w", h.Key, err))
		}
	}
	if b.Empty() {
		return errs
	}
	if err := s.checkFree(int64(b.Len()), s.opts.MinFreeBytes); err != nil {
		return errors.Join(errs, fmt.Errorf("cannot store the hits of %d pages: %w", len(hits), err))
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return errors.Join(errs, fmt.Errorf("cannot store the hits of %d pages: %w", len(hits), err))
	}
	return errs
}

// seeker finds records of one prefix by full key, the keys asked in
// ascending order (AddHitsBatch).
type seeker struct{ it *pebble.Iterator }

func (s *Store) seeker(prefix string) (seeker, error) {
	it, err := s.prefixIter(prefix, "")
	if err != nil {
		return seeker{}, fmt.Errorf("cannot read the %s records: %w", prefix, err)
	}
	return seeker{it: it}, nil
}

// find returns the value stored under the full key k, valid until the next
// find, and whether there is one. SeekPrefixGE reads the tables' bloom
// filters, as a Get does, and moves on from the last position when k
// follows the key asked before.
func (sk seeker) find(k []byte) ([]byte, bool, error) {
	if !sk.it.SeekPrefixGE(k) {
		return nil, false, sk.it.Error()
	}
	if !bytes.Equal(sk.it.Key(), k) {
		return nil, false, nil
	}
	v, err := sk.it.ValueAndErr()
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (sk seeker) Close() { _ = sk.it.Close() }
