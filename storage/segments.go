package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The body store: page records (the p/ value encodePage makes) live in
// append-only segment files, <dir>/bodies/<id>.seg, and p/<key> in Pebble holds
// a small pointer to the record. A random hit is then one lookup in the
// in-memory index (bodyindex.go) and one pread, where a Get of an 8 KB value
// from Pebble walked the iterators and index blocks of every level.
//
// Record, little endian:
//
//	off size field
//	  0    4 magic "PRB1" (the 1 is the record version)
//	  4    4 K: key length
//	  8    4 V: value length
//	 12    4 CRC-32C of the key then the value
//	 16    K key
//	       V value: the page record of codec.go, exactly as p/ held it
//
// Pointer (p/ value), told from an inline record (versions 1-3 of codec.go) by
// its first byte:
//
//	off size field
//	  0    1 pagePointerVersion
//	  1    4 segment id
//	  5    8 offset of the record in the segment
//	 13    8 record length (header, key and value)
//	 21    4 the record's CRC-32C
//
// Durability: a record's bytes are fdatasynced before the Pebble batch that
// points at them commits (one fdatasync per batch and segment). A pointer whose
// record is missing, short or fails its CRC (a torn write, a lost page cache,
// a damaged file) reads as not found, which re-renders the page; it is logged
// once per segment and counted (prerender_storage_corrupt_records_total).
const (
	recordMagic        = "PRB1"
	recordHeaderLen    = 16
	pagePointerVersion = 0x80
	pointerLen         = 25
	// segmentTarget is the size at which the active segment is sealed and a new
	// one started: big enough that a million pages of 8 KB take ~130 files,
	// small enough that the garbage pass copies little at a time.
	segmentTarget = 64 << 20
	bodiesDir     = "bodies"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bodyLoc is where a record lies: segment, offset, length, and its CRC
// (0 when read from the index, which does not keep it).
type bodyLoc struct {
	seg uint32
	off int64
	n   int64
	crc uint32
}

func encodePointer(l bodyLoc) []byte {
	b := make([]byte, pointerLen)
	b[0] = pagePointerVersion
	binary.LittleEndian.PutUint32(b[1:], l.seg)
	binary.LittleEndian.PutUint64(b[5:], uint64(l.off))
	binary.LittleEndian.PutUint64(b[13:], uint64(l.n))
	binary.LittleEndian.PutUint32(b[21:], l.crc)
	return b
}

func isPointer(v []byte) bool { return len(v) > 0 && v[0] == pagePointerVersion }

func decodePointer(v []byte) (bodyLoc, error) {
	if len(v) != pointerLen || v[0] != pagePointerVersion {
		return bodyLoc{}, corruptf("page pointer of %d bytes, version %d", len(v), firstByte(v))
	}
	l := bodyLoc{
		seg: binary.LittleEndian.Uint32(v[1:]),
		off: int64(binary.LittleEndian.Uint64(v[5:])),
		n:   int64(binary.LittleEndian.Uint64(v[13:])),
		crc: binary.LittleEndian.Uint32(v[21:]),
	}
	if l.off < 0 || l.n < recordHeaderLen || l.n > 1<<40 {
		return bodyLoc{}, corruptf("page pointer to %d bytes at %d", l.n, l.off)
	}
	return l, nil
}

// encodeRecord makes the record of key and val and returns it with its CRC.
func encodeRecord(key string, val []byte) ([]byte, uint32) {
	rec := make([]byte, recordHeaderLen, recordHeaderLen+len(key)+len(val))
	copy(rec, recordMagic)
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(key)))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(val)))
	rec = append(rec, key...)
	rec = append(rec, val...)
	crc := crc32.Checksum(rec[recordHeaderLen:], castagnoli)
	binary.LittleEndian.PutUint32(rec[12:], crc)
	return rec, crc
}

// recordCheck is what reading a record found.
type recordCheck int

const (
	recordOK       recordCheck = iota
	recordOtherKey             // a whole record of another key: ask Pebble
	recordCorrupt              // short, bad magic or lengths, bad CRC
	recordGone                 // the segment was removed (moved by the garbage pass): look again
)

