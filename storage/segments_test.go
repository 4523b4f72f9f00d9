package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// segPage is a page whose body says its key and version, of about n bytes.
func segPage(i, version, n int) *Page {
	p := testPage(fmt.Sprintf("desktop|https://shop.example/p/%04d", i), t0.Add(time.Hour))
	p.Plain = []byte(fmt.Sprintf("<html>%04d v%d %s</html>", i, version, htmlBody(uint64(i*1000+version), n)))
	return p
}

// wantBody fails unless key reads with the body of segPage(i, version, n).
func wantBody(t *testing.T, s *Store, i, version, n int) {
	t.Helper()
	if err := bodyIs(s, i, version, n); err != nil {
		t.Fatal(err)
	}
}

func bodyIs(s *Store, i, version, n int) error {
	want := segPage(i, version, n)
	var got string
	err := s.ViewPage(want.Key, func(v *PageView) error {
		b, err := v.Plain()
		got = string(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("page %d: %w", i, err)
	}
	if got != string(want.Plain) {
		return fmt.Errorf("page %d reads %.40q…, want version %d", i, got, version)
	}
	return nil
}

func segmentFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(dir, bodiesDir, "*.seg"))
	if err != nil {
		tb.Fatal(err)
	}
	return names
}

// pointerOf reads the pointer p/key holds.
func pointerOf(tb testing.TB, s *Store, key string) bodyLoc {
	tb.Helper()
	l, ok, err := s.oldLoc(key)
	if err != nil || !ok {
		tb.Fatalf("p/%s holds no pointer (%v)", key, err)
	}
	return l
}

