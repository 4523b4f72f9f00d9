package storage

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPutPageThenGetPageReturnsEveryField(t *testing.T) {
	plain := htmlBody(1, 4000)
	gz := gzipped(t, plain)
	tests := []struct {
		name string
		in   Page
		want Page // fields the store must return; Key is filled from in
	}{
		{
			name: "every field set comes back as stored",
			in: Page{
				Key: "desktop|https://shop.example/p/1", URL: "https://shop.example/p/1", Status: 200,
				Header:     http.Header{"X-Custom": {"a", "b"}, "Link": {"</x.css>; rel=preload"}},
				RenderedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), RenderTime: 1234567 * time.Microsecond,
				Gzip: gz, Plain: plain, ETag: `"given"`,
			},
			want: Page{
				URL: "https://shop.example/p/1", Status: 200,
				Header:     http.Header{"X-Custom": {"a", "b"}, "Link": {"</x.css>; rel=preload"}},
				RenderedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), RenderTime: 1234567 * time.Microsecond,
				Gzip: gz, Plain: plain, ETag: `"given"`,
			},
		},
		{
			name: "a redirect keeps its Location header under the canonical name",
			in: Page{
				Key: "mobile|https://shop.example/old", URL: "https://shop.example/old", Status: 301,
				Header:    http.Header{"location": {"https://shop.example/new"}, "X-Empty": {}},
				ExpiresAt: t0,
			},
			want: Page{
				URL: "https://shop.example/old", Status: 301,
				Header:    http.Header{"Location": {"https://shop.example/new"}},
				ExpiresAt: t0, Gzip: gzipped(t, nil), Plain: []byte{}, ETag: bodyETag(nil),
			},
		},
		{
			name: "only a plain body given gets its gzip and ETag derived",
			in:   Page{Key: "k|plain", Status: 200, ExpiresAt: t0, Plain: plain},
			want: Page{Status: 200, ExpiresAt: t0, Gzip: nil, Plain: plain, ETag: bodyETag(plain)},
		},
		{
			name: "only a gzip body given gets its plain body and ETag derived",
			in:   Page{Key: "k|gzip", Status: 404, ExpiresAt: t0, Gzip: gz},
			want: Page{Status: 404, ExpiresAt: t0, Gzip: gz, Plain: plain, ETag: bodyETag(plain)},
		},
		{
			name: "a zero RenderedAt stays zero",
			in:   Page{Key: "k|zero", Status: 200, ExpiresAt: t0, Plain: []byte("x")},
			want: Page{Status: 200, ExpiresAt: t0, Plain: []byte("x"), ETag: bodyETag([]byte("x"))},
		},
		{
			name: "a time before 1970 and a negative render time survive",
			in: Page{Key: "k|old", Status: 200, RenderedAt: time.Date(1901, 1, 1, 0, 0, 0, 1, time.UTC),
				ExpiresAt: time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), RenderTime: -time.Second, Plain: []byte("x")},
			want: Page{Status: 200, RenderedAt: time.Date(1901, 1, 1, 0, 0, 0, 1, time.UTC),
				ExpiresAt: time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), RenderTime: -time.Second,
				Plain: []byte("x"), ETag: bodyETag([]byte("x"))},
		},
		{
			name: "an expiry past 2262 is clamped to the last representable time",
			in:   Page{Key: "k|far", Status: 200, ExpiresAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Plain: []byte("x")},
			want: Page{Status: 200, ExpiresAt: maxTime, Plain: []byte("x"), ETag: bodyETag([]byte("x"))},
		},
	}
	s := openMem(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			mustPut(t, s, &in)
			got, err := s.GetPage(tc.in.Key)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Key = tc.in.Key
			if want.Gzip == nil {
				// Derived gzip: check that it holds the plain body.
				want.Gzip = got.Gzip
				if !bytes.Equal(gunzipped(t, got.Gzip), want.Plain) {
					t.Errorf("derived gzip does not hold the plain body")
				}
			}
			comparePage(t, got, &want)
			if in.ETag != want.ETag {
				t.Errorf("PutPage set p.ETag = %q, want %q", in.ETag, want.ETag)
			}
		})
	}
}

