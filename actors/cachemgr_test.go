package actors

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"prerenderd/policy"
	"prerenderd/storage"
	"prerenderd/storage/storetest"
)

func TestMatcher(t *testing.T) {
	tests := []struct {
		pattern   string
		substring bool
		url       string
		want      bool
	}{
		{"%", false, "https://a.example/x", true},
		{"https://a.example/%", false, "https://a.example/x?y=1", true},
		{"https://a.example/%", false, "https://b.example/x", false},
		{"https://a.example/%", false, "https://a.example.evil/x", false},
		{"%/p/%/reviews", false, "https://a.example/p/1/reviews", true},
		{"%/p/%/reviews", false, "https://a.example/p/1/reviews/2", false},
		{"https://a.example/x", false, "https://a.example/x", true},
		{"https://a.example/x", false, "https://a.example/xy", false},
		{"a%a", false, "a", false},
		{"a%a", false, "aa", true},
		{"product", true, "https://a.example/product?id=1", true},
		{"product", true, "https://a.example/p?id=1", false},
		{"", true, "https://a.example/", true},
	}
	for _, tc := range tests {
		if got := newMatcher(tc.pattern, tc.substring).match([]byte(tc.url)); got != tc.want {
			t.Errorf("%q (substring %v) on %q = %v, want %v", tc.pattern, tc.substring, tc.url, got, tc.want)
		}
	}
}

func putTestPage(t testing.TB, store *storage.Store, key string, rendered time.Time, size int) {
	t.Helper()
	_, url, _ := strings.Cut(key, "|")
	p := &storage.Page{Key: key, URL: url, Status: 200, RenderedAt: rendered, ExpiresAt: rendered.Add(time.Hour),
		Plain: []byte(strings.Repeat("x", size)), Gzip: []byte("not used")}
	// The store gzips Plain only when Gzip is empty; a fixed Gzip keeps sizes exact.
	if err := store.PutPage(p); err != nil {
		t.Fatal(err)
	}
}

// nothingOf checks that no trace of key is left: page, summary, metadata, due entry.
func nothingOf(t *testing.T, store *storage.Store, key string) {
	t.Helper()
	if _, err := storetest.Page(store, key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("%s: page left (%v)", key, err)
	}
	if _, err := store.Summary(key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("%s: summary left (%v)", key, err)
	}
	if _, err := store.GetMeta(key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("%s: meta left (%v)", key, err)
	}
	_ = store.ScanDue(time.Now().Add(100*365*24*time.Hour), func(k string, _ time.Time) bool {
		if k == key {
			t.Errorf("%s: due entry left", key)
		}
		return true
	})
}

func waitClear(t *testing.T, app *Appliance, id uint64) ClearStatus {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st := app.ClearProgress()
		if st.ID == id && st.State != "running" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("clear %d still running after 30s: %+v", id, st)
		}
	}
}