// parseRecord checks rec, which should be one whole record, and returns its key
// and value. want is the CRC a pointer recorded, 0 when unknown.
func parseRecord(rec []byte, want uint32) (key, val []byte, ok bool) {
	if len(rec) < recordHeaderLen || string(rec[:4]) != recordMagic {
		return nil, nil, false
	}
	k := uint64(binary.LittleEndian.Uint32(rec[4:]))
	v := uint64(binary.LittleEndian.Uint32(rec[8:]))
	if recordHeaderLen+k+v != uint64(len(rec)) {
		return nil, nil, false
	}
	crc := binary.LittleEndian.Uint32(rec[12:])
	if want != 0 && crc != want {
		return nil, nil, false
	}
	if crc32.Checksum(rec[recordHeaderLen:], castagnoli) != crc {
		return nil, nil, false
	}
	return rec[recordHeaderLen : recordHeaderLen+k], rec[recordHeaderLen+k:], true
}

// segment is one file. The store holds one reference while the segment is
// listed; a reader holds one during its pread, so a segment the garbage pass
// removes is closed when its last reader leaves, never under one.
type segment struct {
	id   uint32
	name string
	f    vfs.File
	refs atomic.Int64
	size atomic.Int64 // bytes written: the end of the last record appended
	live atomic.Int64 // bytes of the records p/ points at
	// synced is the size the last fdatasync covered, under syncMu.
	syncMu sync.Mutex
	synced int64
	// broken: a write failed; nothing more is appended after its bytes.
	broken atomic.Bool
	// created by this Open: its file offset follows its appends (a segment
	// reopened for appends is written at offsets).
	created bool
	logged  atomic.Bool // a corrupt record was logged
	// skip: the garbage pass found its live bytes do not add up; left alone
	// until the next Open counts them again.
	skip atomic.Bool
}

func (g *segment) tryAcquire() bool {
	for {
		n := g.refs.Load()
		if n <= 0 {
			return false
		}
		if g.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (g *segment) release() {
	if g.refs.Add(-1) == 0 {
		_ = g.f.Close()
	}
}

// syncTo makes the first end bytes durable; concurrent batches share one
// fdatasync (the second finds its bytes covered by the first).
func (g *segment) syncTo(end int64) error {
	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	if g.synced >= end {
		return nil
	}
	upTo := g.size.Load()
	if err := g.f.SyncData(); err != nil {
		return fmt.Errorf("cannot sync body segment %s: %w", g.name, err)
	}
	g.synced = upTo
	return nil
}

type segMap map[uint32]*segment

// bodies is the set of segments and the index of the records in them.
type bodies struct {
	fs     vfs.FS
	dir    string // <store dir>/bodies
	log    *slog.Logger
	target int64
	idx    *bodyIndex

	segs atomic.Pointer[segMap] // replaced whole under mu; readers load it
	// mu orders appends and changes of the set of segments.
	mu     sync.Mutex
	active *segment
	nextID uint32

	// writers is held shared by every write of p/ from before it reads a page's
	// old pointer until its batch is applied and the index updated; the garbage
	// pass (to check a pointer and swap it) and Checkpoint hold it alone.
	writers sync.RWMutex

	// counted: the index build has counted every segment's live bytes; until
	// then LiveBytes is partial and DeadBytes is not reported.
	counted       atomic.Bool
	corrupt       atomic.Uint64 // corrupt records read
	loggedMissing atomic.Bool   // a pointer to no segment was logged
	reclaimed     atomic.Uint64 // segments the garbage pass removed
	reclaimedByte atomic.Uint64 // their bytes
	gcMoved       atomic.Uint64 // live bytes copied doing it
}

func segmentName(dir string, fs vfs.FS, id uint32) string {
	return fs.PathJoin(dir, fmt.Sprintf("%06d.seg", id))
}

func parseSegmentName(name string) (uint32, bool) {
	base, ok := strings.CutSuffix(name, ".seg")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(base, 10, 32)
	if err != nil || id == 0 {
		return 0, false
	}
	return uint32(id), true
}

// openBodies opens the segments under storeDir/bodies, creating the
// directory. The newest segment becomes the active one: its records are
// walked to find where the last whole one ends (bytes after it are a write a
// crash cut short, never pointed at), and appends go on from there.
func openBodies(fs vfs.FS, storeDir string, log *slog.Logger, hash func(string) uint64) (*bodies, error) {
	dir := fs.PathJoin(storeDir, bodiesDir)
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the body segments directory %q: %w", dir, err)
	}
	names, err := fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list the body segments in %q: %w", dir, err)
	}
	var ids []uint32
	for _, name := range names {
		if id, ok := parseSegmentName(name); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	b := &bodies{fs: fs, dir: dir, log: log, target: segmentTarget, idx: newBodyIndex(hash), nextID: 1}
	m := make(segMap, len(ids))
	fail := func(err error) (*bodies, error) {
		for _, g := range m {
			g.release()
		}
		return nil, err
	}
	for i, id := range ids {
		name := segmentName(dir, fs, id)
		last := i == len(ids)-1
		var f vfs.File
		if last {
			f, err = fs.OpenReadWrite(name, vfs.WriteCategoryUnspecified)
		} else {
			f, err = fs.Open(name)
		}
		if err != nil {
			return fail(fmt.Errorf("cannot open body segment %q: %w", name, err))
		}
		g := &segment{id: id, name: name, f: f}
		g.refs.Store(1)
		m[id] = g
		st, err := f.Stat()
		if err != nil {
			return fail(fmt.Errorf("cannot stat body segment %q: %w", name, err))
		}
		size := st.Size()
		if last {
			end, err := validEnd(f, size)
			if err != nil {
				return fail(fmt.Errorf("cannot read body segment %q: %w", name, err))
			}
			if end < size {
				log.Warn("storage body segment ends in a cut-short write; appending after its last whole record",
					"segment", name, "size", size, "records_end", end)
			}
			size = end
			b.active = g
		}
		g.size.Store(size)
		g.synced = size
		b.nextID = id + 1
	}
	b.segs.Store(&m)
	return b, nil
}

// validEnd walks the records of f from the start and returns where the last
// whole, checked one ends.
func validEnd(f vfs.File, size int64) (int64, error) {
	return walkRecords(f, size, nil)
}

// walkRecords reads the records of f's first size bytes in order and calls fn
// (when not nil) with each whole one whose CRC checks: its offset, the record
// (header, key, value: valid only until fn returns) and its CRC. It stops at
// the first record that is cut short or fails its magic or CRC (a write a
// crash cut short: nothing points past it) and returns where the last whole
// record ends; an error is a read that failed, or fn's, which stops the walk.
func walkRecords(f vfs.File, size int64, fn func(off int64, rec []byte, crc uint32) error) (int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20)
	var buf []byte
	var off int64
	for {
		buf = slices.Grow(buf[:0], recordHeaderLen)[:recordHeaderLen]
		if _, err := io.ReadFull(r, buf); err != nil || string(buf[:4]) != recordMagic {
			return off, nil
		}
		n := recordHeaderLen + int64(binary.LittleEndian.Uint32(buf[4:])) + int64(binary.LittleEndian.Uint32(buf[8:]))
		if off+n > size {
			return off, nil
		}
		buf = slices.Grow(buf, int(n)-recordHeaderLen)[:n]
		if _, err := io.ReadFull(r, buf[recordHeaderLen:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return off, nil
			}
			return off, err
		}
		crc := binary.LittleEndian.Uint32(buf[12:])
		if crc32.Checksum(buf[recordHeaderLen:], castagnoli) != crc {
			return off, nil
		}
		if fn != nil {
			if err := fn(off, buf, crc); err != nil {
				return off, err
			}
		}
		off += n
	}
}

