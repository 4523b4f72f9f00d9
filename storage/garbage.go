package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The garbage pass: a record overwritten or deleted stays in its segment as
// dead bytes, and so do the bytes of a write a crash cut off before its batch
// committed. A sealed segment at least half dead (garbageDeadShare) is
// rewritten: its live records are copied to the active segment, their pointers
// swapped for the copies' (only where a pointer still points at the old
// record: a page written meanwhile keeps its new body), and the file removed
// once no pointer and no index entry points into it. Copying half a segment to
// free a whole one writes at most as many bytes as it frees.
//
// The pass is owned by the Store: started by Open, woken by writes that leave
// dead bytes in a sealed segment (and every garbageInterval), stopped and
// waited for by Close.
const (
	garbageInterval = time.Minute
	// garbageChunk is the live bytes moved per batch: one hold of the writers
	// lock (to check the pointers and apply the swap) per chunk, never across
	// the copying.
	garbageChunk = 4 << 20
)

func (s *Store) pokeGarbage() {
	select {
	case s.gcWake <- struct{}{}:
	default:
	}
}

// garbageLoop first builds the body index from build, then runs the garbage
// pass, which needs the live bytes the build counts.
func (s *Store) garbageLoop(build *pebble.Iterator) {
	defer close(s.gcDone)
	built, inline := s.buildBodyIndex(build)
	s.gcReady.Store(built)
	close(s.indexed)
	if !built {
		close(s.migrated)
		<-s.gcStop
		return
	}
	if inline > 0 {
		if err := s.migrateInline(); err != nil {
			s.log.Warn("storage cannot move inline page records into body segments: they are read from Pebble", "err", err)
		}
	}
	close(s.migrated)
	t := time.NewTicker(garbageInterval)
	defer t.Stop()
	for {
		if err := s.collectGarbage(); err != nil {
			s.log.Warn("storage garbage pass stopped", "err", err)
		}
		select {
		case <-s.gcStop:
			return
		case <-s.gcWake:
		case <-t.C:
		}
	}
}

func (s *Store) stopping() bool {
	select {
	case <-s.gcStop:
		return true
	default:
		return false
	}
}

