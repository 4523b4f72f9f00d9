package storage

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// sizeOfAll adds up the page sizes the summaries record, the truth StoredBytes
// must agree with.
func sizeOfAll(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	if err := s.ScanPages("", func(_ string, m PageMeta) bool { n += int64(m.Size); return true }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeletePagesLeavesNothingOfTheKeys(t *testing.T) {
	s := openMem(t)
	other := testPage("desktop|https://b.example/keep", t0)
	mustPut(t, s, other)
	want := rawKeys(t, s)
	var keys []string
	for i := range 20 {
		key := fmt.Sprintf("desktop|https://a.example/p/%02d", i)
		keys = append(keys, key)
		mustPut(t, s, testPage(key, t0.Add(time.Duration(i)*time.Minute)))
		if i%2 == 0 {
			mustPut(t, s, testPage(key, t0.Add(time.Hour))) // moves its d/ entry
		}
		if i%3 == 0 {
			if err := s.PutMeta(key, Meta{Hits: int64(i), LastHit: t0}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A meta without a page, and a key with nothing stored.
	if err := s.PutMeta("desktop|https://a.example/failing", Meta{LastStatus: 503}); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, "desktop|https://a.example/failing", "desktop|https://a.example/never")

	n, err := s.DeletePages(keys)
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 {
		t.Errorf("DeletePages counted %d pages, want 20", n)
	}
	if got := rawKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys left = %q, want only %q", got, want)
	}
	if s.PageCount() != 1 {
		t.Errorf("PageCount = %d, want 1", s.PageCount())
	}
	if got, want := s.StoredBytes(), sizeOfAll(t, s); got != want {
		t.Errorf("StoredBytes = %d, want %d", got, want)
	}
}

func TestStoredBytesFollowsPutsAndDeletesAndSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir, Options{})
	for i := range 10 {
		p := testPage(fmt.Sprintf("desktop|https://a.example/%d", i), t0)
		p.Plain = htmlBody(uint64(i), 1000*(i+1))
		mustPut(t, s, p)
	}
	check := func(when string) {
		t.Helper()
		if got, want := s.StoredBytes(), sizeOfAll(t, s); got != want || got == 0 {
			t.Fatalf("%s: StoredBytes = %d, want %d", when, got, want)
		}
	}
	check("after puts")
	p := testPage("desktop|https://a.example/3", t0)
	p.Plain = htmlBody(3, 20000)
	mustPut(t, s, p)
	check("after a page grew")
	if err := s.DeletePage("desktop|https://a.example/5"); err != nil {
		t.Fatal(err)
	}
	check("after DeletePage")
	if _, err := s.DeletePages([]string{"desktop|https://a.example/6", "desktop|https://a.example/7"}); err != nil {
		t.Fatal(err)
	}
	check("after DeletePages")
	before := s.StoredBytes()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDisk(t, dir, Options{})
	defer s.Close()
	if s.StoredBytes() != before {
		t.Fatalf("StoredBytes after reopen = %d, want %d", s.StoredBytes(), before)
	}
}

func TestScanPagesMetaJoinsSummaryAndMeta(t *testing.T) {
	s := openMem(t)
	for i := range 6 {
		mustPut(t, s, testPage(fmt.Sprintf("desktop|https://a.example/%d", i), t0))
	}
	// PutPage writes a meta for every page; set hits on some, and put a meta with
	// no page between them, which the scan must skip.
	for _, i := range []int{1, 4} {
		if err := s.PutMeta(fmt.Sprintf("desktop|https://a.example/%d", i), Meta{Hits: int64(10 * i), LastHit: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutMeta("desktop|https://a.example/2x", Meta{Hits: 99}); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := s.ScanPagesMeta("desktop|https://a.example/1", func(key string, info *PageInfo) bool {
		got = append(got, fmt.Sprintf("%s hits=%d status=%d", key[len("desktop|https://a.example/"):], info.Meta.Hits, info.Status))
		return len(got) < 4
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1 hits=10 status=200", "2 hits=0 status=200", "3 hits=0 status=200", "4 hits=40 status=200"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSitemapStateRoundTripAndSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir, Options{})
	st := SitemapState{Added: true, ETag: `"x"`, LastModified: "Wed, 25 Nov 2026 08:00:00 GMT", Kind: "sitemapindex",
		URLs: 2, Children: []string{"https://a.example/1.xml", "https://a.example/2.xml.gz"}, PolledAt: t0, LastError: "boom"}
	if err := s.PutSitemap("https://a.example/sitemap.xml", st); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSitemap("https://a.example/1.xml", SitemapState{URLs: 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSitemap("", st); err == nil {
		t.Fatal("an empty URL was accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDisk(t, dir, Options{})
	defer s.Close()
	got, err := s.GetSitemap("https://a.example/sitemap.xml")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(st) {
		t.Fatalf("got %+v, want %+v", got, st)
	}
	if _, err := s.GetSitemap("https://a.example/none.xml"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing sitemap: %v", err)
	}
	var urls []string
	if err := s.ScanSitemaps(func(url string, _ SitemapState, err error) bool { urls = append(urls, url); return err == nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(urls, []string{"https://a.example/1.xml", "https://a.example/sitemap.xml"}) {
		t.Fatalf("scan gave %q", urls)
	}
	t.Run("a damaged value is reported with its URL and the scan goes on", func(t *testing.T) {
		if err := s.db.Set(appendKey(nil, prefixSitemap, "https://a.example/0.xml"), []byte("{not json"), nil); err != nil {
			t.Fatal(err)
		}
		var bad, good int
		_ = s.ScanSitemaps(func(url string, _ SitemapState, err error) bool {
			if err != nil {
				bad++
			} else {
				good++
			}
			return true
		})
		if bad != 1 || good != 2 {
			t.Fatalf("bad %d, good %d", bad, good)
		}
	})
}

func TestScanKeys(t *testing.T) {
	s := openMem(t)
	for i := range 5 {
		mustPut(t, s, testPage(fmt.Sprintf("desktop|https://a.example/%d", i), t0))
	}
	if err := s.PutMeta("desktop|https://a.example/9", Meta{Hits: 1}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.ScanKeys("desktop|https://a.example/2", func(k []byte) bool { got = append(got, string(k)); return len(got) < 2 }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"desktop|https://a.example/2", "desktop|https://a.example/3"}) {
		t.Fatalf("got %q", got)
	}
}
