package sitemap

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

type got struct {
	kind    Kind
	entries []Entry
}

func parseAll(t testing.TB, data []byte, lim Limits) (got, Stats, error) {
	t.Helper()
	var g got
	st, err := Parse(bytes.NewReader(data), lim, func(k Kind, e Entry) error {
		g.kind = k
		g.entries = append(g.entries, e)
		return nil
	})
	return g, st, err
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const urlset = `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url><loc> https://shop.example/ </loc><lastmod>2026-11-01</lastmod><changefreq>daily</changefreq></url>
  <url><loc>https://shop.example/p?a=1&amp;b=2</loc><lastmod>2026-10-15T08:30:00Z</lastmod>
    <image:image><image:loc>https://cdn.example/1.png</image:loc></image:image></url>
  <url><loc><![CDATA[https://shop.example/cdata]]></loc><lastmod>not a date</lastmod></url>
  <url><loc></loc></url>
</urlset>`

func TestParse(t *testing.T) {
	want := []Entry{
		{"https://shop.example/", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{"https://shop.example/p?a=1&b=2", time.Date(2026, 10, 15, 8, 30, 0, 0, time.UTC)},
		{"https://shop.example/cdata", time.Time{}},
	}
	for name, data := range map[string][]byte{"plain": []byte(urlset), "gzipped": gz(t, []byte(urlset))} {
		t.Run("a "+name+" urlset gives its URLs, lastmods and skips an empty loc", func(t *testing.T) {
			g, st, err := parseAll(t, data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if g.kind != KindURLSet || st.Kind != KindURLSet {
				t.Fatalf("kind %v / %v, want urlset", g.kind, st.Kind)
			}
			if fmt.Sprint(g.entries) != fmt.Sprint(want) {
				t.Fatalf("entries\n got %v\nwant %v", g.entries, want)
			}
			if st.Skipped != 1 || st.Entries != 3 || st.Gzip != (name == "gzipped") || st.Bytes != int64(len(urlset)) {
				t.Fatalf("stats %+v", st)
			}
		})
	}
	t.Run("an index gives its sitemaps", func(t *testing.T) {
		idx := `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
		<sitemap><loc>https://shop.example/a.xml</loc><lastmod>2026-11-01T10:00:00+02:00</lastmod></sitemap>
		<sitemap><loc>https://shop.example/b.xml.gz</loc></sitemap></sitemapindex>`
		g, _, err := parseAll(t, []byte(idx), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want := []Entry{{"https://shop.example/a.xml", time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)}, {"https://shop.example/b.xml.gz", time.Time{}}}
		if g.kind != KindIndex || fmt.Sprint(g.entries) != fmt.Sprint(want) {
			t.Fatalf("got %v %v", g.kind, g.entries)
		}
	})
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		lim       Limits
		want      error
		delivered int
	}{
		{"an empty file is malformed", "", Limits{}, ErrMalformed, 0},
		{"an HTML page is malformed", "<html><body>not found</body></html>", Limits{}, ErrMalformed, 0},
		{"a truncated file keeps what was read", `<urlset><url><loc>https://a.example/1</loc></url><url><loc>https://a.example/2</lo`, Limits{}, ErrMalformed, 1},
		{"mismatched tags keep what was read", `<urlset><url><loc>https://a.example/1</loc></url><url></loc></url></urlset>`, Limits{}, ErrMalformed, 1},
		{"a non-UTF-8 charset is malformed", `<?xml version="1.0" encoding="ISO-8859-1"?><urlset></urlset>`, Limits{}, ErrMalformed, 0},
		{"a broken gzip stream is malformed", "\x1f\x8bnot gzip at all", Limits{}, ErrMalformed, 0},
		{"entries past the limit stop the file", `<urlset><url><loc>https://a.example/1</loc></url><url><loc>https://a.example/2</loc></url><url><loc>https://a.example/3</loc></url></urlset>`, Limits{MaxEntries: 2}, ErrTooManyEntries, 2},
		{"bytes past the limit stop the file", `<urlset><url><loc>https://a.example/1</loc></url>` + strings.Repeat("<!-- padding -->", 100) + `<url><loc>https://a.example/2</loc></url></urlset>`, Limits{MaxBytes: 200}, ErrTooLarge, 1},
		{"a huge text run is refused before it is buffered", `<urlset><url><loc>https://a.example/1</loc></url>` + strings.Repeat(" ", maxTextRun+10) + `</urlset>`, Limits{}, ErrMalformed, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, _, err := parseAll(t, []byte(tc.data), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(g.entries) != tc.delivered {
				t.Fatalf("delivered %d entries before the error, want %d", len(g.entries), tc.delivered)
			}
		})
	}
	t.Run("a file of exactly the size limit is read", func(t *testing.T) {
		data := `<urlset><url><loc>https://a.example/1</loc></url></urlset>`
		if _, _, err := parseAll(t, []byte(data), Limits{MaxBytes: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an error from the callback stops the parse", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		_, err := Parse(strings.NewReader(urlset), Limits{}, func(Kind, Entry) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("err %v after %d calls", err, n)
		}
	})
}

// bomb is a gzip file of a few hundred KB that inflates to size bytes: a urlset with
// two URLs, then whitespace in 1 MiB gzip members (gzip readers read concatenated
// members as one stream).
func bomb(t testing.TB, size int64, run string) []byte {
	head := gz(t, []byte(`<urlset><url><loc>https://a.example/1</loc></url><url><loc>https://a.example/2</loc></url>`))
	pad := gz(t, []byte(strings.Repeat(run, (1<<20)/len(run))))
	var b bytes.Buffer
	b.Write(head)
	for n := int64(0); n < size; n += 1 << 20 {
		b.Write(pad)
	}
	return b.Bytes()
}

func TestGzipBombStopsAtTheLimit(t *testing.T) {
	tests := []struct {
		name string
		run  string
		lim  Limits
		want error
	}{
		// Whitespace alone is one text token: refused after 1 MiB, nothing buffered.
		{"a bomb of whitespace", " ", Limits{}, ErrMalformed},
		// Short elements keep the text runs short: the size limit is what stops it.
		// A 2 MiB limit instead of 50 MB keeps the race-detector run short; the
		// limit is the same code either way.
		{"a bomb of empty elements", "<x/>", Limits{MaxBytes: 2 << 20}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name+" stops with the URLs before it kept", func(t *testing.T) {
			data := bomb(t, 1<<30, tc.run) // 1 GiB uncompressed
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			g, st, err := parseAll(t, data, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(g.entries) != 2 {
				t.Fatalf("kept %d URLs, want 2", len(g.entries))
			}
			tc.lim.ensureDefaults()
			if st.Bytes > tc.lim.MaxBytes {
				t.Fatalf("read %d bytes, past the %d limit", st.Bytes, tc.lim.MaxBytes)
			}
			runtime.ReadMemStats(&ms)
			if alloc := ms.TotalAlloc - before; tc.run == " " && alloc > 8<<20 {
				t.Fatalf("allocated %d bytes for a whitespace bomb", alloc)
			}
			t.Logf("%s: %d compressed bytes, stopped after %d uncompressed: %v", tc.name, len(data), st.Bytes, err)
		})
	}
}

func TestParseLastMod(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026":                         time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		"2026-11":                      time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-20":                   time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC),
		" 2026-11-20T10:05+01:00 ":     time.Date(2026, 11, 20, 9, 5, 0, 0, time.UTC),
		"2026-11-20T10:05:06Z":         time.Date(2026, 11, 20, 10, 5, 6, 0, time.UTC),
		"2026-11-20T10:05:06.25-02:00": time.Date(2026, 11, 20, 12, 5, 6, 250e6, time.UTC),
		"":                             {},
		"yesterday":                    {},
		"2026-13-01":                   {},
		"20261120":                     {},
	} {
		if got := ParseLastMod(in); !got.Equal(want) {
			t.Errorf("ParseLastMod(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRobotsSitemaps(t *testing.T) {
	robots := "User-agent: *\nDisallow: /cart\n\nSitemap: https://shop.example/sitemap.xml\n" +
		"sitemap:https://shop.example/news.xml # news\r\nSITEMAP : https://cdn.example/s.xml.gz\nSitemap:\nAllow: /\n"
	got, err := RobotsSitemaps(strings.NewReader(robots))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://shop.example/sitemap.xml", "https://shop.example/news.xml", "https://cdn.example/s.xml.gz"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	t.Run("a robots.txt past 500 KiB is read up to there", func(t *testing.T) {
		big := "Sitemap: https://a.example/1.xml\n" + strings.Repeat("#", maxRobotsBytes) + "\nSitemap: https://a.example/2.xml\n"
		got, _ := RobotsSitemaps(strings.NewReader(big))
		if len(got) != 1 {
			t.Fatalf("got %q", got)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(urlset))
	f.Add(gz(f, []byte(urlset)))
	f.Add([]byte(`<sitemapindex><sitemap><loc>https://a.example/s.xml</loc></sitemap></sitemapindex>`))
	f.Add([]byte(`<urlset><url><loc>x</loc><lastmod>2026-01</lastmod></url></urlset>`))
	f.Add([]byte("\x1f\x8b\x08"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxEntries: 100, MaxBytes: 1 << 16}
		n := 0
		st, err := Parse(bytes.NewReader(data), lim, func(k Kind, e Entry) error {
			n++
			if k == KindUnknown {
				t.Fatal("entry delivered before the root element was known")
			}
			if strings.TrimSpace(e.Loc) != e.Loc || e.Loc == "" || len(e.Loc) > maxLocLen {
				t.Fatalf("bad loc %q", e.Loc)
			}
			return nil
		})
		if n != st.Entries || n > lim.MaxEntries || st.Bytes > lim.MaxBytes {
			t.Fatalf("delivered %d, stats %+v", n, st)
		}
		if err == nil && st.Kind == KindUnknown {
			t.Fatal("no error and no kind")
		}
	})
}

func FuzzRobotsSitemaps(f *testing.F) {
	f.Add("Sitemap: https://a.example/s.xml\n")
	f.Add("sitemap:x#y\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := RobotsSitemaps(strings.NewReader(s))
		for _, u := range got {
			if u == "" || strings.TrimSpace(u) != u || strings.ContainsAny(u, "\n#") {
				t.Fatalf("bad sitemap URL %q", u)
			}
		}
	})
}

// bigURLSet is a gzipped urlset of n URLs of realistic length, all with lastmod.
func bigURLSet(tb testing.TB, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` + "\n")
	for i := range n {
		fmt.Fprintf(&b, "  <url>\n    <loc>https://shop.example/products/category-%d/espresso-machine-model-%d?color=black</loc>\n    <lastmod>2026-11-%02dT10:00:00+00:00</lastmod>\n    <changefreq>daily</changefreq>\n    <priority>0.8</priority>\n  </url>\n", i%97, i, 1+i%28)
	}
	b.WriteString("</urlset>\n")
	return gz(tb, b.Bytes())
}

// BenchmarkParse50kGzip reads a 50,000-URL gzipped sitemap (the protocol's maximum
// entry count). Goal: under 2 s and 50 MB of heap; peak-heap-MB is the largest heap
// in use sampled during the parse.
func BenchmarkParse50kGzip(b *testing.B) {
	data := bigURLSet(b, 50_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var peak uint64
	var uncompressed int64
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		n := 0
		st, err := Parse(bytes.NewReader(data), Limits{}, func(k Kind, e Entry) error {
			n++
			if n%5000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc-min(base, ms.HeapAlloc))
			}
			return nil
		})
		if err != nil || n != 50_000 {
			b.Fatalf("%d entries: %v", n, err)
		}
		uncompressed = st.Bytes
	}
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(uncompressed)/1e6, "uncompressed-MB")
	_ = io.Discard
}
