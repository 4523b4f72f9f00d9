package storage

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestSetPageExpiryMovesTheDueEntryAndKeepsTheBody(t *testing.T) {
	s := openMem(t)
	p := testPage("desktop|https://a.example/", t0.Add(time.Hour))
	mustPut(t, s, p)
	later := t0.Add(48 * time.Hour)
	if err := s.SetPageExpiry(p.Key, later); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetPage(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(later) || string(got.Plain) != string(p.Plain) || got.ETag != p.ETag {
		t.Errorf("after SetPageExpiry: expires %v etag %q body %q", got.ExpiresAt, got.ETag, got.Plain)
	}
	due := keysWithPrefix(rawKeys(t, s), prefixDue)
	if len(due) != 1 {
		t.Fatalf("due entries = %q, want exactly one", due)
	}
	var seen []time.Time
	_ = s.ScanDue(later.Add(time.Second), func(_ string, e time.Time) bool { seen = append(seen, e); return true })
	if len(seen) != 1 || !seen[0].Equal(later) {
		t.Errorf("ScanDue sees %v, want [%v]", seen, later)
	}
	if s.PageCount() != 1 {
		t.Errorf("PageCount = %d, want 1", s.PageCount())
	}
	if err := s.SetPageExpiry("desktop|https://missing.example/", later); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPageExpiry of a missing page = %v, want ErrNotFound", err)
	}
	if err := s.DeletePage(p.Key); err != nil {
		t.Fatal(err)
	}
	if left := rawKeys(t, s); len(left) != 0 {
		t.Errorf("after delete, keys left: %q", left)
	}
}