func TestBodySegments(t *testing.T) {
	t.Run("a page survives close and open, read through the index without Pebble", func(t *testing.T) {
		dir := t.TempDir()
		s := openDisk(t, dir, Options{segmentTarget: 16 << 10})
		for i := range 30 {
			mustPut(t, s, segPage(i, 1, 3000))
		}
		mustNil(t, s.Close())
		s = openDisk(t, dir, Options{segmentTarget: 16 << 10})
		defer s.Close()
		if n := len(segmentFiles(t, dir)); n < 2 {
			t.Fatalf("%d segment files for 30 pages of a 16 KiB segment target, want several", n)
		}
		for i := range 30 {
			wantBody(t, s, i, 1, 3000)
			if _, ok := s.bodies.idx.get(segPage(i, 1, 0).Key); !ok {
				t.Fatalf("page %d is not in the index built at Open", i)
			}
		}
		if st := s.bodies.stats(); st.DeadBytes != 0 || st.LiveBytes != st.Bytes {
			t.Errorf("a store written once has dead bytes: %+v", st)
		}
	})

	t.Run("an old store with inline records serves every page, and they move to segments in the background", func(t *testing.T) {
		dir := t.TempDir()
		// A store as a binary before the body segments left it: p/ holds the record.
		db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: formatVersion, Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
		mustNil(t, err)
		b := db.NewBatch()
		for i := range 10 {
			p := segPage(i, 1, 2000)
			mustNil(t, preparePage(p))
			val, err := encodePage(p, nil)
			mustNil(t, err)
			_ = b.Set(appendKey(nil, prefixPage, p.Key), val, nil)
			_ = b.Set(appendKey(nil, prefixIndex, p.Key), encodeSummary(PageMeta{URL: p.URL, Status: 200, RenderedAt: t0, ExpiresAt: p.ExpiresAt, Size: len(val)}), nil)
			_ = b.Set(appendDueKey(nil, p.ExpiresAt, p.Key), nil, nil)
		}
		mustNil(t, b.Commit(pebble.Sync))
		mustNil(t, db.Close())

		s := openDisk(t, dir, Options{})
		defer s.Close()
		// Writes race the move: each must win over it.
		mustPut(t, s, segPage(3, 2, 2000))
		mustNil(t, s.DeletePage(segPage(8, 1, 0).Key))
		for i := range 8 {
			version := 1
			if i == 3 {
				version = 2
			}
			wantBody(t, s, i, version, 2000)
		}
		<-s.migrated
		for i := range 8 {
			pointerOf(t, s, segPage(i, 1, 0).Key)
			version := 1
			if i == 3 {
				version = 2
			}
			wantBody(t, s, i, version, 2000)
		}
		if _, err := s.GetPage(segPage(8, 1, 0).Key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a page deleted while the records moved reads %v", err)
		}
		if st := s.bodies.stats(); st.DeadBytes < 0 || st.LiveBytes <= 0 {
			t.Errorf("after the move: %+v", st)
		}
		pointerOf(t, s, segPage(3, 2, 0).Key)
		wantBody(t, s, 3, 2, 2000)
		mustNil(t, s.SetPageExpiry(segPage(4, 1, 0).Key, t0.Add(48*time.Hour)))
		pointerOf(t, s, segPage(4, 1, 0).Key)
		wantBody(t, s, 4, 1, 2000)
		mustNil(t, s.DeletePage(segPage(5, 1, 0).Key))
		if _, err := s.GetPage(segPage(5, 1, 0).Key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a deleted page reads %v", err)
		}
		checkCounters(t, s)
		mustNil(t, s.Close())
		s = openDisk(t, dir, Options{})
		defer s.Close()
		if st := s.bodies.stats(); st.LiveBytes <= 0 {
			t.Errorf("reopened: %+v", st)
		}
		wantBody(t, s, 9, 1, 2000)
	})

	t.Run("a record damaged or cut short reads as not found, counted, with no other page lost", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			damage func(t *testing.T, path string, l bodyLoc)
		}{
			{"a flipped byte in the body", func(t *testing.T, path string, l bodyLoc) {
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				mustNil(t, err)
				defer f.Close()
				b := make([]byte, 1)
				_, err = f.ReadAt(b, l.off+l.n-10)
				mustNil(t, err)
				b[0] ^= 0xff
				_, err = f.WriteAt(b, l.off+l.n-10)
				mustNil(t, err)
			}},
			{"the file cut short before the record's end (a lost page cache)", func(t *testing.T, path string, l bodyLoc) {
				mustNil(t, os.Truncate(path, l.off+l.n/2))
			}},
			{"the segment file gone", func(t *testing.T, path string, l bodyLoc) {
				mustNil(t, os.Remove(path))
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dir := t.TempDir()
				s := openDisk(t, dir, Options{segmentTarget: 8 << 10})
				for i := range 12 {
					mustPut(t, s, segPage(i, 1, 2500))
				}
				victim := segPage(11, 1, 0).Key
				l := pointerOf(t, s, victim)
				mustNil(t, s.Close())
				tc.damage(t, segmentName(filepath.Join(dir, bodiesDir), vfs.Default, l.seg), l)

				s = openDisk(t, dir, Options{segmentTarget: 8 << 10})
				defer s.Close()
				for range 2 {
					if err := s.ViewPage(victim, func(*PageView) error { return nil }); !errors.Is(err, ErrNotFound) {
						t.Fatalf("the damaged page reads %v, want ErrNotFound", err)
					}
				}
				if got := s.bodies.stats().CorruptRecords; got != 2 {
					t.Errorf("%d corrupt records counted, want 2", got)
				}
				for i := range 12 {
					if p := segPage(i, 1, 0); p.Key != victim && pointerOf(t, s, p.Key).seg != l.seg {
						wantBody(t, s, i, 1, 2500)
					}
				}
				// A render puts it back.
				mustPut(t, s, segPage(11, 2, 2500))
				wantBody(t, s, 11, 2, 2500)
			})
		}
	})

	t.Run("a write a crash cut short is appended after, and the store reads on", func(t *testing.T) {
		dir := t.TempDir()
		s := openDisk(t, dir, Options{})
		for i := range 5 {
			mustPut(t, s, segPage(i, 1, 2000))
		}
		mustNil(t, s.Close())
		seg := segmentFiles(t, dir)[0]
		f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
		mustNil(t, err)
		rec, _ := encodeRecord("desktop|https://shop.example/torn", htmlBody(9, 3000))
		_, err = f.Write(rec[:len(rec)/2])
		mustNil(t, err)
		mustNil(t, f.Close())

		s = openDisk(t, dir, Options{})
		defer s.Close()
		mustPut(t, s, segPage(5, 1, 2000))
		for i := range 6 {
			wantBody(t, s, i, 1, 2000)
		}
		if l := pointerOf(t, s, segPage(5, 1, 0).Key); l.off != pointerOf(t, s, segPage(4, 1, 0).Key).off+pointerOf(t, s, segPage(4, 1, 0).Key).n {
			t.Errorf("the new record went to %d, not over the cut-short write", l.off)
		}
	})

	t.Run("a full disk refuses the write and loses nothing", func(t *testing.T) {
		dir := t.TempDir()
		var free atomic.Int64
		free.Store(1 << 40)
		s := openDisk(t, dir, Options{FreeBytes: func() (int64, error) { return free.Load(), nil }})
		defer s.Close()
		for i := range 5 {
			mustPut(t, s, segPage(i, 1, 2000))
		}
		before := s.bodies.stats()
		free.Store(defaultMinFreeBytes + 100)
		if err := s.PutPage(segPage(1, 2, 2000)); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("PutPage on a full disk = %v, want ErrDiskFull", err)
		}
		if err := s.PutPages([]*Page{segPage(7, 1, 2000)}); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("PutPages on a full disk = %v, want ErrDiskFull", err)
		}
		if after := s.bodies.stats(); after.Bytes != before.Bytes {
			t.Errorf("a refused write appended %d bytes to the segments", after.Bytes-before.Bytes)
		}
		for i := range 5 {
			wantBody(t, s, i, 1, 2000)
		}
		free.Store(1 << 40)
		mustPut(t, s, segPage(1, 2, 2000))
		wantBody(t, s, 1, 2, 2000)
	})

	t.Run("keys whose hashes collide each read their own page", func(t *testing.T) {
		dir := t.TempDir()
		opts := Options{indexHash: func(key string) uint64 { return 42 }}
		s := openDisk(t, dir, opts)
		for i := range 8 {
			mustPut(t, s, segPage(i, 1, 1000))
		}
		for i := range 8 {
			wantBody(t, s, i, 1, 1000)
		}
		mustNil(t, s.DeletePage(segPage(7, 1, 0).Key))
		mustPut(t, s, segPage(2, 2, 1000))
		mustNil(t, s.Close())
		s = openDisk(t, dir, opts)
		defer s.Close()
		for i := range 7 {
			version := 1
			if i == 2 {
				version = 2
			}
			wantBody(t, s, i, version, 1000)
		}
		if _, err := s.GetPage(segPage(7, 1, 0).Key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a deleted page of a shared hash reads %v", err)
		}
	})
}

