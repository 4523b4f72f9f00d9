package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var (
	// ErrNotFound is returned when a key has no page or metadata.
	ErrNotFound = errors.New("storage: not found")
	// ErrDiskFull is returned, wrapped with the free bytes and the bound, when
	// a write is refused by the free-space guard. Reads keep working.
	ErrDiskFull = errors.New("storage: disk full, write refused")
	// ErrClosed is returned by every call after Close has begun.
	ErrClosed = errors.New("storage: closed")
)

// formatVersion is pinned, not FormatNewest, so that upgrading Pebble never
// ratchets the on-disk format behind our back (a ratchet cannot be undone by
// rolling the binary back).
const formatVersion = pebble.FormatValueSeparation

// inMemoryFreeBytes is the free space the guard sees for an in-memory store.
const inMemoryFreeBytes = 1 << 50

// Store is prerenderd's Pebble database. Its methods are safe for concurrent
// use; see PutPage for the one-writer-per-key rule.
type Store struct {
	db   *pebble.DB
	opts Options
	dir  string // "" when in memory
	log  *slog.Logger

	// hot is the hot-body cache (hot.go); nil when Options.HotCache is off.
	hot *hotCache
	// bodies holds the page records and their index (segments.go).
	bodies *bodies
	// The garbage pass (garbage.go): woken by writes that leave dead bytes
	// in a sealed segment, stopped and waited for by Close.
	gcWake chan struct{}
	gcStop chan struct{}
	gcDone chan struct{}
	gcMu   sync.Mutex // one garbage pass at a time
	// indexed is closed once the body index is built (tests wait on it).
	indexed chan struct{}
	gcReady atomic.Bool // the index is built: every segment's live bytes are counted
	// migrated is closed once the inline records of an older store were moved
	// into segments (migrateInline), or there were none.
	migrated chan struct{}

	pages atomic.Int64 // number of p/ keys
	bytes atomic.Int64 // sum of the sizes of the p/ values (from their summaries)
	// countMu orders the batches that move pages and bytes (commitCounted);
	// session names this Open in the persisted record of both (counters.go).
	countMu sync.Mutex
	session string

	// freeBytes reports the free space the guard compares against;
	// tests replace it.
	freeBytes func() (int64, error)

	// inflight counts calls between enter and leave; Close waits for it to
	// drain so that no call touches Pebble after it is closed (Pebble panics).
	inflight  atomic.Int64
	closed    atomic.Bool
	drained   chan struct{}
	drainOnce sync.Once
}

// Open opens (creating if needed) the database in opts.Dir, or in memory.
func Open(opts Options) (*Store, error) {
	start := time.Now()
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Store{opts: opts, log: opts.Logger, drained: make(chan struct{}), hot: newHotCache(opts.HotCache)}

	cache := pebble.NewCache(opts.BlockCache)
	defer cache.Unref() // the DB holds its own reference
	po := pebbleOptions(cache, pebbleLogger{s.log})
	dir := opts.Dir
	if opts.InMemory {
		po.FS = vfs.NewMem()
		s.freeBytes = func() (int64, error) { return inMemoryFreeBytes, nil }
	} else {
		po.FS = vfs.Default
		s.dir = dir
		s.freeBytes = s.diskFreeBytes
	}
	if opts.FreeBytes != nil {
		s.freeBytes = opts.FreeBytes
	}
	prevSession := lastSession(dir, po.FS)
	db, err := pebble.Open(dir, po)
	if err != nil {
		if !opts.InMemory {
			if lerr := lockError(dir, err); lerr != nil {
				return nil, lerr
			}
		}
		return nil, fmt.Errorf("cannot open storage at %q: %w", dir, err)
	}
	s.db = db
	counted, err := s.restoreCounters(prevSession, lastSession(dir, po.FS))
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cannot count pages in storage at %q: %w", dir, err)
	}
	index, err := s.IndexBytes()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if s.bodies, err = openBodies(po.FS, dir, s.log, opts.indexHash); err != nil {
		_ = db.Close()
		return nil, err
	}
	if opts.segmentTarget > 0 {
		s.bodies.target = opts.segmentTarget
	}
	// The index is built in the background from an iterator opened now: a
	// point-in-time view every later write is newer than (see addBuilt).
	// Until it is built a hit reads p/, as before the index.
	s.bodies.idx.presize(s.pages.Load())
	s.bodies.idx.startBuild()
	build, err := s.prefixIter(prefixPage, "")
	if err != nil {
		s.bodies.close()
		_ = db.Close()
		return nil, fmt.Errorf("cannot index the page records of storage at %q: %w", dir, err)
	}
	bs := s.bodies.stats()
	s.log.Info("storage opened", "dir", dir, "in_memory", opts.InMemory, "pages", s.pages.Load(),
		"bytes", s.bytes.Load(), "counted", counted, "max_open_files", po.MaxOpenFiles,
		"block_cache", opts.BlockCache, "index_bytes", index,
		"body_segments", bs.Segments, "body_bytes", bs.Bytes, "duration", time.Since(start))
	s.gcWake = make(chan struct{}, 1)
	s.gcStop = make(chan struct{})
	s.gcDone = make(chan struct{})
	s.indexed = make(chan struct{})
	s.migrated = make(chan struct{})
	go s.garbageLoop(build)
	return s, nil
}