// collectGarbage reclaims every sealed segment whose dead share passed
// garbageDeadShare; one pass at a time.
func (s *Store) collectGarbage() error {
	if !s.gcReady.Load() {
		return nil // the live bytes are not all counted yet
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	b := s.bodies
	// Sealed segments are those below the active one: ids only grow, so a
	// segment below it is never appended to again. Read both under mu, so a
	// segment rolled in meanwhile is not taken for a sealed, empty one.
	b.mu.Lock()
	segs := *b.segs.Load()
	var activeID uint32
	if b.active != nil {
		activeID = b.active.id
	}
	b.mu.Unlock()
	var due []*segment
	for _, g := range segs {
		if g.id >= activeID || g.skip.Load() {
			continue
		}
		size, live := g.size.Load(), g.live.Load()
		if live <= 0 || 2*(size-live) >= size {
			due = append(due, g)
		}
	}
	slices.SortFunc(due, func(a, b *segment) int { return int(a.id) - int(b.id) })
	for _, g := range due {
		if s.stopping() {
			return nil
		}
		if err := s.reclaim(g); err != nil {
			return err
		}
	}
	return nil
}

// gcRecord is a live record on its way out of a segment, or (inline) out of
// Pebble's p/ into a segment.
type gcRecord struct {
	key    string
	rec    []byte
	old    bodyLoc
	crc    uint32
	inline bool
}

// errStopping ends a segment's walk when the store closes.
var errStopping = errors.New("storage: closing")

// reclaim moves g's live records to the active segment and removes g.
func (s *Store) reclaim(g *segment) error {
	b := s.bodies
	if !g.tryAcquire() {
		return nil
	}
	defer g.release()
	size := g.size.Load()
	live := g.live.Load()
	var moved int64
	if live > 0 {
		var chunk []gcRecord
		var chunkBytes int64
		// A read that fails ends the walk like a cut-short record: what is
		// left unread stays live, so g stays for the next pass.
		var walkErr error
		_, werr := walkRecords(g.f, size, func(off int64, rec []byte, crc uint32) error {
			if s.stopping() {
				return errStopping
			}
			l := bodyLoc{seg: g.id, off: off, n: int64(len(rec)), crc: crc}
			key := string(rec[recordHeaderLen : recordHeaderLen+binary.LittleEndian.Uint32(rec[4:])])
			cur, ok, err := s.oldLoc(key)
			if err != nil {
				walkErr = err
				return err
			}
			if !ok || cur != l {
				return nil // dead: overwritten or deleted
			}
			chunk = append(chunk, gcRecord{key: key, rec: bytes.Clone(rec), old: l, crc: crc})
			chunkBytes += l.n
			if chunkBytes >= garbageChunk {
				m, err := s.moveRecords(chunk)
				moved += m
				if err != nil {
					walkErr = err
					return err
				}
				chunk, chunkBytes = chunk[:0], 0
			}
			return nil
		})
		if errors.Is(werr, errStopping) {
			return nil
		}
		if walkErr != nil {
			return walkErr
		}
		m, err := s.moveRecords(chunk)
		moved += m
		if err != nil {
			return err
		}
	}
	// Under the writers lock no write is between its append and its commit, so
	// g's live bytes are exact: a record appended to g before it was sealed
	// and committed after the walk above is live, and g stays for the next pass.
	b.writers.Lock()
	if left := g.live.Load(); left != 0 {
		b.writers.Unlock()
		if moved == 0 && live == left {
			// Nothing moved and nothing changed: its count disagrees with its
			// records. Keep it rather than risk a page.
			g.skip.Store(true)
			s.log.Warn("storage garbage pass left a segment whose live bytes do not add up", "segment", g.name, "live_bytes", left)
		}
		return nil
	}
	err := b.removeSegment(g)
	b.writers.Unlock()
	if err != nil {
		return err
	}
	b.reclaimed.Add(1)
	b.reclaimedByte.Add(uint64(size))
	b.gcMoved.Add(uint64(moved))
	s.log.Info("storage reclaimed a body segment", "segment", g.name, "bytes", size, "live_bytes_moved", moved)
	return nil
}

// moveRecords copies recs to the active segment, then, under the writers lock,
// points each key whose pointer did not change meanwhile at its copy, in one
// synced batch. It returns the bytes it moved.
func (s *Store) moveRecords(recs []gcRecord) (int64, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	b := s.bodies
	pb := s.newPageBatch()
	defer pb.Close()
	news := make([]bodyLoc, len(recs))
	for i, r := range recs {
		if err := s.checkFree(int64(len(r.rec)), s.opts.MinFreeBytes); err != nil {
			return 0, fmt.Errorf("cannot move page records out of a segment: %w", err)
		}
		l, g, err := b.appendRecord(r.rec, r.crc)
		if err != nil {
			return 0, err
		}
		pb.touch(g, l.off+l.n)
		news[i] = l
	}
	if err := pb.syncBodies(); err != nil {
		return 0, err
	}
	b.writers.Lock()
	var moves []bodyMove
	for i, r := range recs {
		cur, state, err := s.pageState(r.key)
		if err != nil {
			b.writers.Unlock()
			return 0, err
		}
		// An inline record still inline is the one read: every write of a
		// page makes a pointer, a delete removes it.
		if (r.inline && state == pageInline) || (!r.inline && state == pageAtPointer && cur == r.old) {
			_ = pb.Set(appendKey(nil, prefixPage, r.key), encodePointer(news[i]), nil)
			moves = append(moves, bodyMove{key: r.key, old: r.old, hadOld: !r.inline, new: news[i], hasNew: true})
		}
	}
	if len(moves) == 0 {
		b.writers.Unlock()
		return 0, nil
	}
	if err := s.checkFree(int64(pb.Len()), s.opts.MinFreeBytes); err != nil {
		b.writers.Unlock()
		return 0, fmt.Errorf("cannot move page records out of a segment: %w", err)
	}
	err := s.db.ApplyNoSyncWait(pb.Batch, pebble.Sync)
	if err == nil {
		s.applyMoves(moves)
	}
	b.writers.Unlock()
	if err != nil {
		return 0, fmt.Errorf("cannot move page records out of a segment: %w", err)
	}
	if err := pb.SyncWait(); err != nil {
		return 0, fmt.Errorf("cannot move page records out of a segment: %w", err)
	}
	var n int64
	for _, m := range moves {
		n += m.new.n
	}
	return n, nil
}

// migrateInline moves the inline records of a store written before the body
// store into segments, a chunk at a time (each chunk a fresh iterator, so no
// iterator pins Pebble's old tables for the whole walk). Every start of such a
// store would otherwise read every inline record to build the index, and serve
// them through Pebble, until each page is next written.
func (s *Store) migrateInline() error {
	start := time.Now()
	var from []byte
	var moved, movedBytes int64
	for {
		if s.stopping() {
			return nil
		}
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: appendKey(nil, prefixPage, string(from)), UpperBound: prefixUpperBound(prefixPage)})
		if err != nil {
			return err
		}
		var chunk []gcRecord
		var chunkBytes int64
		valid := it.First()
		for ; valid && chunkBytes < garbageChunk; valid = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				_ = it.Close()
				return err
			}
			if isPointer(v) {
				continue
			}
			key := string(it.Key()[len(prefixPage):])
			rec, crc := encodeRecord(key, v)
			chunk = append(chunk, gcRecord{key: key, rec: rec, crc: crc, inline: true})
			chunkBytes += int64(len(rec))
		}
		if valid {
			from = bytes.Clone(it.Key()[len(prefixPage):]) // the first key not read
		}
		if err := it.Close(); err != nil {
			return err
		}
		n, err := s.moveRecords(chunk)
		if err != nil {
			return err
		}
		moved += int64(len(chunk))
		movedBytes += n
		if !valid {
			break
		}
	}
	if moved > 0 {
		s.log.Info("storage moved the inline page records of an older store into body segments",
			"pages", moved, "bytes", movedBytes, "duration", time.Since(start))
	}
	return nil
}

