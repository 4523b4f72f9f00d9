package storage

import (
	"bytes"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"a directory is enough", Options{Dir: "data"}, ""},
		{"in memory needs no directory", Options{InMemory: true}, ""},
		{"no directory and not in memory is refused", Options{}, "Options.Dir"},
		{"a negative block cache is refused", Options{Dir: "d", BlockCache: -1}, "Options.BlockCache"},
		{"a negative cache bound is refused", Options{Dir: "d", MaxBytes: -1}, "Options.MaxBytes"},
		{"a negative free-space guard is refused", Options{Dir: "d", MinFreeBytes: -1}, "Options.MinFreeBytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.EnsureDefaults()
			err := o.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
	t.Run("defaults fill only zero fields", func(t *testing.T) {
		o := Options{MinFreeBytes: 5}
		o.EnsureDefaults()
		if o.BlockCache != 64<<20 || o.MinFreeBytes != 5 || o.Logger != slog.Default() {
			t.Fatalf("after EnsureDefaults: %+v", o)
		}
		o = Options{}
		o.EnsureDefaults()
		if o.MinFreeBytes != 256<<20 {
			t.Fatalf("MinFreeBytes = %d, want 256 MiB", o.MinFreeBytes)
		}
	})
	t.Run("Open reports a bad option", func(t *testing.T) {
		if _, err := Open(Options{}); err == nil {
			t.Fatal("Open accepted options without Dir")
		}
	})
}

