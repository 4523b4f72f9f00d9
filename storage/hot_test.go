package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOldRecordsStillRead opens a store written by the storage package before
// issue 17 (testdata/store-v2: page records of versions 1 and 2, which kept
// every body plain and gzipped) and reads every page back whole, with the
// hot-body cache on and off: an upgrade loses no cached page.
func TestOldRecordsStillRead(t *testing.T) {
	raw, err := os.ReadFile("testdata/store-v2/pages.json")
	if err != nil {
		t.Fatal(err)
	}
	var pages []struct {
		Key, URL, ETag, Plain, Markdown string
		Status                          int
		Header                          http.Header
		Prerendered                     bool
		RenderedAt, ExpiresAt           time.Time
	}
	if err := json.Unmarshal(raw, &pages); err != nil {
		t.Fatal(err)
	}
	for _, hot := range []int64{0, -1} {
		t.Run(fmt.Sprintf("with storage.hot_cache %d (0 = default, -1 = off)", hot), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS("testdata/store-v2/data")); err != nil {
				t.Fatal(err)
			}
			s := openDisk(t, dir, Options{HotCache: hot})
			defer s.Close()
			if n := s.PageCount(); n != int64(len(pages)) {
				t.Errorf("PageCount = %d, want %d", n, len(pages))
			}
			for _, w := range pages {
				for round := range 2 { // the second from the hot-body cache, when on
					err := s.ViewPage(w.Key, func(v *PageView) error {
						got := []any{v.URL, v.ETag, string(mustBody(v.Plain())), string(mustBody(v.Markdown())), v.Status,
							v.Prerendered, v.RenderedAt.UTC(), v.ExpiresAt.UTC(), string(gunzipped(t, v.Gzip))}
						want := []any{w.URL, w.ETag, w.Plain, w.Markdown, w.Status, w.Prerendered, w.RenderedAt, w.ExpiresAt, w.Plain}
						if !reflect.DeepEqual(got, want) {
							t.Errorf("round %d: %s reads %q, want %q", round, w.Key, got, want)
						}
						if len(w.Header) > 0 && !reflect.DeepEqual(v.Header, w.Header) {
							t.Errorf("%s: header %v, want %v", w.Key, v.Header, w.Header)
						}
						if v.HasMarkdown() && string(gunzipped(t, v.MarkdownGzip)) != w.Markdown {
							t.Errorf("%s: the Markdown gzip is not its Markdown", w.Key)
						}
						return nil
					})
					if err != nil {
						t.Fatalf("ViewPage(%q) = %v", w.Key, err)
					}
				}
			}
			// An old record is still written to as before: served, and given
			// its Markdown (rewritten as version 3).
			if err := s.MarkServed(pages[0].Key); err != nil {
				t.Fatal(err)
			}
			if err := s.SetPageMarkdown(pages[1].Key, pages[1].ETag, []byte("# Big\n")); err != nil {
				t.Fatal(err)
			}
			p0, p1 := mustGet(t, s, pages[0].Key), mustGet(t, s, pages[1].Key)
			if p0.Prerendered || string(p0.Plain) != pages[0].Plain || string(p1.Markdown) != "# Big\n" || string(p1.Plain) != pages[1].Plain {
				t.Errorf("after MarkServed and SetPageMarkdown: prerendered %v, Markdown %q, bodies kept %v",
					p0.Prerendered, p1.Markdown, string(p0.Plain) == pages[0].Plain && string(p1.Plain) == pages[1].Plain)
			}
		})
	}
}

func mustGet(t *testing.T, s *Store, key string) *Page {
	t.Helper()
	p, err := s.GetPage(key)
	if err != nil {
		t.Fatalf("GetPage(%q) = %v", key, err)
	}
	return p
}

// viewPlain is what a plain client of key is answered from.
func viewPlain(t *testing.T, s *Store, key string) (string, error) {
	t.Helper()
	var body string
	err := s.ViewPage(key, func(v *PageView) error {
		b, err := v.Plain()
		body = string(b)
		return err
	})
	return body, err
}