func (b *bodies) segment(id uint32) *segment {
	return (*b.segs.Load())[id]
}

// appendRecord writes rec at the end of the active segment, starting a new one
// when it is full, and returns where it went. The caller syncs the segment
// before committing a pointer to it.
func (b *bodies) appendRecord(rec []byte, crc uint32) (bodyLoc, *segment, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.active
	if g == nil || g.size.Load() >= b.target || g.broken.Load() {
		var err error
		if g, err = b.roll(); err != nil {
			return bodyLoc{}, nil, err
		}
	}
	off := g.size.Load()
	var err error
	if g.created {
		// Its file offset is its size: a plain write (pebble's in-memory
		// files grow a byte at a time under WriteAt).
		_, err = g.f.Write(rec)
	} else {
		_, err = g.f.WriteAt(rec, off)
	}
	if err != nil {
		// Whatever part of it was written lies past every pointer; start a new
		// segment rather than append after it.
		g.broken.Store(true)
		return bodyLoc{}, nil, fmt.Errorf("cannot append to body segment %s: %w", g.name, err)
	}
	g.size.Store(off + int64(len(rec)))
	return bodyLoc{seg: g.id, off: off, n: int64(len(rec)), crc: crc}, g, nil
}

// roll starts a new active segment; under mu. The directory is synced so the
// file's name survives a power loss as its pointers do.
func (b *bodies) roll() (*segment, error) {
	id := b.nextID
	name := segmentName(b.dir, b.fs, id)
	f, err := b.fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("cannot create body segment %q: %w", name, err)
	}
	if d, err := b.fs.OpenDir(b.dir); err == nil {
		err = d.Sync()
		_ = d.Close()
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("cannot sync the body segments directory %q: %w", b.dir, err)
		}
	}
	g := &segment{id: id, name: name, f: f, created: true}
	g.refs.Store(1)
	old := *b.segs.Load()
	m := make(segMap, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[id] = g
	b.segs.Store(&m)
	b.nextID++
	if prev := b.active; prev != nil {
		// Sealed: make its last records durable now, so a sealed segment never
		// waits on a sync.
		if err := prev.syncTo(prev.size.Load()); err != nil {
			b.log.Warn("storage cannot sync a sealed body segment", "segment", prev.name, "err", err)
		}
	}
	b.active = g
	return g, nil
}