func TestGarbagePass(t *testing.T) {
	const target, size = 8 << 10, 2000
	t.Run("reclaims a segment half dead and every live page still reads", func(t *testing.T) {
		dir := t.TempDir()
		s := openDisk(t, dir, Options{segmentTarget: target})
		defer s.Close()
		for i := range 40 {
			mustPut(t, s, segPage(i, 1, size))
		}
		for i := range 40 {
			if i%3 != 0 {
				mustPut(t, s, segPage(i, 2, size))
			}
		}
		for i := 30; i < 40; i++ {
			mustNil(t, s.DeletePage(segPage(i, 1, 0).Key))
		}
		// The background pass may have run already (the writes wake it); one
		// more leaves no sealed segment half dead.
		mustNil(t, s.collectGarbage())
		after := s.bodies.stats()
		if after.ReclaimedSegs == 0 {
			t.Fatalf("the pass reclaimed nothing: %+v", after)
		}
		active := s.bodies.activeSegment()
		for _, g := range *s.bodies.segs.Load() {
			if size, live := g.size.Load(), g.live.Load(); g != active && 2*(size-live) >= size {
				t.Errorf("sealed segment %s is %d of %d bytes dead after the pass", g.name, size-live, size)
			}
		}
		check := func(s *Store) {
			for i := range 30 {
				version := 2
				if i%3 == 0 {
					version = 1
				}
				wantBody(t, s, i, version, size)
			}
			for i := 30; i < 40; i++ {
				if _, err := s.GetPage(segPage(i, 1, 0).Key); !errors.Is(err, ErrNotFound) {
					t.Fatalf("deleted page %d reads %v after the pass", i, err)
				}
			}
		}
		check(s)
		if got := len(segmentFiles(t, dir)); int64(got) != after.Segments {
			t.Errorf("%d segment files on disk, %d listed", got, after.Segments)
		}
		mustNil(t, s.Close())
		s = openDisk(t, dir, Options{segmentTarget: target})
		defer s.Close()
		check(s)
		if st := s.bodies.stats(); st.LiveBytes != after.LiveBytes {
			t.Errorf("live bytes %d after open, %d before close", st.LiveBytes, after.LiveBytes)
		}
	})

	t.Run("under concurrent writes of the same keys the newest body wins", func(t *testing.T) {
		dir := t.TempDir()
		s := openDisk(t, dir, Options{segmentTarget: target})
		defer s.Close()
		const keys = 24
		last := make([]int, keys)
		for i := range keys {
			mustPut(t, s, segPage(i, 0, size))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			r := rand.New(rand.NewPCG(1, 2))
			for v := 1; v <= 80; v++ {
				i := r.IntN(keys)
				if err := s.PutPage(segPage(i, v, size)); err != nil {
					t.Error(err)
					return
				}
				last[i] = v
			}
		}()
		var passes int
	passing:
		for ; ; passes++ {
			if err := s.collectGarbage(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
				break passing
			default:
				runtime.Gosched()
			}
		}
		if s.bodies.stats().ReclaimedSegs == 0 {
			t.Fatalf("%d passes beside 80 writes reclaimed no segment", passes)
		}
		for i := range keys {
			wantBody(t, s, i, last[i], size)
		}
		mustNil(t, s.collectGarbage())
		for i := range keys {
			wantBody(t, s, i, last[i], size)
		}
	})

	t.Run("a reader in a segment the pass removes reads the page", func(t *testing.T) {
		dir := t.TempDir()
		s := openDisk(t, dir, Options{segmentTarget: target, HotCache: -1})
		defer s.Close()
		for i := range 20 {
			mustPut(t, s, segPage(i, 1, size))
		}
		for i := 1; i < 20; i++ {
			mustPut(t, s, segPage(i, 2, size))
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := bodyIs(s, 0, 1, size); err != nil {
					t.Error(err)
					return
				}
			}
		})
		mustNil(t, s.collectGarbage())
		close(stop)
		wg.Wait()
		wantBody(t, s, 0, 1, size)
	})
}

