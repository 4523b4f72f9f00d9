package storage

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// This file keeps the copies of the priority items another member of a
// cluster queued (r/<owner>\x00<seq_be64>, the owner's address and its queue
// sequence), so that a member killed for good loses none of them: the member
// holding the copies hands them to the keys' new owner. The actors decide
// when to keep, hand over and drop them; storage only stores them.

func replicaKey(owner string, seq uint64) []byte {
	k := appendKey(nil, prefixReplica, owner)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// PutReplicas stores the copies of owner's queued items (their Seq is
// owner's), fsynced: the owner is told they are safe.
func (s *Store) PutReplicas(owner string, items []QueueItem) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if strings.IndexByte(owner, 0) >= 0 || owner == "" {
		return fmt.Errorf("cannot keep copies of queue items: bad owner %q", owner)
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, it := range items {
		_ = b.Set(replicaKey(owner, it.Seq), encodeQueueItem(it), nil)
	}
	if err := s.checkFree(int64(b.Len()), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot keep %d copies of %s's queue items: %w", len(items), owner, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("cannot keep %d copies of %s's queue items: %w", len(items), owner, err)
	}
	return nil
}

// DeleteReplicas drops copies of owner's items. Not synced: a delete lost in
// a crash leaves a copy that is at worst rendered once more.
func (s *Store) DeleteReplicas(owner string, seqs ...uint64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	b := s.db.NewBatch()
	defer b.Close()
	for _, seq := range seqs {
		_ = b.Delete(replicaKey(owner, seq), nil)
	}
	if err := s.checkFree(int64(b.Len()), s.deleteFloor()); err != nil {
		return fmt.Errorf("cannot drop %d copies of %s's queue items: %w", len(seqs), owner, err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("cannot drop %d copies of %s's queue items: %w", len(seqs), owner, err)
	}
	return nil
}

// ScanReplicas calls fn with each copy, by owner then the owner's order,
// until fn returns false. A corrupt copy is passed with its error (its
// owner and Seq set when the key is readable), so the caller can drop it.
func (s *Store) ScanReplicas(fn func(owner string, it QueueItem, err error) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	it, err := s.prefixIter(prefixReplica, "")
	if err != nil {
		return fmt.Errorf("cannot scan the queue copies: %w", err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()[len(prefixReplica):]
		var owner string
		var item QueueItem
		var err error
		if i := len(k) - 9; i < 1 || k[i] != 0 {
			err = corruptf("queue copy key %q", k)
		} else {
			owner, item.Seq = string(k[:i]), binary.BigEndian.Uint64(k[i+1:])
			var v []byte
			if v, err = it.ValueAndErr(); err == nil {
				seq := item.Seq
				item, err = decodeQueueItem(v)
				item.Seq = seq
			}
		}
		if !fn(owner, item, err) {
			break
		}
	}
	if err := it.Error(); err != nil {
		_ = it.Close()
		return fmt.Errorf("cannot scan the queue copies: %w", err)
	}
	return it.Close()
}
