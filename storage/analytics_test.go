package storage

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

type analyticsRow struct {
	kind   byte
	bucket int64
	name   string
	value  string
}

func putRows(t *testing.T, s *Store, rows ...analyticsRow) {
	t.Helper()
	err := s.PutAnalytics(func(put func(kind byte, bucket int64, name string, value []byte)) {
		for _, r := range rows {
			put(r.kind, r.bucket, r.name, []byte(r.value))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func scanRows(t *testing.T, s *Store, kind byte, name string, from, to int64) []analyticsRow {
	t.Helper()
	var out []analyticsRow
	err := s.ScanAnalytics(kind, name, from, to, func(bucket int64, v []byte) bool {
		out = append(out, analyticsRow{kind, bucket, name, string(v)})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAnalyticsRows(t *testing.T) {
	s := openMem(t)
	putRows(t, s,
		analyticsRow{'m', 120, "*", "c"},
		analyticsRow{'m', 60, "shop.example", "b"},
		analyticsRow{'m', 60, "shop.example.org", "o"},
		analyticsRow{'m', 60, "*", "a"},
		analyticsRow{'h', 0, "*", "hour"},
		analyticsRow{'m', 1 << 40, "*", "far"},
		analyticsRow{'t', 0, "", "top"},
	)
	tests := []struct {
		name     string
		kind     byte
		row      string
		from, to int64
		want     []analyticsRow
	}{
		{"a row's buckets come in time order", 'm', "*", 0, 1 << 41, []analyticsRow{
			{'m', 60, "*", "a"}, {'m', 120, "*", "c"}, {'m', 1 << 40, "*", "far"}}},
		{"the upper bound is excluded", 'm', "*", 60, 120, []analyticsRow{{'m', 60, "*", "a"}}},
		{"a name is not the prefix of a longer one", 'm', "shop.example", 0, 1 << 41, []analyticsRow{{'m', 60, "shop.example", "b"}}},
		{"kinds do not mix", 'h', "*", 0, 1 << 41, []analyticsRow{{'h', 0, "*", "hour"}}},
		{"an empty name is a name", 't', "", 0, 1, []analyticsRow{{'t', 0, "", "top"}}},
		{"an empty range is empty", 'm', "*", 120, 120, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scanRows(t, s, tc.kind, tc.row, tc.from, tc.to); !slices.Equal(got, tc.want) {
				t.Fatalf("scan = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("the names of a kind are listed once each, in order", func(t *testing.T) {
		names, err := s.AnalyticsNames('m')
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"*", "shop.example.org", "shop.example"}; !slices.Equal(names, want) {
			t.Fatalf("names = %q, want %q", names, want)
		}
	})
	t.Run("a row written again replaces the old value", func(t *testing.T) {
		putRows(t, s, analyticsRow{'m', 60, "*", "a2"})
		if got := scanRows(t, s, 'm', "*", 60, 61); got[0].value != "a2" {
			t.Fatalf("value %q", got[0].value)
		}
	})
	t.Run("a delete drops the rows of one kind before a bucket, for every name", func(t *testing.T) {
		if err := s.DeleteAnalytics('m', 120); err != nil {
			t.Fatal(err)
		}
		if got := scanRows(t, s, 'm', "*", 0, 1<<41); len(got) != 2 || got[0].bucket != 120 {
			t.Fatalf("after the delete: %v", got)
		}
		if got := scanRows(t, s, 'm', "shop.example", 0, 1<<41); len(got) != 0 {
			t.Fatalf("after the delete: %v", got)
		}
		if got := scanRows(t, s, 'h', "*", 0, 1); len(got) != 1 {
			t.Fatalf("the delete of minutes dropped hours: %v", got)
		}
	})
	t.Run("a scan stops when told", func(t *testing.T) {
		n := 0
		_ = s.ScanAnalytics('m', "*", 0, 1<<41, func(int64, []byte) bool { n++; return false })
		if n != 1 {
			t.Fatalf("%d rows after stop", n)
		}
	})
	for _, bad := range []struct {
		name string
		kind byte
		row  string
	}{{"a kind that is not a letter", '/', "*"}, {"a name with a slash", 'm', "a/b"}} {
		t.Run(bad.name+" is refused and nothing is written", func(t *testing.T) {
			err := s.PutAnalytics(func(put func(byte, int64, string, []byte)) {
				put('m', 999, "*", []byte("x"))
				put(bad.kind, 999, bad.row, []byte("x"))
			})
			if err == nil {
				t.Fatal("accepted")
			}
			if got := scanRows(t, s, 'm', "*", 999, 1000); len(got) != 0 {
				t.Fatalf("a refused batch wrote %v", got)
			}
		})
	}
	t.Run("the rows do not count as pages", func(t *testing.T) {
		if s.PageCount() != 0 || s.StoredBytes() != 0 {
			t.Fatalf("pages %d bytes %d", s.PageCount(), s.StoredBytes())
		}
	})
}

func TestAnalyticsRowsSurviveAReopen(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir, Options{})
	for i := range 100 {
		putRows(t, s, analyticsRow{'m', int64(i * 60), "*", fmt.Sprint(i)})
	}
	if err := s.DeleteAnalytics('m', 50*60); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDisk(t, dir, Options{})
	defer s.Close()
	got := scanRows(t, s, 'm', "*", 0, 1<<40)
	if len(got) != 50 || got[0].value != "50" || got[49].value != "99" {
		t.Fatalf("after reopen: %d rows, %v … %v", len(got), got[0], got[len(got)-1])
	}
}

func TestAnalyticsWritesRespectTheFreeSpaceGuard(t *testing.T) {
	s := openMem(t)
	putRows(t, s, analyticsRow{'m', 0, "*", "x"})
	s.freeBytes = func() (int64, error) { return 0, nil }
	err := s.PutAnalytics(func(put func(byte, int64, string, []byte)) { put('m', 0, "*", []byte("x")) })
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("PutAnalytics on a full disk = %v, want ErrDiskFull", err)
	}
	if err := s.DeleteAnalytics('m', 60); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("DeleteAnalytics on a full disk = %v, want ErrDiskFull", err)
	}
}