// buildBodyIndex walks the p/ pointers (small: ~25 bytes a page) of it, a view
// of the store taken at Open, to fill the index and the live bytes of each
// segment; it closes it. Inline records, written before the body store, are
// left where they are: read through p/ until their page is next written, which
// moves it to a segment. It gives up (false) when the store is closing.
func (s *Store) buildBodyIndex(it *pebble.Iterator) (built bool, inline int64) {
	start := time.Now()
	b := s.bodies
	var indexed, missing, damaged int64
	live := make(map[uint32]int64)
	var err error
	for valid := it.First(); valid; valid = it.Next() {
		if (indexed+inline)%4096 == 0 && s.stopping() {
			_ = it.Close()
			return false, 0
		}
		var v []byte
		if v, err = it.ValueAndErr(); err != nil {
			break
		}
		if !isPointer(v) {
			inline++
			continue
		}
		l, perr := decodePointer(v)
		if perr != nil {
			damaged++
			continue
		}
		if b.segment(l.seg) == nil {
			missing++
			continue
		}
		live[l.seg] += l.n
		b.idx.addBuilt(it.Key()[len(prefixPage):], l)
		indexed++
	}
	if err == nil {
		err = it.Error()
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	for id, n := range live {
		if g := b.segment(id); g != nil {
			g.live.Add(n)
		}
	}
	b.idx.endBuild()
	b.counted.Store(err == nil)
	if err != nil {
		// The pages not indexed are read through p/; the garbage pass stays off
		// (it needs every segment's live bytes) until the next Open.
		s.log.Error("storage cannot build its body index: hits read Pebble, the garbage pass is off", "err", err)
		return false, 0
	}
	if missing > 0 || damaged > 0 {
		// Read as not found (and counted) when asked for: rendered again.
		s.log.Warn("storage has page pointers to missing segments or damaged pointers",
			"missing_segment", missing, "damaged", damaged)
	}
	st := b.stats()
	s.log.Info("storage body index built", "pages", indexed, "inline_pages", inline,
		"body_index_bytes", st.IndexBytes, "body_segments", st.Segments, "body_bytes", st.Bytes,
		"body_dead_bytes", st.DeadBytes, "duration", time.Since(start))
	return true, inline
}

// countPages counts i/ summaries and adds up the page sizes they record; they are
// small, so the count does not read page bodies.
func (s *Store) countPages() (n, size int64, err error) {
	it, err := s.prefixIter(prefixIndex, "")
	if err != nil {
		return 0, 0, err
	}
	for valid := it.First(); valid; valid = it.Next() {
		n++
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return 0, 0, err
		}
		// Only the size field: decoding the whole summary would allocate its URL.
		if len(v) >= summaryFixedLen && v[0] == summaryVersion {
			size += int64(binary.LittleEndian.Uint64(v[20:]) & (1<<62 - 1))
		}
	}
	if err := it.Error(); err != nil {
		_ = it.Close()
		return 0, 0, err
	}
	return n, size, it.Close()
}

// Close waits for calls in progress, flushes the memtable (so the next Open
// has little WAL to replay) unless the disk is short of space, and closes the
// database. Calls after Close begins return ErrClosed. Close must not be
// called from a scan or ViewPage callback: it would wait for it.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	close(s.gcStop)
	<-s.gcDone
	if s.inflight.Load() > 0 {
		<-s.drained
	}
	if err := s.checkFree(memTableSize, s.opts.MinFreeBytes); err == nil {
		if err := s.db.Flush(); err != nil {
			s.log.Warn("storage flush on close failed", "dir", s.dir, "err", err)
		}
	}
	err := s.db.Close()
	s.bodies.close()
	if err != nil {
		return fmt.Errorf("cannot close storage at %q: %w", s.dir, err)
	}
	return nil
}

func (s *Store) enter() error {
	s.inflight.Add(1)
	if s.closed.Load() {
		s.leave()
		return ErrClosed
	}
	return nil
}

func (s *Store) leave() {
	if s.inflight.Add(-1) == 0 && s.closed.Load() {
		s.drainOnce.Do(func() { close(s.drained) })
	}
}

// PageCount returns the number of stored pages. It is a counter kept by
// PutPage and DeletePage and restored on Open, so it costs one atomic load.
func (s *Store) PageCount() int64 {
	return s.pages.Load()
}

// StoredBytes returns the sum of the sizes of the stored page values (both bodies
// and headers), the figure storage.max_bytes bounds. Like PageCount it is a counter
// kept by PutPage and the deletes and restored on Open: one atomic load. It leaves
// out Pebble's own overhead (indexes, obsolete tables awaiting compaction, WAL),
// which DiskUsage reports.
func (s *Store) StoredBytes() int64 {
	return s.bytes.Load()
}