func TestCacheManager(t *testing.T) {
	app, store := startApp(t, nil)
	now := time.Now()
	var aKeys, bKeys []string
	for i := range 300 {
		for _, v := range []string{"desktop", "mobile"} {
			ka := fmt.Sprintf("%s|https://a.example/p/%03d", v, i)
			kb := fmt.Sprintf("%s|https://b.example/p/%03d", v, i)
			putTestPage(t, store, ka, now, 100)
			putTestPage(t, store, kb, now, 100)
			aKeys, bKeys = append(aKeys, ka), append(bKeys, kb)
		}
	}
	if err := store.PutMeta("desktop|https://a.example/p/007", storage.Meta{Hits: 7, LastHit: now, RenderedAt: now, LastStatus: 200}); err != nil {
		t.Fatal(err)
	}

	t.Run("search pages through the results 200 at a time", func(t *testing.T) {
		var seen []string
		total := -1
		for start := 0; ; start += SearchPageSize {
			r, err := app.Search(SearchQuery{Query: "a.example/p/", Variant: "desktop", Start: start})
			if err != nil {
				t.Fatal(err)
			}
			if total >= 0 && r.Total != total {
				t.Fatalf("total changed between pages: %d then %d", total, r.Total)
			}
			total = r.Total
			if len(r.Items) > SearchPageSize {
				t.Fatalf("%d items in one page", len(r.Items))
			}
			for _, it := range r.Items {
				seen = append(seen, it.URL)
			}
			if len(r.Items) < SearchPageSize {
				break
			}
		}
		if total != 300 || len(seen) != 300 || !slices.IsSorted(seen) || seen[0] != "https://a.example/p/000" {
			t.Fatalf("total %d, %d seen, first %q", total, len(seen), seen[0])
		}
	})
	t.Run("search by exact URL gives hits, size and both variants", func(t *testing.T) {
		r, err := app.Search(SearchQuery{ExactMatch: "https://a.example/p/007"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Total != 2 || len(r.Items) != 2 || r.Items[0].Variant != "desktop" || r.Items[0].Hits != 7 ||
			r.Items[1].Variant != "mobile" || r.Items[0].Size == 0 || r.Items[0].Status != 200 {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("a pattern with a literal start finds both variants from there", func(t *testing.T) {
		r, err := app.Search(SearchQuery{Query: "https://a.example/p/00%"})
		if err != nil || r.Total != 20 || r.Items[0].Variant != "desktop" || r.Items[19].Variant != "mobile" {
			t.Fatalf("got total %d, %v", r.Total, err)
		}
		if r, _ := app.Search(SearchQuery{Query: "https://a.example/p/00%", Variant: "mobile"}); r.Total != 10 {
			t.Fatalf("mobile only: total %d", r.Total)
		}
	})
	t.Run("a search past the end is empty, not an error", func(t *testing.T) {
		r, err := app.Search(SearchQuery{Query: "b.example", Start: 10_000})
		if err != nil || len(r.Items) != 0 || r.Total != 600 {
			t.Fatalf("got %d items, total %d, %v", len(r.Items), r.Total, err)
		}
	})
	t.Run("clearing one URL is synchronous and leaves nothing of it", func(t *testing.T) {
		n, err := app.ClearURL(context.Background(), "https://a.example/p/007", "")
		if err != nil || n != 2 {
			t.Fatalf("ClearURL = %d, %v; want 2 pages", n, err)
		}
		nothingOf(t, store, "desktop|https://a.example/p/007")
		nothingOf(t, store, "mobile|https://a.example/p/007")
		if n, err := app.ClearURL(context.Background(), "https://a.example/p/007", ""); err != nil || n != 0 {
			t.Fatalf("second ClearURL = %d, %v", n, err)
		}
	})
	t.Run("a wildcard clear of one host leaves the other", func(t *testing.T) {
		before := store.StoredBytes()
		st, err := app.StartClear("https://a.example/%", "")
		if err != nil || st.State != "running" {
			t.Fatalf("StartClear = %+v, %v", st, err)
		}
		done := waitClear(t, app, st.ID)
		if done.State != "done" || done.Deleted != 598 || done.Matched != 598 {
			t.Fatalf("clear ended %+v, want 598 deleted", done)
		}
		for _, k := range aKeys {
			nothingOf(t, store, k)
		}
		for _, k := range bKeys {
			if _, err := store.Summary(k); err != nil {
				t.Fatalf("%s was cleared with the other host: %v", k, err)
			}
		}
		if store.PageCount() != int64(len(bKeys)) {
			t.Fatalf("PageCount = %d, want %d", store.PageCount(), len(bKeys))
		}
		if store.StoredBytes() >= before || store.StoredBytes() <= 0 {
			t.Fatalf("StoredBytes %d, before %d", store.StoredBytes(), before)
		}
		if got := app.metrics.cleared.Get(); got != 598 {
			t.Fatalf("cleared pages metric = %d", got)
		}
	})
	t.Run("a clear of one variant keeps the other", func(t *testing.T) {
		st, err := app.StartClear("%", "mobile")
		if err != nil {
			t.Fatal(err)
		}
		if done := waitClear(t, app, st.ID); done.Deleted != 300 {
			t.Fatalf("clear ended %+v", done)
		}
		if store.PageCount() != 300 {
			t.Fatalf("PageCount = %d, want the 300 desktop pages", store.PageCount())
		}
	})
	t.Run("clearing everything empties the store", func(t *testing.T) {
		st, err := app.StartClear("%", "")
		if err != nil {
			t.Fatal(err)
		}
		waitClear(t, app, st.ID)
		if store.PageCount() != 0 || store.StoredBytes() != 0 {
			t.Fatalf("PageCount %d, StoredBytes %d", store.PageCount(), store.StoredBytes())
		}
		due := 0
		_ = store.ScanDue(time.Now().Add(1000*time.Hour), func(string, time.Time) bool { due++; return true })
		if due != 0 {
			t.Fatalf("%d due entries dangle", due)
		}
	})
}

func TestEvictionTakesTheLeastRecentlyHitFirst(t *testing.T) {
	const pages, size = 20, 10_000
	app, store := startApp(t, func(c *Config) { c.EvictInterval = 20 * time.Millisecond })
	base := time.Now().Add(-24 * time.Hour)
	// Page i was rendered at base and last hit i hours later; pages 0 and 1 were
	// never hit but rendered late, so they count as recent as their render.
	for i := range pages {
		key := fmt.Sprintf("desktop|https://a.example/%02d", i)
		rendered := base
		if i < 2 {
			rendered = base.Add(time.Duration(100+i) * time.Hour)
		}
		putTestPage(t, store, key, rendered, size)
		if i >= 2 {
			if err := store.PutMeta(key, storage.Meta{Hits: 1, LastHit: base.Add(time.Duration(i) * time.Hour), RenderedAt: rendered, LastStatus: 200}); err != nil {
				t.Fatal(err)
			}
		}
	}
	total := store.StoredBytes()
	// Room for 40% of the pages: eviction must bring it under 90% of that. The
	// bound is set once the pages are in (total is only known then), before the
	// eviction loop starts.
	max := total * 2 / 5
	app.cfg.MaxBytes = max
	app.goBackground(func(ctx context.Context) { app.evictLoop(ctx, app.cfg.EvictInterval) })
	for deadline := time.Now().Add(20 * time.Second); store.StoredBytes() > max; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("StoredBytes %d still over %d", store.StoredBytes(), max)
		}
	}
	if got := store.StoredBytes(); float64(got) > 0.9*float64(max) {
		t.Fatalf("StoredBytes %d, want under 90%% of %d", got, max)
	}
	var kept []string
	_ = store.ScanKeys("", func(k []byte) bool { kept = append(kept, string(k[len(k)-2:])); return true })
	// Each page is total/20 bytes; at most 0.36 × total leaves 7 pages: the five
	// most recently hit (15–19) and the two rendered late (0, 1).
	want := []string{"00", "01", "15", "16", "17", "18", "19"}
	if !slices.Equal(kept, want) {
		t.Fatalf("kept %q, want %q", kept, want)
	}
	if app.metrics.evicted.Get() != 13 || app.metrics.evictions.Get() < 1 {
		t.Fatalf("evicted metric %d, passes %d", app.metrics.evicted.Get(), app.metrics.evictions.Get())
	}
	for i := 2; i < 15; i++ {
		nothingOf(t, store, fmt.Sprintf("desktop|https://a.example/%02d", i))
	}
}

// FuzzMatcher checks the '%' pattern matcher (cache-clear and search queries come
// from outside) against a regular expression built from the same pattern.
func FuzzMatcher(f *testing.F) {
	f.Add("https://a.example/%", "https://a.example/x")
	f.Add("%/p/%/reviews", "https://a.example/p/1/reviews")
	f.Add("a%a", "a")
	f.Add("%%", "")
	f.Fuzz(func(t *testing.T, pattern, url string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(url) {
			return // the regexp reads runes, the matcher bytes
		}
		var re strings.Builder
		re.WriteString(`^(?s:`)
		for i, part := range strings.Split(pattern, "%") {
			if i > 0 {
				re.WriteString(`.*`)
			}
			re.WriteString(regexp.QuoteMeta(part))
		}
		re.WriteString(`)$`)
		want := regexp.MustCompile(re.String()).MatchString(url)
		if got := newMatcher(pattern, false).match([]byte(url)); got != want {
			t.Fatalf("pattern %q on %q: matcher %v, regexp %v", pattern, url, got, want)
		}
	})
}

func TestHitsAreFlushedIntoEachPagesMetadata(t *testing.T) {
	app, store := startApp(t, func(c *Config) { c.HitFlushEvery = 50 * time.Millisecond })
	now := time.Now()
	const pages = 40
	for i := range pages {
		u := fmt.Sprintf("https://a.example/p/%03d", i)
		if err := store.PutPage(&storage.Page{Key: "desktop|" + u, URL: u, Status: 200, RenderedAt: now,
			ExpiresAt: now.Add(time.Hour), Plain: []byte("<html>" + u + "</html>")}); err != nil {
			t.Fatal(err)
		}
	}
	served := func(*storage.PageView, policy.Decision) error { return nil }
	for i := range pages {
		// Page i is hit i%3+1 times: one flush holds many keys, of different counts.
		for range i%3 + 1 {
			if l, err := app.Lookup(context.Background(), fmt.Sprintf("desktop|https://a.example/p/%03d", i), now, served); err != nil || !l.Decision.Serves() {
				t.Fatalf("lookup of page %d: %v, %v", i, l.Decision, err)
			}
		}
	}
	waitUntil(t, "every page's hits in its metadata", func() bool {
		for i := range pages {
			m, err := store.GetMeta(fmt.Sprintf("desktop|https://a.example/p/%03d", i))
			if err != nil || m.Hits != int64(i%3+1) || !m.LastHit.Equal(now) {
				return false
			}
		}
		return true
	})
}