func TestCheckpointCarriesTheBodySegments(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, filepath.Join(dir, "store"), Options{segmentTarget: 8 << 10})
	defer s.Close()
	for i := range 20 {
		mustPut(t, s, segPage(i, 1, 2000))
	}
	for i := range 5 {
		mustPut(t, s, segPage(i, 2, 2000))
	}
	copyDir := filepath.Join(dir, "copy")
	mustNil(t, s.Checkpoint(copyDir))
	// Written after the checkpoint: the copy must not see it, nor lose what it has.
	mustPut(t, s, segPage(6, 3, 2000))
	mustNil(t, s.collectGarbage())

	c := openDisk(t, copyDir, Options{segmentTarget: 8 << 10})
	defer c.Close()
	for i := range 20 {
		version := 1
		if i < 5 {
			version = 2
		}
		wantBody(t, c, i, version, 2000)
	}
	if n := len(segmentFiles(t, copyDir)); n < 2 {
		t.Fatalf("the copy has %d segment files", n)
	}
	mustPut(t, c, segPage(7, 4, 2000))
	wantBody(t, s, 7, 1, 2000)
	wantBody(t, s, 6, 3, 2000)
}

func TestBodyIndex(t *testing.T) {
	t.Run("set, get and remove agree with a map over many keys, with few hash bits", func(t *testing.T) {
		// 12 bits of hash: many keys share one, and tables wrap around.
		x := newBodyIndex(func(key string) uint64 {
			var h uint64
			for _, c := range []byte(key) {
				h = h*31 + uint64(c)
			}
			return h&0xfff | h<<58
		})
		want := map[uint64]bodyLoc{}
		r := rand.New(rand.NewPCG(3, 4))
		for range 20000 {
			key := fmt.Sprint(r.IntN(3000))
			h := x.hashOf(key)
			if r.IntN(3) == 0 {
				x.remove(key)
				delete(want, h)
				continue
			}
			l := bodyLoc{seg: uint32(r.IntN(1000) + 1), off: int64(r.IntN(1 << 20)), n: int64(r.IntN(9000) + recordHeaderLen)}
			x.set(key, l)
			want[h] = l
		}
		for i := range 3000 {
			key := fmt.Sprint(i)
			got, ok := x.get(key)
			w, wok := want[x.hashOf(key)]
			if ok != wok || got != w {
				t.Fatalf("key %s: %+v %v, want %+v %v", key, got, ok, w, wok)
			}
		}
	})
	t.Run("a build from the pointers at Open never undoes a write made while it ran", func(t *testing.T) {
		x := newBodyIndex(nil)
		x.startBuild()
		at := func(off int64) bodyLoc { return bodyLoc{seg: 1, off: off, n: 100} }
		x.set("rewritten", at(200))            // a writer, after the build's snapshot
		x.remove("deleted")                    // a writer deletes a page the snapshot has
		x.addBuilt([]byte("rewritten"), at(0)) // the snapshot's older pointers
		x.addBuilt([]byte("deleted"), at(100))
		x.addBuilt([]byte("untouched"), at(300))
		x.endBuild()
		if l, ok := x.get("rewritten"); !ok || l != at(200) {
			t.Errorf("rewritten: %+v %v, want the writer's %+v", l, ok, at(200))
		}
		if l, ok := x.get("deleted"); ok {
			t.Errorf("deleted: indexed at %+v", l)
		}
		if l, ok := x.get("untouched"); !ok || l != at(300) {
			t.Errorf("untouched: %+v %v", l, ok)
		}
		n := 0
		for i := range x.shards {
			n += x.shards[i].n
		}
		if n != 2 {
			t.Errorf("%d entries after the build, want 2 (the tombstone dropped)", n)
		}
		x.remove("untouched")
		if _, ok := x.get("untouched"); ok {
			t.Error("a remove after the build left the entry")
		}
	})
	t.Run("a key hashes the same as a string and as bytes", func(t *testing.T) {
		x := newBodyIndex(nil)
		for _, key := range []string{"", "desktop|https://shop.example/p/1", strings.Repeat("x", 1000)} {
			if a, b := x.hashOf(key), nonZero(x.hashBytes([]byte(key))); a != b {
				t.Errorf("%q: %x as a string, %x as bytes", key, a, b)
			}
		}
	})
	t.Run("a location that does not pack is not indexed", func(t *testing.T) {
		x := newBodyIndex(nil)
		x.set("a", bodyLoc{seg: 1, off: 0, n: 100})
		x.set("a", bodyLoc{seg: 1, off: 0, n: 1 << 20})
		if _, ok := x.get("a"); ok {
			t.Fatal("a 1 MiB record is indexed, or its key kept its old location")
		}
	})
	t.Run("a million keys take at most 48 bytes each", func(t *testing.T) {
		if testing.Short() || raceEnabled {
			t.Skip("builds a million-key index: not in -short, and the race detector's allocations would count")
		}
		const n = 1_000_000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		x := newBodyIndex(nil)
		x.presize(n)
		key := []byte("desktop|https://shop.example/p/")
		prefix := len(key)
		for i := range n {
			key = strconv.AppendInt(key[:prefix], int64(i), 10)
			x.set(string(key), bodyLoc{seg: uint32(i/8000 + 1), off: int64(i%8000) * 8000, n: 7600})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := float64(after.HeapAlloc-before.HeapAlloc) / n
		t.Logf("index of %d keys: %.1f bytes a key (tables %d bytes)", n, per, x.bytes())
		if per > 48 {
			t.Errorf("%.1f bytes a key, want at most 48", per)
		}
		runtime.KeepAlive(x)
	})
}

// FuzzParseRecordAndPointer: segment bytes and p/ pointers come from the disk;
// whatever they hold, reading them never panics, and what parses re-encodes to
// the same bytes.
func FuzzParseRecordAndPointer(f *testing.F) {
	rec, _ := encodeRecord("desktop|https://a/", []byte("value"))
	f.Add(rec)
	f.Add(rec[:recordHeaderLen+3])
	f.Add(encodePointer(bodyLoc{seg: 3, off: 4096, n: 8000, crc: 7}))
	f.Add([]byte{pagePointerVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if key, val, ok := parseRecord(b, 0); ok {
			if again, _ := encodeRecord(string(key), val); string(again) != string(b) {
				t.Fatalf("record %x re-encodes as %x", b, again)
			}
		}
		if l, err := decodePointer(b); err == nil {
			if again := encodePointer(l); string(again) != string(b) {
				t.Fatalf("pointer %x re-encodes as %x", b, again)
			}
		}
		fs := vfs.NewMem()
		file, err := fs.Create("seg", vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := file.Write(slices.Clone(b)); err != nil {
			t.Fatal(err)
		}
		if end, err := validEnd(file, int64(len(b))); err != nil || end < 0 || end > int64(len(b)) {
			t.Fatalf("validEnd = %d, %v of %d bytes", end, err, len(b))
		}
	})
}