// DiskUsage returns the bytes the store uses on disk: Pebble's (live and
// obsolete tables and WAL) and the body segments' (live and dead records),
// 0 after Close.
func (s *Store) DiskUsage() int64 {
	if s.enter() != nil {
		return 0
	}
	defer s.leave()
	return int64(s.db.Metrics().DiskSpaceUsage()) + s.bodies.stats().Bytes
}

func (s *Store) diskFreeBytes() (int64, error) {
	u, err := vfs.Default.GetDiskUsage(s.dir)
	if err != nil {
		return 0, fmt.Errorf("cannot stat free space of %q: %w", s.dir, err)
	}
	return int64(min(u.AvailBytes, 1<<62)), nil
}

// checkFree is the guard in front of every write: it refuses a write of n
// bytes when it would leave less than floor bytes free. Pebble ends the
// process when its WAL cannot be written, so this must run before Commit.
// The error names the disk and the figures, so the refusal an operator sees
// says what to free.
func (s *Store) checkFree(n, floor int64) error {
	free, err := s.freeBytes()
	if err != nil {
		return fmt.Errorf("cannot check free space before writing: %w", err)
	}
	if free-n < floor {
		where := s.dir
		if where == "" {
			where = "(in memory)"
		}
		return fmt.Errorf("%w: %d bytes free (%d MiB) on the disk of %q, %d bytes to write, %d bytes (%d MiB) must stay free",
			ErrDiskFull, free, free>>20, where, n, floor, floor>>20)
	}
	return nil
}

// deleteHeadroom is the free space below which even a delete is refused.
//
// INVARIANT: a delete commits only while deleteFloor bytes stay free after
// it. A delete frees nothing at once: it writes tombstones, first into the
// WAL (a failed WAL write ends the process, see pebbleLogger.Fatalf) and the
// memtable; the space comes back when compactions drop the deleted values.
// Until then deletes can make Pebble write at most one memtable's worth of
// WAL (Pebble also preallocates 1.1 memtable per WAL file, and ignores a
// preallocation that fails) and, when that memtable fills, flush it into a
// table of at most its size. Flushes and compactions that run out of space
// fail in the background and are retried; only the WAL must never. Two
// memtables of room cover both, so puts stop at MinFreeBytes and deletes at
// the smaller of MinFreeBytes and this.
const deleteHeadroom = 2 * memTableSize

// deleteFloor is the free space a delete must leave: deletes are never
// refused where a put would be allowed.
func (s *Store) deleteFloor() int64 {
	return min(s.opts.MinFreeBytes, deleteHeadroom)
}

// pebbleLogger sends Pebble's printf-style logs to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Info("pebble", "detail", fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble", "detail", fmt.Sprintf(format, args...))
}

// Fatalf keeps Pebble's contract: it must not return, because Pebble calls it
// when its state can no longer be trusted (for example a failed WAL write).
// Exiting here rather than panicking: a panic on a request goroutine would be
// recovered by net/http and leave a broken DB serving.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error("pebble fatal", "detail", fmt.Sprintf(format, args...))
	os.Exit(1)
}

// Checkpoint writes a consistent copy of the store into dir, which must not exist:
// its tables are hard links when dir is on the same filesystem (they are never
// changed in place), so a copy of a large store is cheap. The copy opens as a store
// of its own; make bench-scale runs its destructive steps (clear, eviction) on one
// so that its filled store can be used again.
//
// The body segments come along: sealed ones as hard links (they never change;
// copied when the link fails, across filesystems), the active one copied up to
// the last record the copy's pointers can reference. Page writes wait while
// Pebble's checkpoint is taken and the segments are listed and linked, not
// while the active segment is copied.
func (s *Store) Checkpoint(dir string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	b := s.bodies
	b.writers.Lock()
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		b.writers.Unlock()
		return fmt.Errorf("cannot checkpoint storage at %q into %q: %w", s.dir, dir, err)
	}
	active, activeSize, err := b.linkSealed(dir)
	b.writers.Unlock()
	if err != nil {
		return fmt.Errorf("cannot checkpoint storage at %q into %q: %w", s.dir, dir, err)
	}
	if active != nil {
		err = b.copySegment(active, activeSize, dir)
		active.release()
		if err != nil {
			return fmt.Errorf("cannot checkpoint storage at %q into %q: %w", s.dir, dir, err)
		}
	}
	return nil
}

// IndexBytes is what the tables' index and filter blocks take: the blocks every
// Get of a page reads before its data block. When they do not fit in the block
// cache beside the data blocks that pass through it, a random read reads them
// from the files again, so Open logs the figure beside storage.block_cache
// (README "Performance at a million pages" measured what that costs).
func (s *Store) IndexBytes() (int64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	levels, err := s.db.SSTables(pebble.WithProperties())
	if err != nil {
		return 0, fmt.Errorf("cannot read the table properties of storage at %q: %w", s.dir, err)
	}
	var n int64
	for _, tables := range levels {
		for _, t := range tables {
			if p := t.Properties; p != nil && !t.Virtual {
				n += int64(p.IndexSize + p.FilterSize)
			}
		}
	}
	return n, nil
}