func TestDataSurvivesCloseAndOpen(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir, Options{})
	const n = 50
	for i := range n {
		p := testPage(fmt.Sprintf("desktop|https://shop.example/p/%03d", i), t0.Add(time.Duration(i)*time.Minute))
		p.Plain = htmlBody(uint64(i), 5000)
		mustPut(t, s, p)
	}
	if err := s.PutMeta("desktop|https://shop.example/p/000", Meta{Hits: 3, Source: "api"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePage("desktop|https://shop.example/p/049"); err != nil {
		t.Fatal(err)
	}
	want := rawKeys(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openDisk(t, dir, Options{})
	defer s.Close()
	t.Run("the page count is restored", func(t *testing.T) {
		if got := s.PageCount(); got != n-1 {
			t.Fatalf("PageCount = %d, want %d", got, n-1)
		}
	})
	t.Run("the keyspace is the same", func(t *testing.T) {
		if got := rawKeys(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("keys after reopen differ: %d keys, want %d", len(got), len(want))
		}
	})
	t.Run("pages read back whole", func(t *testing.T) {
		p, err := s.GetPage("desktop|https://shop.example/p/007")
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Plain) != string(htmlBody(7, 5000)) || string(gunzipped(t, p.Gzip)) != string(p.Plain) {
			t.Fatal("body differs after reopen")
		}
	})
	t.Run("metadata reads back", func(t *testing.T) {
		m, err := s.GetMeta("desktop|https://shop.example/p/000")
		if err != nil || m.Hits != 3 || m.Source != "api" {
			t.Fatalf("GetMeta = %+v, %v", m, err)
		}
	})
	t.Run("the store keeps counting after reopen", func(t *testing.T) {
		mustPut(t, s, testPage("desktop|https://shop.example/new", t0))
		if got := s.PageCount(); got != n {
			t.Fatalf("PageCount = %d, want %d", got, n)
		}
	})
}

func TestFreeSpaceGuard(t *testing.T) {
	t.Run("with less free space than the guard on a real disk, writes are refused, reads and deletes work", func(t *testing.T) {
		dir := t.TempDir()
		s := openDisk(t, dir, Options{})
		stored := testPage("desktop|https://shop.example/", t0)
		mustPut(t, s, stored)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		free, err := openFree(t, dir)
		if err != nil {
			t.Fatal(err)
		}
		s = openDisk(t, dir, Options{MinFreeBytes: free + 1<<40})
		defer s.Close()
		keysBefore := rawKeys(t, s)

		writes := []struct {
			name string
			do   func() error
		}{
			{"PutPage", func() error { return s.PutPage(testPage("desktop|https://shop.example/new", t0)) }},
			{"PutPage of a stored key", func() error { return s.PutPage(testPage(stored.Key, t0.Add(time.Hour))) }},
			{"PutMeta", func() error { return s.PutMeta(stored.Key, Meta{Hits: 1}) }},
		}
		for _, w := range writes {
			err := w.do()
			if !errors.Is(err, ErrDiskFull) {
				t.Errorf("%s = %v, want ErrDiskFull", w.name, err)
			} else if !strings.Contains(err.Error(), "bytes free") {
				t.Errorf("%s error %q does not say how much is free", w.name, err)
			}
		}
		if got := rawKeys(t, s); strings.Join(got, "\n") != strings.Join(keysBefore, "\n") {
			t.Errorf("refused writes changed the keyspace: %q, want %q", got, keysBefore)
		}
		p, err := s.GetPage(stored.Key)
		if err != nil || string(p.Plain) != string(stored.Plain) {
			t.Fatalf("GetPage with a full disk = %v", err)
		}
		if err := s.ViewPage(stored.Key, func(*PageView) error { return nil }); err != nil {
			t.Fatalf("ViewPage with a full disk = %v", err)
		}
		if n := s.PageCount(); n != 1 {
			t.Fatalf("PageCount = %d, want 1", n)
		}
		// Deletes free space: refusing them would leave an operator no way to
		// make room through the API.
		if err := s.DeletePage(stored.Key); err != nil {
			t.Fatalf("DeletePage with less free space than the guard = %v, want it done", err)
		}
		if n := s.PageCount(); n != 0 {
			t.Fatalf("PageCount after the delete = %d, want 0", n)
		}
	})

	t.Run("writes resume once space is free again, and deletes stop only at the delete floor", func(t *testing.T) {
		s := openMem(t)
		free := int64(inMemoryFreeBytes)
		s.freeBytes = func() (int64, error) { return free, nil }
		key := "desktop|https://shop.example/"
		floor := s.opts.MinFreeBytes

		steps := []struct {
			name    string
			free    int64
			do      func() error
			wantErr error
		}{
			{"a put with plenty of room succeeds", 1 << 40, func() error { return s.PutPage(testPage(key, t0)) }, nil},
			{"a put just under the guard is refused", floor + 10, func() error { return s.PutPage(testPage(key+"2", t0)) }, ErrDiskFull},
			{"a delete just under the guard succeeds", floor - 1, func() error { return s.DeletePage(key) }, nil},
			{"a put with room again succeeds", 1 << 40, func() error { return s.PutPage(testPage(key, t0)) }, nil},
			{"a delete far under the guard but above the delete floor succeeds", deleteHeadroom + 1<<20, func() error { return s.DeletePage(key) }, nil},
			{"a delete under the delete floor of two memtables is refused", deleteHeadroom - 1, func() error { return s.DeletePage(key) }, ErrDiskFull},
			{"a bulk delete under the delete floor is refused", deleteHeadroom - 1, func() error { _, err := s.DeletePages([]string{key}); return err }, ErrDiskFull},
			{"a put after space came back succeeds", floor * 4, func() error { return s.PutPage(testPage(key+"3", t0)) }, nil},
		}
		for _, st := range steps {
			free = st.free
			if err := st.do(); !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
				t.Errorf("%s: got %v, want %v", st.name, err, st.wantErr)
			}
		}
	})

	t.Run("Options.FreeBytes stands in for the disk", func(t *testing.T) {
		s, err := Open(Options{InMemory: true, MinFreeBytes: 1 << 30, FreeBytes: func() (int64, error) { return 1 << 29, nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.PutPage(testPage("desktop|x", t0)); !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "(512 MiB)") {
			t.Errorf("PutPage with 512 MiB free of a 1 GiB guard = %v, want ErrDiskFull saying how much is free", err)
		}
		if free, err := s.FreeBytes(); err != nil || free != 1<<29 {
			t.Errorf("FreeBytes = %d, %v; want the figure of Options.FreeBytes", free, err)
		}
	})

	t.Run("a failing statfs refuses the write", func(t *testing.T) {
		s := openMem(t)
		s.freeBytes = func() (int64, error) { return 0, errors.New("statfs: input/output error") }
		err := s.PutPage(testPage("desktop|x", t0))
		if err == nil || !strings.Contains(err.Error(), "cannot check free space") {
			t.Fatalf("PutPage = %v, want a free-space check error", err)
		}
	})
}

func openFree(t *testing.T, dir string) (int64, error) {
	t.Helper()
	s := openDisk(t, dir, Options{})
	defer s.Close()
	return s.FreeBytes()
}

func TestClose(t *testing.T) {
	t.Run("every call after Close returns ErrClosed", func(t *testing.T) {
		s := openMem(t)
		mustPut(t, s, testPage("desktop|k", t0))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		calls := map[string]error{
			"Close":      s.Close(),
			"ViewPage":   s.ViewPage("desktop|k", func(*PageView) error { return nil }),
			"PutPage":    s.PutPage(testPage("desktop|k", t0)),
			"DeletePage": s.DeletePage("desktop|k"),
			"PutMeta":    s.PutMeta("desktop|k", Meta{}),
			"ScanPages":  s.ScanPages("", func(string, PageMeta) bool { return true }),
			"ScanDue":    s.ScanDue(t0, func(string, time.Time) bool { return true }),
		}
		_, err := s.GetPage("desktop|k")
		calls["GetPage"] = err
		_, err = s.GetMeta("desktop|k")
		calls["GetMeta"] = err
		for name, err := range calls {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", name, err)
			}
		}
		if s.DiskUsage() != 0 {
			t.Errorf("DiskUsage after Close = %d, want 0", s.DiskUsage())
		}
	})

	t.Run("Close waits for a view in progress", func(t *testing.T) {
		s := openMem(t)
		mustPut(t, s, testPage("desktop|k", t0))
		inView, release := make(chan struct{}), make(chan struct{})
		viewDone := make(chan error)
		go func() {
			viewDone <- s.ViewPage("desktop|k", func(v *PageView) error {
				close(inView)
				<-release
				if len(mustBody(v.Plain())) == 0 {
					return errors.New("empty body")
				}
				return nil
			})
		}()
		<-inView
		closed := make(chan error)
		go func() { closed <- s.Close() }()
		select {
		case err := <-closed:
			t.Fatalf("Close returned %v while a view was in progress", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		if err := <-viewDone; err != nil {
			t.Fatal(err)
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a scan callback that writes after Close began gets ErrClosed instead of deadlocking", func(t *testing.T) {
		s := openMem(t)
		mustPut(t, s, testPage("desktop|a", t0.Add(-time.Hour)))
		mustPut(t, s, testPage("desktop|b", t0.Add(-time.Minute)))
		closed := make(chan error)
		var putErr error
		err := s.ScanDue(t0, func(key string, _ time.Time) bool {
			if key == "desktop|a" {
				go func() { closed <- s.Close() }()
				for !s.closed.Load() {
					time.Sleep(time.Millisecond)
				}
				return true
			}
			putErr = s.PutPage(testPage(key, t0))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(putErr, ErrClosed) {
			t.Errorf("PutPage from the scan = %v, want ErrClosed", putErr)
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
	})
}

func TestDiskUsageAndFreeBytes(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir, Options{})
	defer s.Close()
	for i := range 20 {
		p := testPage(fmt.Sprint("desktop|", i), t0)
		// Random, so that its gzip, which is what is stored, is as big.
		p.Plain = make([]byte, 20000)
		_, _ = cryptorand.Read(p.Plain)
		mustPut(t, s, p)
	}
	if u := s.DiskUsage(); u < 20*4000 {
		t.Errorf("DiskUsage = %d after 20 pages, want at least their WAL", u)
	}
	if f, err := s.FreeBytes(); err != nil || f <= 0 {
		t.Errorf("FreeBytes = %d, %v", f, err)
	}
	m := openMem(t)
	if f, err := m.FreeBytes(); err != nil || f != inMemoryFreeBytes {
		t.Errorf("in-memory FreeBytes = %d, %v, want the large constant", f, err)
	}
}

// TestKeyspaceUsesOnlyKnownPrefixes guards the layout in doc.go.
func TestKeyspaceUsesOnlyKnownPrefixes(t *testing.T) {
	s := openMem(t)
	mustPut(t, s, testPage("desktop|a", t0))
	_ = s.PutMeta("mobile|b", Meta{})
	known := []string{prefixPage, prefixIndex, prefixMeta, prefixDue, prefixQueue, prefixSitemap, prefixSetting, prefixCounter}
	for _, k := range rawKeys(t, s) {
		ok := false
		for _, p := range known {
			ok = ok || strings.HasPrefix(k, p)
		}
		if !ok {
			t.Errorf("key %q has no known prefix", k)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, filepath.Join(dir, "store"), Options{})
	for i := range 20 {
		p := testPage(fmt.Sprintf("desktop|https://shop.example/p/%03d", i), t0)
		p.Plain = htmlBody(uint64(i), 5000)
		mustPut(t, s, p)
	}
	copyDir := filepath.Join(dir, "copy")
	if err := s.Checkpoint(copyDir); err != nil {
		t.Fatal(err)
	}
	t.Run("a checkpoint into a directory that exists is refused", func(t *testing.T) {
		err := s.Checkpoint(copyDir)
		if err == nil || !strings.Contains(err.Error(), "cannot checkpoint storage") {
			t.Fatalf("Checkpoint into an existing directory = %v, want an error", err)
		}
	})
	if err := s.DeletePage("desktop|https://shop.example/p/000"); err != nil {
		t.Fatal(err)
	}
	c := openDisk(t, copyDir, Options{})
	defer c.Close()
	t.Run("the copy has the pages and counters of the moment it was made", func(t *testing.T) {
		if got := c.PageCount(); got != 20 {
			t.Fatalf("PageCount of the copy = %d, want 20", got)
		}
		p, err := c.GetPage("desktop|https://shop.example/p/000")
		if err != nil || string(p.Plain) != string(htmlBody(0, 5000)) {
			t.Fatalf("page deleted after the checkpoint: %v", err)
		}
	})
	t.Run("writes to the copy leave the store as it was", func(t *testing.T) {
		if err := c.DeletePage("desktop|https://shop.example/p/001"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetPage("desktop|https://shop.example/p/001"); err != nil {
			t.Fatalf("the store lost a page deleted in its copy: %v", err)
		}
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("a closed store is not checkpointed", func(t *testing.T) {
		if err := s.Checkpoint(filepath.Join(dir, "late")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Checkpoint after Close = %v, want ErrClosed", err)
		}
	})
}

func TestOpenLogsTheIndexSizeBesideTheBlockCache(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir, Options{})
	for i := range 200 {
		p := testPage(fmt.Sprintf("desktop|https://shop.example/p/%04d", i), t0)
		p.Plain = htmlBody(uint64(i), 8000)
		mustPut(t, s, p)
	}
	if err := s.Close(); err != nil { // flushes: the pages are in tables
		t.Fatal(err)
	}
	open := func(blockCache int64) (*Store, string) {
		var buf bytes.Buffer
		s, err := Open(Options{Dir: dir, BlockCache: blockCache, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		if err != nil {
			t.Fatal(err)
		}
		<-s.indexed // its log line written: the buffer is read next
		return s, buf.String()
	}
	s, log := open(0)
	index, err := s.IndexBytes()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("the tables' index and filter bytes are counted", func(t *testing.T) {
		if err != nil || index <= 0 {
			t.Fatalf("IndexBytes = %d, %v; want the size of the tables' index and filter blocks", index, err)
		}
		if !strings.Contains(log, fmt.Sprintf("index_bytes=%d", index)) || !strings.Contains(log, "block_cache=67108864") {
			t.Fatalf("the storage opened line does not give the index and block cache sizes:\n%s", log)
		}
	})
	t.Run("a closed store has no index to count", func(t *testing.T) {
		if _, err := s.IndexBytes(); !errors.Is(err, ErrClosed) {
			t.Fatalf("IndexBytes after Close = %v, want ErrClosed", err)
		}
	})
}
