package storage

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkViewPage is the storage half of a cache hit: one Get of a 30 KB page and
// a view of it, from parallel readers.
func BenchmarkViewPage(b *testing.B) {
	s := openDisk(b, b.TempDir(), Options{})
	plain := htmlBody(1, 30<<10)
	p := &Page{Key: "desktop|https://shop.example/p/1", Status: 200, ExpiresAt: t0.Add(time.Hour), Plain: plain}
	mustPut(b, s, p)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := s.ViewPage(p.Key, func(v *PageView) error {
				if len(mustBody(v.Plain())) != len(plain) {
					return fmt.Errorf("short view")
				}
				return nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

var (
	manyPagesOnce sync.Once
	manyPagesDir  string
	manyPagesErr  error
)

const manyPages = 100_000

// manyPagesStore writes 100k pages of 2 KB once per test binary and returns the dir.
func manyPagesStore(b *testing.B) string {
	manyPagesOnce.Do(func() {
		manyPagesDir, manyPagesErr = os.MkdirTemp("", "prerenderd-bench-*")
		if manyPagesErr != nil {
			return
		}
		s, err := Open(Options{Dir: manyPagesDir, Logger: testLogger(b)})
		if err != nil {
			manyPagesErr = err
			return
		}
		plain := htmlBody(1, 2000)
		gz := gzipped(b, plain)
		etag := bodyETag(plain)
		for i := range manyPages {
			p := &Page{Key: fmt.Sprintf("desktop|https://shop.example/p/%06d", i), Status: 200,
				ExpiresAt: t0.Add(time.Duration(i) * time.Second), Plain: plain, Gzip: gz, ETag: etag}
			// Unsynced: the benchmark is about Open, not about 100k fsyncs.
			if err := s.putPage(p, pebble.NoSync); err != nil {
				manyPagesErr = err
				return
			}
		}
		manyPagesErr = s.Close()
	})
	if manyPagesErr != nil {
		b.Fatal(manyPagesErr)
	}
	return manyPagesDir
}

// BenchmarkOpen100kPages is the start-up cost of a cache of 100k pages: Open reads
// the persisted page counters (counters.go) instead of counting the summaries, so
// it must not grow with the page count (make bench-scale measures it at a million).
func BenchmarkOpen100kPages(b *testing.B) {
	dir := manyPagesStore(b)
	b.ResetTimer()
	for range b.N {
		s, err := Open(Options{Dir: dir, Logger: testLogger(b)})
		if err != nil {
			b.Fatal(err)
		}
		if s.PageCount() != manyPages {
			b.Fatalf("PageCount = %d, want %d", s.PageCount(), manyPages)
		}
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkFlushHits is a shard's flush of hits on random keys, a key per hit:
// AddHits key by key (the baseline, as flushes were) against AddHitsBatch.
func BenchmarkFlushHits(b *testing.B) {
	s := openDisk(b, b.TempDir(), Options{})
	defer s.Close()
	const keys = 2000
	hits := make([]Hits, keys)
	for i := range keys {
		p := &Page{Key: fmt.Sprintf("desktop|https://shop.example/p/%06d", i), Status: 200, ExpiresAt: t0.Add(time.Hour), Plain: htmlBody(uint64(i), 2000)}
		if err := s.putPage(p, pebble.NoSync); err != nil {
			b.Fatal(err)
		}
		hits[i] = Hits{Key: p.Key, N: 1, Last: t0}
	}
	b.Run("AddHits per key (baseline)", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, h := range hits {
				if err := s.AddHits(h.Key, h.N, h.Last); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*keys), "ns/key")
	})
	b.Run("AddHitsBatch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.AddHitsBatch(hits); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*keys), "ns/key")
	})
}
