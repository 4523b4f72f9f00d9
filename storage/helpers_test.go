package storage

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func openMem(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(Options{InMemory: true, Logger: testLogger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	<-s.indexed
	return s
}

func openDisk(tb testing.TB, dir string, opts Options) *Store {
	tb.Helper()
	opts.Dir = dir
	if opts.Logger == nil {
		opts.Logger = testLogger(tb)
	}
	s, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	// The body index is built in the background; tests that look at it, or run
	// the garbage pass, want it done.
	<-s.indexed
	return s
}

// htmlBody returns a deterministic HTML-like body of about n bytes that
// compresses like a real page.
func htmlBody(seed uint64, n int) []byte {
	words := []string{"<div class=\"product\">", "<p>", "</p>", "price", "shop", "€19.99",
		"description", "<a href=\"/p/", "\">", "</a>", "lorem", "ipsum", "</div>", "\n"}
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	b.WriteString("<!doctype html><html><head><title>page</title></head><body>")
	for b.Len() < n-14 {
		b.WriteString(words[r.IntN(len(words))])
		fmt.Fprintf(&b, "%d ", r.IntN(1000))
	}
	b.WriteString("</body></html>")
	return b.Bytes()
}

func gzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func gunzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func testPage(key string, expires time.Time) *Page {
	return &Page{
		Key:        key,
		URL:        key[strings.IndexByte(key, '|')+1:],
		Status:     200,
		RenderedAt: t0,
		ExpiresAt:  expires,
		RenderTime: 1500 * time.Millisecond,
		Plain:      []byte("<html>" + key + "</html>"),
	}
}

func mustPut(tb testing.TB, s *Store, p *Page) {
	tb.Helper()
	if err := s.PutPage(p); err != nil {
		tb.Fatalf("PutPage(%q): %v", p.Key, err)
	}
}

// rawKeys lists every key in the database, in order, printable.
func rawKeys(tb testing.TB, s *Store) []string {
	tb.Helper()
	it, err := s.db.NewIter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	var keys []string
	for valid := it.First(); valid; valid = it.Next() {
		keys = append(keys, printableKey(it.Key()))
	}
	if err := it.Close(); err != nil {
		tb.Fatal(err)
	}
	return keys
}

// printableKey shows d/ expiries as times.
func printableKey(k []byte) string {
	if key, exp, ok := parseDueKey(k); ok {
		return prefixDue + exp.Format(time.RFC3339Nano) + "/" + key
	}
	return string(k)
}

func keysWithPrefix(keys []string, prefix string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// rawValue is the value stored under key; for a page (p/) that is the page
// record, read from its body segment when p/ holds a pointer to it.
func rawValue(tb testing.TB, s *Store, key []byte) []byte {
	tb.Helper()
	v, closer, err := s.db.Get(key)
	if err != nil {
		tb.Fatalf("raw Get(%q): %v", key, err)
	}
	defer closer.Close()
	if strings.HasPrefix(string(key), prefixPage) && isPointer(v) {
		l, err := decodePointer(v)
		if err != nil {
			tb.Fatalf("pointer of %q: %v", key, err)
		}
		var buf []byte
		val, c := s.bodies.readAt(l, string(key[len(prefixPage):]), &buf)
		if c != recordOK {
			tb.Fatalf("record of %q at %+v: %d", key, l, c)
		}
		return slices.Clone(val)
	}
	return slices.Clone(v)
}

func headerEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// The Store methods below are used by tests only.

// GetPage returns a copy of the page stored under key, or ErrNotFound.
func (s *Store) GetPage(key string) (*Page, error) {
	var p *Page
	err := s.viewFields(key, func(f *pageFields) {
		plain, md := f.plain, f.md
		if plain == nil {
			plain = mustBody(gunzip(f.gzip, nil))
		}
		if md == nil && len(f.mdGzip) > 0 {
			md = mustBody(gunzip(f.mdGzip, nil))
		}
		body := make([]byte, len(f.gzip)+len(plain))
		copy(body, f.gzip)
		copy(body[len(f.gzip):], plain)
		p = &Page{
			Key:         key,
			URL:         f.url,
			Status:      f.status,
			Header:      f.header,
			RenderedAt:  f.renderedAt,
			ExpiresAt:   f.expiresAt,
			RenderTime:  f.renderTime,
			Gzip:        body[:len(f.gzip):len(f.gzip)],
			Plain:       body[len(f.gzip):],
			ETag:        f.etag,
			Prerendered: f.prerendered,
		}
		if len(md) > 0 {
			p.Markdown = bytes.Clone(md)
			p.MarkdownGzip = bytes.Clone(f.mdGzip)
		}
	})
	return p, err
}

// ScanPages calls fn for each stored page with key >= start, in key order,
// until fn returns false. It reads the small i/ summaries, never the bodies.
// fn may call other Store methods except Close.
func (s *Store) ScanPages(start string, fn func(key string, meta PageMeta) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	it, err := s.prefixIter(prefixIndex, start)
	if err != nil {
		return fmt.Errorf("cannot scan pages: %w", err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("cannot scan pages at %q: %w", k[len(prefixIndex):], err)
		}
		m, err := decodeSummary(v)
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("cannot decode page summary %q: %w", k[len(prefixIndex):], err)
		}
		if !fn(string(k[len(prefixIndex):]), m) {
			break
		}
	}
	if err := it.Error(); err != nil {
		_ = it.Close()
		return fmt.Errorf("cannot scan pages: %w", err)
	}
	return it.Close()
}

// FreeBytes returns the space available to this process on the filesystem
// holding Dir (statfs), or a large constant for an in-memory store.
func (s *Store) FreeBytes() (int64, error) {
	return s.freeBytes()
}

// mustBody is a view's body (PageView.Plain, Markdown); a body that cannot be
// read fails the test that reads it.
func mustBody(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
