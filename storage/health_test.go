package storage

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestHealthReportsWhatPebbleDoes(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir, Options{})
	const n = 20
	key := func(i int) string { return fmt.Sprintf("desktop|https://shop.example/h/%03d", i) }
	for i := range n {
		p := testPage(key(i), t0.Add(time.Duration(i)*time.Minute))
		p.Plain = htmlBody(uint64(i), 4000)
		mustPut(t, s, p)
	}
	h, err := s.Health()
	if err != nil {
		t.Fatal(err)
	}
	if h.WALWrittenBytes == 0 || h.WALFiles == 0 || h.MemtableBytes == 0 {
		t.Errorf("after %d writes the WAL and memtable are empty: %+v", n, h)
	}
	// Close flushes: the pages are in tables when it opens again, and reading
	// them twice misses the block cache, then hits it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDisk(t, dir, Options{})
	defer s.Close()
	for range 2 {
		for i := range n {
			if _, err := s.GetPage(key(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	h, err = s.Health()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"there are live tables", h.Tables > 0},
		{"a read looks at one level at least", h.ReadAmp >= 1},
		{"the block cache missed", h.BlockCacheMisses > 0},
		{"the block cache hit", h.BlockCacheHits > 0},
		{"the block cache holds blocks", h.BlockCacheBytes > 0},
		{"the files take disk space", h.DiskBytes > 0},
		{"no counter is negative", h.Compactions >= 0 && h.Flushes >= 0 && h.CompactionsInProgress >= 0},
	} {
		if !c.ok {
			t.Errorf("%s: %+v", c.name, h)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Health(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Health after Close: %v, want ErrClosed", err)
	}
}