// readAt reads the record at l into *buf (grown as needed) and checks it is
// key's. The value returned aliases *buf.
func (b *bodies) readAt(l bodyLoc, key string, buf *[]byte) ([]byte, recordCheck) {
	g := b.segment(l.seg)
	if g == nil || !g.tryAcquire() {
		return nil, recordGone
	}
	if l.n > int64(cap(*buf)) {
		*buf = make([]byte, l.n)
	}
	rec := (*buf)[:l.n]
	n, err := g.f.ReadAt(rec, l.off)
	g.release()
	if int64(n) < l.n || (err != nil && !errors.Is(err, io.EOF)) {
		return nil, recordCorrupt
	}
	k, val, ok := parseRecord(rec, l.crc)
	if !ok {
		return nil, recordCorrupt
	}
	if string(k) != key {
		return nil, recordOtherKey
	}
	return val, recordOK
}

// reportCorrupt counts a corrupt record and logs the first of its segment.
func (b *bodies) reportCorrupt(l bodyLoc, key string) {
	b.corrupt.Add(1)
	g := b.segment(l.seg)
	if g != nil && !g.logged.CompareAndSwap(false, true) {
		return
	}
	if g == nil && !b.loggedMissing.CompareAndSwap(false, true) {
		return // pointers to missing segments, or damaged ones: logged once
	}
	b.log.Warn("storage page record is missing or damaged: the page reads as not found and is rendered again",
		"key", key, "segment", l.seg, "offset", l.off, "length", l.n, "segment_exists", g != nil)
}

// removeSegment unlists g and deletes its file; readers in a pread keep the
// file open until they leave.
func (b *bodies) removeSegment(g *segment) error {
	b.mu.Lock()
	old := *b.segs.Load()
	m := make(segMap, len(old))
	for k, v := range old {
		if k != g.id {
			m[k] = v
		}
	}
	b.segs.Store(&m)
	b.mu.Unlock()
	err := b.fs.Remove(g.name)
	g.release()
	if err != nil {
		return fmt.Errorf("cannot remove body segment %q: %w", g.name, err)
	}
	return nil
}

// close releases every segment; the store has no reader left.
func (b *bodies) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, g := range *b.segs.Load() {
		g.release()
	}
	empty := segMap{}
	b.segs.Store(&empty)
	b.active = nil
}

// BodyStats is what the body segments hold, for /metrics and Health.
type BodyStats struct {
	Segments  int64 // segment files
	Bytes     int64 // bytes in them
	LiveBytes int64 // bytes of the records pages point at
	// DeadBytes are records overwritten or deleted (and writes a crash cut
	// short) that the garbage pass has not reclaimed yet; 0 until the index
	// built at Open has counted the live ones.
	DeadBytes        int64
	IndexBytes       int64  // the in-memory index
	CorruptRecords   uint64 // records read missing or damaged since Open
	ReclaimedSegs    uint64 // segments the garbage pass removed since Open
	ReclaimedBytes   uint64 // their bytes
	GarbageMovedByte uint64 // live bytes the garbage pass copied out of them
}

func (b *bodies) stats() BodyStats {
	var st BodyStats
	for _, g := range *b.segs.Load() {
		st.Segments++
		st.Bytes += g.size.Load()
		st.LiveBytes += g.live.Load()
	}
	if b.counted.Load() {
		st.DeadBytes = st.Bytes - st.LiveBytes
	}
	st.IndexBytes = b.idx.bytes()
	st.CorruptRecords = b.corrupt.Load()
	st.ReclaimedSegs = b.reclaimed.Load()
	st.ReclaimedBytes = b.reclaimedByte.Load()
	st.GarbageMovedByte = b.gcMoved.Load()
	return st
}