// TestTheHotCacheIsNeverStale: every write of a page (a re-render, a delete,
// a bulk clear, its Markdown, its served flag) is seen by the next read, which
// the cache would otherwise answer from memory.
func TestTheHotCacheIsNeverStale(t *testing.T) {
	s := openMem(t)
	key := "desktop|https://shop.example/p/1"
	put := func(body string) {
		p := testPage(key, t0.Add(time.Hour))
		p.Plain = []byte(body)
		p.Prerendered = true
		mustPut(t, s, p)
	}
	read := func(want string) {
		t.Helper()
		for range 2 {
			got, err := viewPlain(t, s, key)
			if err != nil || got != want {
				t.Fatalf("read %q, %v; want %q", got, err, want)
			}
		}
	}
	put("first render")
	read("first render")
	before := s.HotCacheStats()
	read("first render")
	if after := s.HotCacheStats(); after.Hits < before.Hits+2 || after.Bytes <= 0 {
		t.Fatalf("the hot cache did not answer: %+v then %+v", before, after)
	}
	tests := []struct {
		name  string
		write func()
		check func()
	}{
		{"a re-render is answered at once", func() { put("second render") }, func() { read("second render") }},
		{"the served flag is cleared at once", func() { mustNil(t, s.MarkServed(key)) }, func() {
			_ = s.ViewPage(key, func(v *PageView) error {
				if v.Prerendered {
					t.Error("still Prerendered after MarkServed")
				}
				return nil
			})
		}},
		{"Markdown stored afterwards is answered at once", func() {
			var etag string
			_ = s.ViewPage(key, func(v *PageView) error { etag = v.ETag; return nil })
			mustNil(t, s.SetPageMarkdown(key, etag, []byte("# Second\n")))
		}, func() {
			_ = s.ViewPage(key, func(v *PageView) error {
				if md := mustBody(v.Markdown()); string(md) != "# Second\n" {
					t.Errorf("Markdown %q after SetPageMarkdown", md)
				}
				return nil
			})
		}},
		{"a purge is answered at once", func() { mustNil(t, s.DeletePage(key)) }, func() {
			if _, err := viewPlain(t, s, key); !errors.Is(err, ErrNotFound) {
				t.Errorf("after DeletePage: %v, want ErrNotFound", err)
			}
		}},
		{"a bulk clear is answered at once", func() {
			put("third render")
			read("third render")
			_, err := s.DeletePages([]string{key})
			mustNil(t, err)
		}, func() {
			if _, err := viewPlain(t, s, key); !errors.Is(err, ErrNotFound) {
				t.Errorf("after DeletePages: %v, want ErrNotFound", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.write()
			tc.check()
		})
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestAReadRacingARenderNeverPutsTheOldPageBack: readers that missed the cache
// and read the old page while a new one was stored must not leave the old one
// in the cache: once PutPage returns, every read sees the new page (or a newer).
func TestAReadRacingARenderNeverPutsTheOldPageBack(t *testing.T) {
	s := openMem(t)
	key := "desktop|https://shop.example/race"
	var stored atomic.Int64 // the last version PutPage returned from
	put := func(n int64) {
		p := testPage(key, t0.Add(time.Hour))
		p.Plain = fmt.Appendf(nil, "%08d", n)
		mustPut(t, s, p)
		stored.Store(n)
	}
	put(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := stored.Load()
				got, err := viewPlain(t, s, key)
				var n int64
				if _, perr := fmt.Sscanf(got, "%d", &n); err != nil || perr != nil || n < floor {
					t.Errorf("read version %q (%v) after version %d was stored", got, err, floor)
					return
				}
			}
		})
	}
	for n := int64(1); n <= 40; n++ {
		put(n)
	}
	close(stop)
	wg.Wait()
}

// TestTheHotCacheStaysWithinItsBytes fills a small cache with many pages,
// plain bodies made too: it never holds more than its capacity.
func TestTheHotCacheStaysWithinItsBytes(t *testing.T) {
	const capacity = 512 << 10
	s, err := Open(Options{InMemory: true, HotCache: capacity, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 150 {
		p := testPage(fmt.Sprintf("desktop|https://shop.example/p/%d", i), t0.Add(time.Hour))
		p.Plain = htmlBody(uint64(i), 6<<10)
		mustPut(t, s, p)
		for range 3 { // joins on the second read, hit on the third
			got, err := viewPlain(t, s, p.Key)
			if err != nil || got != string(p.Plain) {
				t.Fatalf("page %d reads %d bytes, %v", i, len(got), err)
			}
		}
		if st := s.HotCacheStats(); st.Bytes > st.Capacity || st.Capacity != capacity {
			t.Fatalf("after %d pages the cache holds %d bytes, over its %d", i+1, st.Bytes, st.Capacity)
		}
	}
	if st := s.HotCacheStats(); st.Hits == 0 || st.Misses == 0 || st.Bytes < capacity/2 {
		t.Errorf("stats %+v: want hits, misses, and a cache at least half full", st)
	}
}

// TestWithTheHotCacheOffPlainClientsStillGetTheBody: storage.hot_cache = 0
// turns the cache off; every read gunzips, and a big page is read whole.
func TestWithTheHotCacheOffPlainClientsStillGetTheBody(t *testing.T) {
	s, err := Open(Options{InMemory: true, HotCache: -1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, n := range []int{0, 1, 30 << 10, maxPooledBody + 1} {
		p := testPage(fmt.Sprintf("desktop|https://shop.example/size/%d", i), t0.Add(time.Hour))
		p.Plain = htmlBody(uint64(i), n)[:n]
		mustPut(t, s, p)
		for range 2 {
			got, err := viewPlain(t, s, p.Key)
			if err != nil || got != string(p.Plain) {
				t.Fatalf("a page of %d bytes reads %d bytes, %v", n, len(got), err)
			}
		}
	}
	if st := s.HotCacheStats(); st != (HotCacheStats{}) {
		t.Errorf("stats of a cache that is off: %+v", st)
	}
}

// TestADamagedBodyIsAnErrorNotAPanic: a version 3 record whose gzip is damaged
// reads as a clear error from Plain, and the other pages are unharmed.
func TestADamagedBodyIsAnErrorNotAPanic(t *testing.T) {
	s := openMem(t)
	good := testPage("desktop|https://shop.example/good", t0.Add(time.Hour))
	bad := testPage("desktop|https://shop.example/bad", t0.Add(time.Hour))
	mustPut(t, s, good)
	mustPut(t, s, bad)
	k := appendKey(nil, prefixPage, bad.Key)
	val := rawValue(t, s, k)
	var f pageFields
	mustNil(t, decodePage(val, &f))
	g := len(val) - len(f.gzip)
	copy(val[g+10:], bytes.Repeat([]byte{0xff}, 8)) // the deflate stream, past the gzip header
	// Stored inline, as a store from before the body segments holds it.
	mustNil(t, s.db.Set(k, val, nil))
	s.bodies.idx.remove(bad.Key)
	s.hot.invalidate(bad.Key)
	for range 2 {
		if _, err := viewPlain(t, s, bad.Key); err == nil {
			t.Fatal("a damaged body read without an error")
		}
	}
	if got, err := viewPlain(t, s, good.Key); err != nil || got != string(good.Plain) {
		t.Errorf("the good page reads %q, %v", got, err)
	}
}

// BenchmarkViewPageHot is BenchmarkViewPage's page served to plain and gzip
// clients, from the hot-body cache and, cache off, from Pebble (gunzip per
// read for plain clients).
func BenchmarkViewPageHot(b *testing.B) {
	for _, hot := range []int64{0, -1} {
		s, err := Open(Options{InMemory: true, HotCache: hot})
		if err != nil {
			b.Fatal(err)
		}
		plain := htmlBody(1, 30<<10)
		p := &Page{Key: "desktop|https://shop.example/p/1", Status: 200, ExpiresAt: t0.Add(time.Hour), Plain: plain}
		mustPut(b, s, p)
		for _, wantPlain := range []bool{true, false} {
			name := fmt.Sprintf("hot_cache=%v/plain=%v", hot >= 0, wantPlain)
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						err := s.ViewPage(p.Key, func(v *PageView) error {
							n := len(v.Gzip)
							if wantPlain {
								body, err := v.Plain()
								if err != nil {
									return err
								}
								n = len(body)
							}
							if n == 0 {
								return errors.New("empty")
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
		s.Close()
	}
}

// TestAPageJoinsTheCacheOnItsSecondRead: a page read once (a scan, a random
// key of a store far bigger than the cache) is not copied into it.
func TestAPageJoinsTheCacheOnItsSecondRead(t *testing.T) {
	s := openMem(t)
	p := testPage("desktop|https://shop.example/once", t0.Add(time.Hour))
	mustPut(t, s, p)
	for i, want := range []int64{0, 1, 1} {
		if _, err := viewPlain(t, s, p.Key); err != nil {
			t.Fatal(err)
		}
		if st := s.HotCacheStats(); (st.Bytes > 0) != (want > 0) || st.Hits != uint64(max(i-1, 0)) {
			t.Errorf("after read %d: %+v, want the page cached: %v", i+1, st, want > 0)
		}
	}
}

// TestABigPageIsGunzippedOnceForManyPlainClients: an 8 MiB page asked for by
// many plain clients at once is gunzipped once and kept (the budget is one
// over the whole cache), not once per client and per request.
func TestABigPageIsGunzippedOnceForManyPlainClients(t *testing.T) {
	s := openMem(t)
	p := testPage("desktop|https://shop.example/big", t0.Add(time.Hour))
	p.Plain = bytes.Repeat([]byte("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n"), 8<<20/64)
	mustPut(t, s, p)
	for range 2 { // a page joins the cache on its second read
		mustNil(t, s.ViewPage(p.Key, func(*PageView) error { return nil }))
	}
	bodies := make([][]byte, 20)
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			_ = s.ViewPage(p.Key, func(v *PageView) error {
				body, err := v.Plain()
				if err != nil {
					t.Error(err)
				}
				bodies[i] = body
				return nil
			})
		})
	}
	wg.Wait()
	for i, b := range bodies {
		if !bytes.Equal(b, p.Plain) {
			t.Fatalf("client %d got %d bytes, want %d", i, len(b), len(p.Plain))
		}
		if &b[0] != &bodies[0][0] {
			t.Errorf("client %d got a body of its own: gunzipped again", i)
		}
	}
	if st := s.HotCacheStats(); st.Bytes < int64(len(p.Plain)) {
		t.Errorf("the cache holds %d bytes, not the %d of the page's plain body", st.Bytes, len(p.Plain))
	}
}
