package storage

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// openLogged opens the store in dir with its log in buf, at Info: the "storage
// opened" line says whether Open counted the pages.
func openLogged(tb testing.TB, dir string, buf *bytes.Buffer) *Store {
	tb.Helper()
	buf.Reset()
	s, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(buf, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	<-s.indexed // its log line written: the buffer is read next
	return s
}

func openedByCounting(log string) bool {
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(line, "storage opened") {
			return strings.Contains(line, "counted=true")
		}
	}
	return false
}

// checkCounters fails unless the counters of s agree with a walk of its summaries.
func checkCounters(tb testing.TB, s *Store) {
	tb.Helper()
	pages, size, err := s.Recount()
	if err != nil {
		tb.Fatal(err)
	}
	if s.PageCount() != pages || s.StoredBytes() != size {
		tb.Errorf("counters say %d pages, %d bytes; a recount %d pages, %d bytes", s.PageCount(), s.StoredBytes(), pages, size)
	}
}

func TestPageCountersAreReadOnOpenAndAgreeWithARecount(t *testing.T) {
	key := func(i int) string { return fmt.Sprintf("desktop|https://shop.example/p/%d", i) }
	tests := []struct {
		name   string
		change func(t *testing.T, s *Store)
	}{
		{"pages put one by one", func(t *testing.T, s *Store) {
			for i := range 5 {
				mustPut(t, s, testPage(key(i), t0))
			}
		}},
		{"a page put again with a bigger body", func(t *testing.T, s *Store) {
			p := testPage(key(1), t0)
			p.Plain = htmlBody(1, 5000)
			mustPut(t, s, p)
		}},
		{"pages put in one batch", func(t *testing.T, s *Store) {
			var pages []*Page
			for i := 10; i < 20; i++ {
				pages = append(pages, testPage(key(i), t0))
			}
			if err := s.PutPages(pages); err != nil {
				t.Fatal(err)
			}
		}},
		{"one page deleted, and one that is not stored", func(t *testing.T, s *Store) {
			for _, k := range []string{key(2), key(99)} {
				if err := s.DeletePage(k); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"pages deleted in one batch", func(t *testing.T, s *Store) {
			if _, err := s.DeletePages([]string{key(10), key(11), key(98)}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a page given Markdown, which makes it bigger", func(t *testing.T, s *Store) {
			etag := ""
			if err := s.ViewPage(key(3), func(v *PageView) error { etag = v.ETag; return nil }); err != nil {
				t.Fatal(err)
			}
			if err := s.SetPageMarkdown(key(3), etag, []byte("# page three\n\nsome text")); err != nil {
				t.Fatal(err)
			}
		}},
		{"a page's expiry moved and it marked served", func(t *testing.T, s *Store) {
			if err := s.SetPageExpiry(key(4), t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := s.MarkServed(key(4)); err != nil {
				t.Fatal(err)
			}
		}},
		{"every page deleted: no record is left", func(t *testing.T, s *Store) {
			var keys []string
			if err := s.ScanKeys("", func(k []byte) bool { keys = append(keys, string(k)); return true }); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DeletePages(keys); err != nil {
				t.Fatal(err)
			}
			if keys := keysWithPrefix(rawKeys(t, s), prefixCounter); len(keys) != 0 {
				t.Errorf("an empty store keeps %q", keys)
			}
		}},
	}
	// The cases run in order on one store, each reopening it.
	dir := t.TempDir()
	var log bytes.Buffer
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openLogged(t, dir, &log)
			tc.change(t, s)
			checkCounters(t, s)
			want, wantBytes := s.PageCount(), s.StoredBytes()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openLogged(t, dir, &log)
			defer s.Close()
			// An empty store keeps no record: counting it reads nothing.
			if want > 0 && openedByCounting(log.String()) {
				t.Errorf("Open counted the pages instead of reading the counters:\n%s", log.String())
			}
			if s.PageCount() != want || s.StoredBytes() != wantBytes {
				t.Errorf("after reopening: %d pages, %d bytes; before closing %d, %d", s.PageCount(), s.StoredBytes(), want, wantBytes)
			}
			checkCounters(t, s)
		})
	}
}

func TestPageCountersAgreeAfterConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	s := openLogged(t, dir, &log)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 30 {
				// Each writer owns its keys, as each shard does.
				k := fmt.Sprintf("desktop|https://w%d.example/%d", w, r.IntN(20))
				var err error
				switch {
				case i%5 == 4:
					err = s.DeletePage(k)
				default:
					p := testPage(k, t0)
					p.Plain = htmlBody(uint64(i), 100+r.IntN(3000))
					err = s.PutPage(p)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkCounters(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openLogged(t, dir, &log)
	defer s.Close()
	if openedByCounting(log.String()) {
		t.Errorf("Open counted the pages:\n%s", log.String())
	}
	checkCounters(t, s)
}

// writeUntilKilledEnv makes the test binary a helper process that writes and
// deletes pages in the store in the named directory from 4 goroutines, printing a
// line every 20 writes, until it is killed.
const writeUntilKilledEnv = "PRERENDERD_STORAGE_TEST_WRITE"

func writeUntilKilled(dir string) {
	s, err := Open(Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	written := 0
	for w := range 4 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for i := 0; ; i++ {
				k := fmt.Sprintf("desktop|https://w%d.example/%d", w, r.IntN(200))
				var err error
				if i%4 == 3 {
					err = s.DeletePage(k)
				} else {
					p := testPage(k, t0)
					p.Plain = htmlBody(uint64(i), 100+r.IntN(4000))
					err = s.PutPage(p)
				}
				if err != nil {
					fmt.Println("error:", err)
					os.Exit(1)
				}
				mu.Lock()
				written++
				if written%20 == 0 {
					fmt.Println("written", written)
				}
				mu.Unlock()
			}
		}()
	}
	select {}
}

func TestPageCountersSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writeUntilKilledEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	for seen := 0; seen < 10 && lines.Scan(); {
		if strings.HasPrefix(lines.Text(), "error") {
			t.Fatalf("the writer failed: %s", lines.Text())
		}
		seen++
	}
	// Killed in the middle of its writes: some batches are in the WAL, the
	// one being written may be torn.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	var log bytes.Buffer
	s := openLogged(t, dir, &log)
	defer s.Close()
	if openedByCounting(log.String()) {
		t.Errorf("Open after kill -9 counted the pages:\n%s", log.String())
	}
	if s.PageCount() == 0 {
		t.Fatal("no page survived the kill: the writer wrote nothing synced")
	}
	checkCounters(t, s)
}

func TestPageCountersAreRecountedWhenAnotherBinaryWroteMeanwhile(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	s := openLogged(t, dir, &log)
	for i := range 3 {
		mustPut(t, s, testPage(fmt.Sprintf("desktop|https://shop.example/%d", i), t0))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A binary from before the counters stores a page: p/ and i/ without n/pages.
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: formatVersion, Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	p := testPage("desktop|https://shop.example/old", t0)
	if err := preparePage(p); err != nil {
		t.Fatal(err)
	}
	val, err := encodePage(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	_ = b.Set(appendKey(nil, prefixPage, p.Key), val, nil)
	_ = b.Set(appendKey(nil, prefixIndex, p.Key), encodeSummary(PageMeta{URL: p.URL, Status: 200, ExpiresAt: t0, Size: len(val)}), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s = openLogged(t, dir, &log)
	if !openedByCounting(log.String()) {
		t.Errorf("Open trusted counters another binary did not keep:\n%s", log.String())
	}
	if s.PageCount() != 4 {
		t.Errorf("PageCount = %d, want the 3 pages and the other binary's", s.PageCount())
	}
	checkCounters(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openLogged(t, dir, &log)
	defer s.Close()
	if openedByCounting(log.String()) {
		t.Errorf("the Open after the recount counted again:\n%s", log.String())
	}
	checkCounters(t, s)
}

func TestABadCounterRecordIsCountedAgainNotTrusted(t *testing.T) {
	tests := []struct {
		name   string
		record []byte
	}{
		{"an empty record", []byte{}},
		{"a record of another version", append([]byte{9}, make([]byte, 20)...)},
		{"a short record", []byte{counterVersion, 1, 2, 3}},
		{"a negative page count", encodeCounters(counters{pages: -5, bytes: 10})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var log bytes.Buffer
			s := openLogged(t, dir, &log)
			mustPut(t, s, testPage("desktop|https://shop.example/1", t0))
			// The record names this session, so only its bytes make Open distrust it.
			rec := tc.record
			if len(rec) >= counterFixedLen {
				rec = append(rec, s.session...)
			}
			if err := s.db.Set(counterKey, rec, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openLogged(t, dir, &log)
			defer s.Close()
			if !openedByCounting(log.String()) || !strings.Contains(log.String(), "cannot read its page counters") {
				t.Errorf("a bad record was not reported and counted again:\n%s", log.String())
			}
			if s.PageCount() != 1 {
				t.Errorf("PageCount = %d, want 1", s.PageCount())
			}
			checkCounters(t, s)
		})
	}
}

func TestPutPagesRefusesTheSameKeyTwiceAndStoresNothing(t *testing.T) {
	s := openMem(t)
	a := testPage("desktop|https://shop.example/a", t0)
	err := s.PutPages([]*Page{a, testPage("desktop|https://shop.example/b", t0), testPage(a.Key, t0)})
	if err == nil || !strings.Contains(err.Error(), a.Key) {
		t.Fatalf("PutPages with a key twice: %v, want an error naming it", err)
	}
	if keys := rawKeys(t, s); len(keys) != 0 || s.PageCount() != 0 {
		t.Errorf("a refused batch left keys %q, count %d", keys, s.PageCount())
	}
	bad := testPage("desktop|https://shop.example/c", t0)
	bad.Status = 42
	if err := s.PutPages([]*Page{testPage("desktop|https://shop.example/d", t0), bad}); err == nil {
		t.Fatal("PutPages with a bad page stored it")
	}
	if keys := rawKeys(t, s); len(keys) != 0 {
		t.Errorf("a refused batch left keys %q", keys)
	}
}
