package storage

import (
	"path/filepath"
	"testing"
)

func TestQueueCopiesAreKeptPerOwnerSurviveReopenAndAreDropped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s := openDisk(t, dir, Options{})
	a := []QueueItem{
		{Seq: 7, Key: "desktop|https://a.example/1", URL: "https://a.example/1", Source: "api", EnqueuedAt: t0},
		{Seq: 9, Key: "desktop|https://a.example/2", URL: "https://a.example/2", Source: "stale", EnqueuedAt: t0},
	}
	b := []QueueItem{{Seq: 7, Key: "mobile|https://b.example/", URL: "https://b.example/", Source: "sitemap", EnqueuedAt: t0}}
	if err := s.PutReplicas("10.0.0.1:7946", a); err != nil {
		t.Fatal(err)
	}
	if err := s.PutReplicas("10.0.0.2:7946", b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteReplicas("10.0.0.1:7946", 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDisk(t, dir, Options{})
	defer s.Close()
	type copyOf struct {
		owner string
		seq   uint64
		key   string
	}
	var got []copyOf
	err := s.ScanReplicas(func(owner string, it QueueItem, err error) bool {
		if err != nil {
			t.Errorf("copy %s %d: %v", owner, it.Seq, err)
		}
		if !it.EnqueuedAt.Equal(t0) {
			t.Errorf("copy %s %d enqueued at %v, want %v", owner, it.Seq, it.EnqueuedAt, t0)
		}
		got = append(got, copyOf{owner, it.Seq, it.Key})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []copyOf{{"10.0.0.1:7946", 9, a[1].Key}, {"10.0.0.2:7946", 7, b[0].Key}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("copies after reopen = %+v, want %+v", got, want)
	}
	var queued int
	_ = s.ScanQueue(func(QueueItem) bool { queued++; return true })
	if queued != 0 {
		t.Errorf("copies show in this member's own queue: %d items", queued)
	}
}

func TestQueueCopiesRefuseAnOwnerThatCannotBeAKey(t *testing.T) {
	s := openDisk(t, filepath.Join(t.TempDir(), "db"), Options{})
	defer s.Close()
	for _, owner := range []string{"", "a\x00b"} {
		if err := s.PutReplicas(owner, []QueueItem{{Seq: 1, Key: "k"}}); err == nil {
			t.Errorf("PutReplicas(%q) stored the copies, want an error", owner)
		}
	}
}

func TestQueueCopiesThatAreDamagedAreReportedWithTheirOwnerAndSeq(t *testing.T) {
	s := openDisk(t, filepath.Join(t.TempDir(), "db"), Options{})
	defer s.Close()
	good := QueueItem{Seq: 2, Key: "desktop|https://a.example/", URL: "https://a.example/", Source: "api", EnqueuedAt: t0}
	if err := s.PutReplicas("10.0.0.1:7946", []QueueItem{good}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(replicaKey("10.0.0.1:7946", 1), []byte{9, 9}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set([]byte(prefixReplica+"short"), []byte{1}, nil); err != nil {
		t.Fatal(err)
	}
	var damaged, read []string
	err := s.ScanReplicas(func(owner string, it QueueItem, err error) bool {
		if err != nil {
			damaged = append(damaged, owner)
			if owner != "" && it.Seq != 1 {
				t.Errorf("the damaged copy of %s is reported with seq %d, want 1", owner, it.Seq)
			}
			return true
		}
		read = append(read, it.Key)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(damaged) != 2 || len(read) != 1 || read[0] != good.Key {
		t.Errorf("damaged copies of %q and read %q, want two damaged (one without an owner) and the good one read", damaged, read)
	}
}