func TestMarkServedClearsThePrerenderedFlagOnly(t *testing.T) {
	s := openMem(t)
	p := testPage("desktop|https://a.example/", t0.Add(time.Hour))
	p.Prerendered = true
	mustPut(t, s, p)
	var flag bool
	_ = s.ViewPage(p.Key, func(v *PageView) error { flag = v.Prerendered; return nil })
	if !flag {
		t.Fatal("a page stored as prerendered does not read back as prerendered")
	}
	if err := s.MarkServed(p.Key); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetPage(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Prerendered || !got.ExpiresAt.Equal(p.ExpiresAt) || string(got.Plain) != string(p.Plain) {
		t.Errorf("after MarkServed: prerendered %v expires %v body %q", got.Prerendered, got.ExpiresAt, got.Plain)
	}
}

func TestQueueIsFIFOAndSurvivesReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s := openDisk(t, dir, Options{})
	items := []QueueItem{
		{Key: "desktop|https://a.example/1", URL: "https://a.example/1", Source: "api", EnqueuedAt: t0},
		{Key: "desktop|https://a.example/2", URL: "https://a.example/2", Source: "sitemap", EnqueuedAt: t0.Add(time.Second)},
	}
	if err := s.PushQueue(items, true); err != nil {
		t.Fatal(err)
	}
	if items[0].Seq == 0 || items[1].Seq <= items[0].Seq {
		t.Fatalf("sequence numbers %d, %d: want increasing from 1", items[0].Seq, items[1].Seq)
	}
	if err := s.DeleteQueue(items[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDisk(t, dir, Options{})
	defer s.Close()
	more := []QueueItem{{Key: "desktop|https://a.example/3", URL: "https://a.example/3", Source: "stale", EnqueuedAt: t0}}
	if err := s.PushQueue(more, false); err != nil {
		t.Fatal(err)
	}
	if more[0].Seq <= items[1].Seq {
		t.Errorf("after reopen the sequence restarted: %d after %d", more[0].Seq, items[1].Seq)
	}
	var got []QueueItem
	if err := s.ScanQueue(func(q QueueItem) bool { got = append(got, q); return true }); err != nil {
		t.Fatal(err)
	}
	want := []QueueItem{items[1], more[0]}
	if !slices.EqualFunc(got, want, func(a, b QueueItem) bool {
		return a.Seq == b.Seq && a.Key == b.Key && a.URL == b.URL && a.Source == b.Source && a.EnqueuedAt.Equal(b.EnqueuedAt)
	}) {
		t.Errorf("queue after reopen = %+v, want %+v", got, want)
	}
}

func TestQueueItemRejectsDamagedValues(t *testing.T) {
	good := encodeQueueItem(QueueItem{Key: "k", URL: "u", Source: "api", EnqueuedAt: t0})
	for _, bad := range [][]byte{nil, {2}, good[:len(good)-1], append(slices.Clone(good), 0)} {
		if _, err := decodeQueueItem(bad); err == nil {
			t.Errorf("decodeQueueItem(%x) accepted a damaged value", bad)
		}
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	s := openMem(t)
	if _, err := s.GetSetting("recache_urls_per_hour"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unset setting: %v, want ErrNotFound", err)
	}
	if err := s.PutSetting("recache_urls_per_hour", []byte("7200")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetSetting("recache_urls_per_hour"); err != nil || string(v) != "7200" {
		t.Errorf("GetSetting = %q, %v", v, err)
	}
}

func TestAddHitsNeverCreatesMetaWithoutAPage(t *testing.T) {
	s := openMem(t)
	if err := s.AddHits("desktop|https://gone.example/", 3, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddHits on a missing page = %v, want ErrNotFound", err)
	}
	if keys := rawKeys(t, s); len(keys) != 0 {
		t.Errorf("keys written for a missing page: %q", keys)
	}
	p := testPage("desktop|https://a.example/", t0.Add(time.Hour))
	mustPut(t, s, p)
	_ = s.AddHits(p.Key, 2, t0.Add(time.Minute))
	_ = s.AddHits(p.Key, 1, t0)
	m, err := s.GetMeta(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	if m.Hits != 3 || !m.LastHit.Equal(t0.Add(time.Minute)) || m.LastStatus != 200 {
		t.Errorf("meta = %+v, want 3 hits, last at +1m, status kept", m)
	}
}

func TestCountDueStopsAtTheLimit(t *testing.T) {
	s := openMem(t)
	for i, k := range []string{"a", "b", "c"} {
		mustPut(t, s, testPage("desktop|https://"+k+".example/", t0.Add(time.Duration(i)*time.Minute)))
	}
	for _, tc := range []struct {
		before time.Time
		limit  int
		want   int
	}{{t0.Add(time.Hour), 10, 3}, {t0.Add(90 * time.Second), 10, 2}, {t0.Add(time.Hour), 2, 2}, {t0, 10, 0}} {
		if n, err := s.CountDue(tc.before, tc.limit); err != nil || n != tc.want {
			t.Errorf("CountDue(%v, %d) = %d, %v; want %d", tc.before, tc.limit, n, err, tc.want)
		}
	}
}

func TestAddHitsBatch(t *testing.T) {
	s := openMem(t)
	a, b := testPage("desktop|https://a.example/", t0.Add(time.Hour)), testPage("desktop|https://b.example/", t0.Add(time.Hour))
	mustPut(t, s, a)
	mustPut(t, s, b)
	if err := s.AddHits(a.Key, 4, t0); err != nil {
		t.Fatal(err)
	}
	err := s.AddHitsBatch([]Hits{
		{Key: a.Key, N: 2, Last: t0.Add(time.Minute)},
		{Key: "desktop|https://gone.example/", N: 3, Last: t0},
		{Key: b.Key, N: 1, Last: t0.Add(2 * time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  string
		hits int64
		last time.Time
	}{
		{"hits add to the ones stored before", a.Key, 6, t0.Add(time.Minute)},
		{"a page without metadata gets it", b.Key, 1, t0.Add(2 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := s.GetMeta(tc.key)
			if err != nil || m.Hits != tc.hits || !m.LastHit.Equal(tc.last) {
				t.Fatalf("meta = %+v, %v; want %d hits, last %v", m, err, tc.hits, tc.last)
			}
		})
	}
	t.Run("a key without a page gets no metadata", func(t *testing.T) {
		if _, err := s.GetMeta("desktop|https://gone.example/"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetMeta of a missing page = %v, want ErrNotFound", err)
		}
	})
	t.Run("a key with metadata and no page (its renders fail) gets its hits", func(t *testing.T) {
		s := openMem(t)
		failing := "desktop|https://failing.example/"
		if err := s.PutMeta(failing, Meta{LastStatus: 503, Consecutive5xx: 2}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddHitsBatch([]Hits{{Key: failing, N: 2, Last: t0}}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddHits(failing, 1, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		m, err := s.GetMeta(failing)
		if err != nil || m.Hits != 3 || !m.LastHit.Equal(t0.Add(time.Minute)) || m.Consecutive5xx != 2 || m.LastStatus != 503 {
			t.Fatalf("meta = %+v, %v; want 3 hits, last at +1m, the failure streak kept", m, err)
		}
		if err := s.AddHits("desktop|https://gone.example/", 1, t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("AddHits of a key with neither page nor metadata = %v, want ErrNotFound", err)
		}
		if _, err := s.GetMeta("desktop|https://gone.example/"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("AddHits made metadata for a key without a page: %v", err)
		}
	})
	t.Run("a deleted page's hits are dropped", func(t *testing.T) {
		s := openMem(t)
		mustPut(t, s, a)
		if err := s.DeletePage(a.Key); err != nil {
			t.Fatal(err)
		}
		if err := s.AddHitsBatch([]Hits{{Key: a.Key, N: 1, Last: t0}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetMeta(a.Key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("hits brought back the metadata of a deleted page: %v", err)
		}
	})
	t.Run("an older last hit does not move the newer one back", func(t *testing.T) {
		if err := s.AddHitsBatch([]Hits{{Key: a.Key, N: 1, Last: t0}}); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.GetMeta(a.Key); m.Hits != 7 || !m.LastHit.Equal(t0.Add(time.Minute)) {
			t.Fatalf("meta = %+v, want 7 hits, last at +1m", m)
		}
	})
	t.Run("keys out of order, given twice, or a prefix of a stored key each get what is theirs", func(t *testing.T) {
		s := openMem(t)
		long := testPage("desktop|https://c.example/p/10", t0.Add(time.Hour))
		short := testPage("desktop|https://c.example/p/1", t0.Add(time.Hour))
		mustPut(t, s, long)
		mustPut(t, s, a)
		err := s.AddHitsBatch([]Hits{
			{Key: long.Key, N: 1, Last: t0},
			{Key: short.Key, N: 5, Last: t0}, // no page: a prefix of long's key
			{Key: a.Key, N: 2, Last: t0.Add(time.Minute)},
			{Key: long.Key, N: 3, Last: t0.Add(3 * time.Minute)},
			{Key: a.Key, N: 1, Last: t0},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []struct {
			key  string
			hits int64
			last time.Time
		}{{a.Key, 3, t0.Add(time.Minute)}, {long.Key, 4, t0.Add(3 * time.Minute)}} {
			if m, err := s.GetMeta(w.key); err != nil || m.Hits != w.hits || !m.LastHit.Equal(w.last) {
				t.Errorf("meta of %s = %+v, %v; want %d hits, last %v", w.key, m, err, w.hits, w.last)
			}
		}
		if _, err := s.GetMeta(short.Key); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetMeta of %s, which has no page = %v, want ErrNotFound", short.Key, err)
		}
	})
	t.Run("a full disk refuses the batch and loses no page", func(t *testing.T) {
		free := int64(1 << 40)
		d, err := Open(Options{InMemory: true, Logger: testLogger(t), FreeBytes: func() (int64, error) { return free, nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		mustPut(t, d, a)
		free = 1 << 20
		if err := d.AddHitsBatch([]Hits{{Key: a.Key, N: 1, Last: t0}}); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("AddHitsBatch on a full disk = %v, want ErrDiskFull", err)
		}
		if _, err := d.GetPage(a.Key); err != nil {
			t.Fatalf("the page is gone after a refused batch: %v", err)
		}
		if m, _ := d.GetMeta(a.Key); m.Hits != 0 {
			t.Fatalf("a refused batch wrote its hits: %+v", m)
		}
	})
	t.Run("an empty batch writes nothing", func(t *testing.T) {
		if err := s.AddHitsBatch(nil); err != nil {
			t.Fatalf("AddHitsBatch(nil) = %v", err)
		}
	})
	t.Run("after Close the batch is refused", func(t *testing.T) {
		c := openMem(t)
		_ = c.Close()
		if err := c.AddHitsBatch([]Hits{{Key: a.Key, N: 1}}); !errors.Is(err, ErrClosed) {
			t.Fatalf("AddHitsBatch after Close = %v, want ErrClosed", err)
		}
	})
}