// linkSealed hard-links every sealed segment into storeDir/bodies (a
// checkpoint's), under the writers lock, and returns the active segment
// (acquired: the caller releases it) and its size then.
func (b *bodies) linkSealed(storeDir string) (*segment, int64, error) {
	dst := b.fs.PathJoin(storeDir, bodiesDir)
	if err := b.fs.MkdirAll(dst, 0o755); err != nil {
		return nil, 0, err
	}
	b.mu.Lock()
	m := *b.segs.Load()
	active := b.active
	var size int64
	if active != nil && active.tryAcquire() {
		size = active.size.Load()
	} else {
		active = nil
	}
	b.mu.Unlock()
	for id, g := range m {
		if g == active {
			continue
		}
		if err := b.fs.Link(g.name, segmentName(dst, b.fs, id)); err != nil {
			// Another filesystem: copy. Nothing removes g meanwhile (the garbage
			// pass removes under the writers lock the caller holds).
			if err := b.copySegment(g, g.size.Load(), storeDir); err != nil {
				if active != nil {
					active.release()
				}
				return nil, 0, err
			}
		}
	}
	return active, size, nil
}

// copySegment copies the first size bytes of g into storeDir/bodies, synced.
func (b *bodies) copySegment(g *segment, size int64, storeDir string) error {
	dir := b.fs.PathJoin(storeDir, bodiesDir)
	name := segmentName(dir, b.fs, g.id)
	f, err := b.fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("cannot create body segment %q: %w", name, err)
	}
	_, err = io.Copy(f, io.NewSectionReader(g.f, 0, size))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot copy body segment %q to %q: %w", g.name, name, err)
	}
	d, err := b.fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("cannot sync %q: %w", dir, err)
	}
	err = d.Sync()
	_ = d.Close()
	return err
}
