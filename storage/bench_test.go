package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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

// BenchmarkViewPageRandom is the storage half of a hit on a random key of many
// (the hot cache off, so every read goes to the store): the body store's index
// and one pread, against the baseline beside it, the same records inline in
// Pebble's p/ as every store held them before the body segments (README
// "Performance at a million pages" has the figure through the binary).
func BenchmarkViewPageRandom(b *testing.B) {
	const pages = 20_000
	plain := htmlBody(1, 30<<10)
	gz := gzipped(b, plain)
	etag := bodyETag(plain)
	page := func(i int) *Page {
		return &Page{Key: fmt.Sprintf("desktop|https://host%d.example/p/%06d", i%1000, i), URL: "https://shop.example/",
			Status: 200, ExpiresAt: t0.Add(time.Hour), Plain: plain, Gzip: gz, ETag: etag}
	}
	dir := b.TempDir()
	// The baseline: inline records, written as a binary before the body store did.
	inline := filepath.Join(dir, "inline")
	db, err := pebble.Open(inline, pebbleOptions(nil, pebbleLogger{testLogger(b)}))
	if err != nil {
		b.Fatal(err)
	}
	for from := 0; from < pages; from += 500 {
		batch := db.NewBatch()
		for i := from; i < from+500; i++ {
			p := page(i)
			val, err := encodePage(p, nil)
			if err != nil {
				b.Fatal(err)
			}
			_ = batch.Set(appendKey(nil, prefixPage, p.Key), val, nil)
			_ = batch.Set(appendKey(nil, prefixIndex, p.Key), encodeSummary(PageMeta{URL: p.URL, Status: 200, ExpiresAt: p.ExpiresAt, Size: len(val)}), nil)
		}
		if err := batch.Commit(pebble.NoSync); err != nil {
			b.Fatal(err)
		}
		_ = batch.Close()
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	segmented := filepath.Join(dir, "segments")
	s := openDisk(b, segmented, Options{})
	for from := 0; from < pages; from += 100 {
		batch := make([]*Page, 0, 100)
		for i := from; i < from+100; i++ {
			batch = append(batch, page(i))
		}
		if err := s.PutPages(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, dir string }{
		{"inline in Pebble (baseline)", inline},
		{"index and pread", segmented},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := openDisk(b, c.dir, Options{HotCache: -1})
			defer s.Close()
			var seed atomic.Uint64
			b.SetBytes(int64(len(gz)))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(seed.Add(1), 7))
				keys := make([]string, 1024)
				for i := range keys {
					keys[i] = page(r.IntN(pages)).Key
				}
				for i := 0; pb.Next(); i++ {
					err := s.ViewPage(keys[i%len(keys)], func(v *PageView) error {
						if len(v.Gzip) != len(gz) {
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
		})
	}
}
