package storage

import (
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// pageBatch is a Pebble batch of page writes with what the body store needs to
// commit it: the segments its records were appended to (synced before the
// batch commits) and the changes of the index and of the segments' live bytes
// to make once it is applied (applyMoves).
type pageBatch struct {
	*pebble.Batch
	touched []segEnd
	moves   []bodyMove
}

type segEnd struct {
	g   *segment
	end int64
}

// bodyMove is one key's record moving: from old (when hadOld: p/ pointed at a
// record) to new (when hasNew; else the page is deleted).
type bodyMove struct {
	key            string
	old, new       bodyLoc
	hadOld, hasNew bool
}

func (s *Store) newPageBatch() *pageBatch {
	return &pageBatch{Batch: s.db.NewBatch()}
}

func (pb *pageBatch) touch(g *segment, end int64) {
	for i := range pb.touched {
		if pb.touched[i].g == g {
			pb.touched[i].end = max(pb.touched[i].end, end)
			return
		}
	}
	pb.touched = append(pb.touched, segEnd{g, end})
}

// oldLoc reads where p/key points; false when it holds an inline record (a
// store written before the body store) or nothing.
func (s *Store) oldLoc(key string) (bodyLoc, bool, error) {
	l, state, err := s.pageState(key)
	return l, state == pageAtPointer, err
}

// pageState is what p/key holds.
type pageStateKind int

const (
	pageMissing   pageStateKind = iota
	pageInline                  // a record, as stores before the body store kept it
	pageAtPointer               // a pointer to a record in a body segment
	pageBadPointer
)

func (s *Store) pageState(key string) (bodyLoc, pageStateKind, error) {
	raw, closer, err := s.db.Get(appendKey(nil, prefixPage, key))
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return bodyLoc{}, pageMissing, nil
		}
		return bodyLoc{}, pageMissing, fmt.Errorf("cannot read page %q: %w", key, err)
	}
	defer closer.Close()
	if !isPointer(raw) {
		return bodyLoc{}, pageInline, nil
	}
	l, err := decodePointer(raw)
	if err != nil {
		// A damaged pointer points at nothing the live bytes count.
		return bodyLoc{}, pageBadPointer, nil
	}
	return l, pageAtPointer, nil
}

// setPageValue appends val, a page record (encodePage), to the body segments
// and points p/key at it in pb. The segment bytes are dead until pb commits.
func (s *Store) setPageValue(pb *pageBatch, key string, val []byte) error {
	old, hadOld, err := s.oldLoc(key)
	if err != nil {
		return err
	}
	rec, crc := encodeRecord(key, val)
	if err := s.checkFree(int64(len(rec)), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot store page %q: %w", key, err)
	}
	l, g, err := s.bodies.appendRecord(rec, crc)
	if err != nil {
		return fmt.Errorf("cannot store page %q: %w", key, err)
	}
	pb.touch(g, l.off+l.n)
	_ = pb.Set(appendKey(nil, prefixPage, key), encodePointer(l), nil)
	pb.moves = append(pb.moves, bodyMove{key: key, old: old, hadOld: hadOld, new: l, hasNew: true})
	return nil
}

// deletePageValue deletes p/key in pb; its record becomes dead bytes once pb
// commits.
func (s *Store) deletePageValue(pb *pageBatch, key string) error {
	old, hadOld, err := s.oldLoc(key)
	if err != nil {
		return err
	}
	_ = pb.Delete(appendKey(nil, prefixPage, key), nil)
	pb.moves = append(pb.moves, bodyMove{key: key, old: old, hadOld: hadOld})
	return nil
}

// syncBodies makes the records pb appended durable: before the batch that
// points at them commits, so a pointer that survives a crash has its bytes.
func (pb *pageBatch) syncBodies() error {
	for _, t := range pb.touched {
		if err := t.g.syncTo(t.end); err != nil {
			return err
		}
	}
	return nil
}

// applyMoves updates the index and the segments' live bytes for a batch just
// applied, under the writers lock the batch's writer holds.
func (s *Store) applyMoves(moves []bodyMove) {
	b := s.bodies
	poke := false
	for _, m := range moves {
		if m.hadOld {
			if g := b.segment(m.old.seg); g != nil {
				g.live.Add(-m.old.n)
				poke = true
			}
		}
		if m.hasNew {
			if g := b.segment(m.new.seg); g != nil {
				g.live.Add(m.new.n)
			}
			b.idx.set(m.key, m.new)
		} else {
			b.idx.remove(m.key)
		}
	}
	if poke {
		s.pokeGarbage()
	}
}

func (b *bodies) activeSegment() *segment {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.active
}

// readPageValue returns the page record of key: through the index and one
// pread when it is indexed, else through p/ (a pointer and a pread, or an
// inline record of an older store). val aliases *buf, or Pebble's buffer until
// closer (nil for a segment read) is closed. A record that is missing or
// damaged reads as ErrNotFound, counted and logged (reportCorrupt).
func (s *Store) readPageValue(key string, pkey []byte, buf *[]byte) (val []byte, closer io.Closer, err error) {
	b := s.bodies
	for range 3 {
		l, ok := b.idx.get(key)
		if !ok {
			break
		}
		val, c := b.readAt(l, key, buf)
		if c == recordOK {
			return val, nil, nil
		}
		if c != recordGone {
			break // another key's record, or damaged: p/ says which
		}
	}
	var l bodyLoc
	for range 3 {
		raw, closer, err := s.db.Get(pkey)
		if err != nil {
			if errors.Is(err, pebble.ErrNotFound) {
				return nil, nil, ErrNotFound
			}
			return nil, nil, fmt.Errorf("cannot read page %q: %w", key, err)
		}
		if !isPointer(raw) {
			return raw, closer, nil
		}
		l, err = decodePointer(raw)
		closer.Close()
		if err != nil {
			break
		}
		val, c := b.readAt(l, key, buf)
		if c == recordOK {
			return val, nil, nil
		}
		if c != recordGone {
			break
		}
		// The garbage pass moved the record and removed its segment between
		// the Get and the read: the Get again sees the new pointer.
	}
	b.reportCorrupt(l, key)
	return nil, nil, ErrNotFound
}