func comparePage(t *testing.T, got, want *Page) {
	t.Helper()
	if got.Key != want.Key || got.URL != want.URL || got.Status != want.Status ||
		got.RenderTime != want.RenderTime || got.ETag != want.ETag {
		t.Errorf("scalars = {%q %q %d %v %q}, want {%q %q %d %v %q}",
			got.Key, got.URL, got.Status, got.RenderTime, got.ETag,
			want.Key, want.URL, want.Status, want.RenderTime, want.ETag)
	}
	if !got.RenderedAt.Equal(want.RenderedAt) || got.RenderedAt.IsZero() != want.RenderedAt.IsZero() {
		t.Errorf("RenderedAt = %v, want %v", got.RenderedAt, want.RenderedAt)
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, want.ExpiresAt)
	}
	if !headerEqual(got.Header, want.Header) {
		t.Errorf("Header = %v, want %v", got.Header, want.Header)
	}
	if !bytes.Equal(got.Gzip, want.Gzip) {
		t.Errorf("Gzip differs: %d bytes, want %d", len(got.Gzip), len(want.Gzip))
	}
	if !bytes.Equal(got.Plain, want.Plain) {
		t.Errorf("Plain differs: %d bytes, want %d", len(got.Plain), len(want.Plain))
	}
}

func TestPutPageRefusesAnInvalidPage(t *testing.T) {
	tests := []struct {
		name string
		page Page
		want string
	}{
		{"a page without a key is refused", Page{Status: 200, ExpiresAt: t0}, "empty Key"},
		{"a page with status 0 is refused", Page{Key: "k", ExpiresAt: t0}, "status 0"},
		{"a page with status 1000 is refused", Page{Key: "k", Status: 1000, ExpiresAt: t0}, "status 1000"},
		{"a page without an expiry is refused", Page{Key: "k", Status: 200}, "no ExpiresAt"},
		{"a page whose gzip body is not gzip is refused", Page{Key: "k", Status: 200, ExpiresAt: t0, Gzip: []byte("nope")}, "cannot gunzip"},
	}
	s := openMem(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.PutPage(&tc.page)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PutPage = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if keys := rawKeys(t, s); len(keys) != 0 || s.PageCount() != 0 {
		t.Errorf("refused pages left keys %q, count %d", keys, s.PageCount())
	}
}

func TestViewPage(t *testing.T) {
	s := openMem(t)
	plain := htmlBody(2, 30<<10)
	stored := &Page{
		Key: "desktop|https://shop.example/", URL: "https://shop.example/", Status: 200,
		Header:     http.Header{"Location": {"https://shop.example/x"}},
		RenderedAt: t0, ExpiresAt: t0.Add(time.Hour), Plain: plain,
	}
	mustPut(t, s, stored)
	bare := &Page{Key: "desktop|bare", Status: 200, ExpiresAt: t0, Plain: plain}
	mustPut(t, s, bare)

	t.Run("the view shows every stored field", func(t *testing.T) {
		err := s.ViewPage(stored.Key, func(v *PageView) error {
			if v.Status != 200 || v.URL != stored.URL || v.ETag != stored.ETag ||
				!v.RenderedAt.Equal(t0) || !v.ExpiresAt.Equal(t0.Add(time.Hour)) {
				t.Errorf("view = %+v", *v)
			}
			if !headerEqual(v.Header, stored.Header) {
				t.Errorf("Header = %v, want %v", v.Header, stored.Header)
			}
			if !bytes.Equal(mustBody(v.Plain()), plain) || !bytes.Equal(v.Gzip, stored.Gzip) {
				t.Errorf("bodies differ")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a page without stored headers has a nil Header", func(t *testing.T) {
		_ = s.ViewPage(bare.Key, func(v *PageView) error {
			if v.Header != nil {
				t.Errorf("Header = %v, want nil", v.Header)
			}
			return nil
		})
	})
	t.Run("a missing key returns ErrNotFound without calling fn", func(t *testing.T) {
		err := s.ViewPage("desktop|missing", func(*PageView) error {
			t.Error("fn called")
			return nil
		})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("ViewPage = %v, want ErrNotFound", err)
		}
	})
	t.Run("the error of fn is returned as is", func(t *testing.T) {
		sentinel := errors.New("client went away")
		if err := s.ViewPage(bare.Key, func(*PageView) error { return sentinel }); err != sentinel {
			t.Fatalf("ViewPage = %v, want the error of fn", err)
		}
	})
	t.Run("a view does not copy the bodies", func(t *testing.T) {
		// Warm the pools and the block cache.
		for range 10 {
			_ = s.ViewPage(bare.Key, func(*PageView) error { return nil })
		}
		const n = 200
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			_ = s.ViewPage(bare.Key, func(v *PageView) error {
				if len(mustBody(v.Plain())) != len(plain) {
					t.Error("short view")
				}
				return nil
			})
		}
		runtime.ReadMemStats(&after)
		perView := (after.TotalAlloc - before.TotalAlloc) / n
		// A copy of the bodies would cost 30 KB or more. Without the race detector a
		// view costs under 1 KiB; with it (make test), sync.Pool drops items at
		// random and instrumentation allocates, so the bound is a tenth of a copy.
		limit := uint64(1 << 10)
		if raceEnabled {
			limit = uint64(len(plain)) / 10
		}
		if perView > limit {
			t.Errorf("a view of a %d-byte page allocates %d bytes, want < %d", len(plain), perView, limit)
		}
	})
}

func TestDeletePageLeavesNothingOfTheKey(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Store, key string)
	}{
		{"a stored page loses its p/, i/, d/ and m/ keys", func(t *testing.T, s *Store, key string) {
			mustPut(t, s, testPage(key, t0))
		}},
		{"a page stored twice with different expiries loses every key", func(t *testing.T, s *Store, key string) {
			mustPut(t, s, testPage(key, t0))
			mustPut(t, s, testPage(key, t0.Add(time.Hour)))
		}},
		{"a page with extra metadata loses its m/ key", func(t *testing.T, s *Store, key string) {
			mustPut(t, s, testPage(key, t0))
			if err := s.PutMeta(key, Meta{Hits: 9, Source: "api"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"metadata of a never stored page is removed", func(t *testing.T, s *Store, key string) {
			if err := s.PutMeta(key, Meta{LastStatus: 503, Consecutive5xx: 2}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a page whose summary was lost still loses its d/ key", func(t *testing.T, s *Store, key string) {
			mustPut(t, s, testPage(key, t0))
			if err := s.db.Delete(appendKey(nil, prefixIndex, key), nil); err != nil {
				t.Fatal(err)
			}
			s.pages.Add(-1)
		}},
		{"a key with nothing stored is not an error", func(t *testing.T, s *Store, key string) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openMem(t)
			other := testPage("desktop|https://shop.example/other", t0)
			mustPut(t, s, other)
			otherKeys := rawKeys(t, s)
			key := "desktop|https://shop.example/p/1"
			tc.setup(t, s, key)

			if err := s.DeletePage(key); err != nil {
				t.Fatal(err)
			}
			if keys := rawKeys(t, s); !slices.Equal(keys, otherKeys) {
				t.Errorf("keys after delete = %q, want only the other page's %q", keys, otherKeys)
			}
			if n := s.PageCount(); n != 1 {
				t.Errorf("PageCount = %d, want 1", n)
			}
			if _, err := s.GetPage(key); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetPage after delete = %v, want ErrNotFound", err)
			}
			if _, err := s.GetMeta(key); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetMeta after delete = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestPutPageKeepsOneDueEntryPerPage(t *testing.T) {
	tests := []struct {
		name     string
		expiries []time.Time
	}{
		{"a page stored once has one due entry", []time.Time{t0}},
		{"a page stored again with a later expiry has one due entry, at the later time", []time.Time{t0, t0.Add(time.Hour)}},
		{"a page stored again with an earlier expiry has one due entry, at the earlier time", []time.Time{t0, t0.Add(-time.Hour)}},
		{"a page stored again with the same expiry has one due entry", []time.Time{t0, t0}},
		{"a page stored five times has one due entry, at the last time", []time.Time{t0, t0.Add(1), t0.Add(-5), t0.Add(time.Minute), t0.Add(2 * time.Hour)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openMem(t)
			key := "desktop|https://shop.example/p/1"
			for _, exp := range tc.expiries {
				mustPut(t, s, testPage(key, exp))
			}
			due := keysWithPrefix(rawKeys(t, s), prefixDue)
			last := tc.expiries[len(tc.expiries)-1]
			want := []string{prefixDue + last.Format(time.RFC3339Nano) + "/" + key}
			if !slices.Equal(due, want) {
				t.Errorf("due entries = %q, want %q", due, want)
			}
			if n := s.PageCount(); n != 1 {
				t.Errorf("PageCount = %d, want 1", n)
			}
		})
	}
}

func TestScanDue(t *testing.T) {
	s := openMem(t)
	// Stored out of order, and with key order opposite to expiry order.
	offsets := map[string]time.Duration{
		"desktop|a": 3 * time.Hour, "desktop|b": -time.Hour, "desktop|c": 0,
		"desktop|d": -48 * time.Hour, "desktop|e": time.Hour, "mobile|a": -time.Nanosecond,
	}
	for key, off := range offsets {
		mustPut(t, s, testPage(key, t0.Add(off)))
	}
	scan := func(before time.Time, limit int) []string {
		var got []string
		err := s.ScanDue(before, func(key string, expires time.Time) bool {
			if !expires.Equal(t0.Add(offsets[key])) {
				t.Errorf("%s expires %v, want %v", key, expires, t0.Add(offsets[key]))
			}
			got = append(got, key)
			return len(got) < limit
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	tests := []struct {
		name   string
		before time.Time
		limit  int
		want   []string
	}{
		{"pages expired before now come oldest first, and one expiring exactly now is not due",
			t0, 100, []string{"desktop|d", "desktop|b", "mobile|a"}},
		{"a later cutoff includes every page before it",
			t0.Add(2 * time.Hour), 100, []string{"desktop|d", "desktop|b", "mobile|a", "desktop|c", "desktop|e"}},
		{"a cutoff before every expiry finds nothing", t0.Add(-72 * time.Hour), 100, nil},
		{"the scan stops when fn returns false", t0.Add(24 * time.Hour), 2, []string{"desktop|d", "desktop|b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scan(tc.before, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("ScanDue = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("a page re-stored from inside the scan is visited once", func(t *testing.T) {
		var got []string
		err := s.ScanDue(t0, func(key string, _ time.Time) bool {
			got = append(got, key)
			p := testPage(key, t0.Add(-time.Nanosecond)) // still due, moved later
			if err := s.PutPage(p); err != nil {
				t.Error(err)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"desktop|d", "desktop|b", "mobile|a"}; !slices.Equal(got, want) {
			t.Errorf("visited %q, want %q", got, want)
		}
	})
}

func TestScanPages(t *testing.T) {
	s := openMem(t)
	keys := []string{"mobile|https://b/", "desktop|https://b/", "desktop|https://a/", "desktop|https://c/"}
	for i, k := range keys {
		p := testPage(k, t0.Add(time.Duration(i)*time.Hour))
		p.Status = 200 + i
		mustPut(t, s, p)
	}
	if err := s.PutMeta("desktop|https://meta-only/", Meta{LastStatus: 500}); err != nil {
		t.Fatal(err)
	}
	scan := func(start string, limit int) []string {
		var got []string
		err := s.ScanPages(start, func(key string, m PageMeta) bool {
			i := slices.Index(keys, key)
			want := PageMeta{URL: strings.SplitN(key, "|", 2)[1], Status: 200 + i,
				RenderedAt: t0, ExpiresAt: t0.Add(time.Duration(i) * time.Hour),
				Size: len(rawValue(t, s, appendKey(nil, prefixPage, key)))}
			if m.URL != want.URL || m.Status != want.Status || !m.RenderedAt.Equal(want.RenderedAt) ||
				!m.ExpiresAt.Equal(want.ExpiresAt) || m.Size != want.Size {
				t.Errorf("meta of %s = %+v, want %+v", key, m, want)
			}
			got = append(got, key)
			return len(got) < limit
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	tests := []struct {
		name  string
		start string
		limit int
		want  []string
	}{
		{"an empty start lists every page in key order, without meta-only keys", "", 100,
			[]string{"desktop|https://a/", "desktop|https://b/", "desktop|https://c/", "mobile|https://b/"}},
		{"a start key is included", "desktop|https://b/", 100,
			[]string{"desktop|https://b/", "desktop|https://c/", "mobile|https://b/"}},
		{"a start between keys begins at the next key", "desktop|https://bb", 100,
			[]string{"desktop|https://c/", "mobile|https://b/"}},
		{"a start past every key finds nothing", "z", 100, nil},
		{"the scan stops when fn returns false", "", 1, []string{"desktop|https://a/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scan(tc.start, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("ScanPages(%q) = %q, want %q", tc.start, got, tc.want)
			}
		})
	}
}

func TestPutPageUpdatesMeta(t *testing.T) {
	tests := []struct {
		name   string
		before *Meta
		status int
		want   Meta
	}{
		{"a first page creates metadata with its status and render time", nil, 200,
			Meta{LastStatus: 200, RenderedAt: t0}},
		{"a page keeps hits, last hit and source", &Meta{LastStatus: 200, Hits: 7, LastHit: t0.Add(-time.Hour), Source: "sitemap"}, 200,
			Meta{LastStatus: 200, Hits: 7, LastHit: t0.Add(-time.Hour), Source: "sitemap", RenderedAt: t0}},
		{"a page below 500 ends a 5xx streak", &Meta{LastStatus: 503, Consecutive5xx: 3}, 404,
			Meta{LastStatus: 404, RenderedAt: t0}},
		{"a 5xx page keeps the streak for its owner to count", &Meta{LastStatus: 503, Consecutive5xx: 3}, 502,
			Meta{LastStatus: 502, Consecutive5xx: 3, RenderedAt: t0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openMem(t)
			key := "desktop|k"
			if tc.before != nil {
				if err := s.PutMeta(key, *tc.before); err != nil {
					t.Fatal(err)
				}
			}
			p := testPage(key, t0.Add(time.Hour))
			p.Status = tc.status
			mustPut(t, s, p)
			got, err := s.GetMeta(key)
			if err != nil {
				t.Fatal(err)
			}
			if !metaEqual(got, tc.want) {
				t.Errorf("meta = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func metaEqual(a, b Meta) bool {
	return a.LastStatus == b.LastStatus && a.Consecutive5xx == b.Consecutive5xx && a.Hits == b.Hits &&
		a.Source == b.Source && a.LastHit.Equal(b.LastHit) && a.RenderedAt.Equal(b.RenderedAt) &&
		a.LastHit.IsZero() == b.LastHit.IsZero() && a.RenderedAt.IsZero() == b.RenderedAt.IsZero()
}

func TestMetaRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		meta Meta
	}{
		{"empty metadata", Meta{}},
		{"every field set", Meta{LastStatus: 503, Consecutive5xx: 4, LastHit: t0, Hits: 1 << 40, Source: "api", RenderedAt: t0.Add(-time.Hour)}},
		{"a negative hit count is kept as is", Meta{Hits: -1, Source: "live"}},
	}
	s := openMem(t)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprint("k", i)
			if err := s.PutMeta(key, tc.meta); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetMeta(key)
			if err != nil {
				t.Fatal(err)
			}
			if !metaEqual(got, tc.meta) {
				t.Errorf("GetMeta = %+v, want %+v", got, tc.meta)
			}
		})
	}
	t.Run("a missing key returns ErrNotFound", func(t *testing.T) {
		if _, err := s.GetMeta("missing"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetMeta = %v, want ErrNotFound", err)
		}
	})
	t.Run("metadata alone does not count as a page", func(t *testing.T) {
		if n := s.PageCount(); n != 0 {
			t.Fatalf("PageCount = %d, want 0", n)
		}
	})
}

// TestConcurrentWritersAndReaders runs one writer per key, as the shard
// owners do, against readers of the same keys; run with -race.
func TestConcurrentWritersAndReaders(t *testing.T) {
	s := openMem(t)
	const writers, rounds = 8, 20
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprint("desktop|https://shop.example/", w)
			for r := range rounds {
				p := testPage(key, t0.Add(time.Duration(r)*time.Minute))
				p.Plain = htmlBody(uint64(r), 2000)
				mustPut(t, s, p)
			}
		})
	}
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprint("desktop|https://shop.example/", (i+r)%writers)
				err := s.ViewPage(key, func(v *PageView) error {
					if v.ETag != bodyETag(mustBody(v.Plain())) {
						t.Errorf("%s: ETag does not match the body in the same view", key)
					}
					return nil
				})
				if err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if n := s.PageCount(); n != writers {
		t.Errorf("PageCount = %d, want %d", n, writers)
	}
	if due := keysWithPrefix(rawKeys(t, s), prefixDue); len(due) != writers {
		t.Errorf("%d due entries, want %d", len(due), writers)
	}
}
