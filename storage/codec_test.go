package storage

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"testing"
	"time"
)

func TestDecodePageRejectsDamagedValues(t *testing.T) {
	p := &Page{Key: "k", URL: "https://a/", Status: 200, ExpiresAt: t0, Plain: []byte("body"),
		Header: http.Header{"Location": {"/x"}}}
	if err := preparePage(p); err != nil {
		t.Fatal(err)
	}
	good, err := encodePage(p, encodeHeader(p.Header))
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name  string
		value []byte
	}{
		{"an empty value", nil},
		{"a value shorter than the fixed part", good[:pageFixedLen-1]},
		{"an unknown version", mutate(func(b []byte) []byte { b[0] = 4; return b })},
		{"a version 3 value labelled version 2", mutate(func(b []byte) []byte { b[0] = pageVersionMD; return b })},
		{"a version 3 value without its gzip body", func() []byte {
			b := bytes.Clone(good[:pageFixedLen+len(p.ETag)+len(p.URL)+len(encodeHeader(p.Header))])
			binary.LittleEndian.PutUint32(b[40:], 0)
			return b
		}()},
		{"a truncated body", good[:len(good)-1]},
		{"trailing bytes", append(bytes.Clone(good), 0)},
		{"a section length past the end", mutate(func(b []byte) []byte { b[47] = 0xff; return b })},
		{"a header block with a bad count", mutate(func(b []byte) []byte {
			b[pageFixedLen+len(p.ETag)+len(p.URL)] = 0x7f
			return b
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is corrupt", func(t *testing.T) {
			var f pageFields
			if err := decodePage(tc.value, &f); err == nil {
				t.Fatal("decodePage accepted it")
			}
		})
	}
}

func FuzzDecodePage(f *testing.F) {
	for _, p := range []*Page{
		{Key: "k", Status: 200, ExpiresAt: t0, Plain: []byte("<html></html>")},
		{Key: "k", URL: "https://a/", Status: 301, ExpiresAt: t0, RenderedAt: t0, RenderTime: time.Second,
			Header: http.Header{"Location": {"https://b/"}, "X-A": {"1", "2"}}},
		{Key: "k", URL: "https://a/", Status: 200, ExpiresAt: t0, Plain: []byte("<h1>A</h1>"), Markdown: []byte("# A\n")},
	} {
		if err := preparePage(p); err != nil {
			f.Fatal(err)
		}
		b, err := encodePage(p, encodeHeader(p.Header))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{pageVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		var pf pageFields
		if err := decodePage(b, &pf); err != nil {
			return
		}
		// What decodes must encode back to the same bytes, except that
		// header names are canonicalized and sorted on encode.
		p := &Page{URL: pf.url, Status: pf.status, RenderedAt: pf.renderedAt, ExpiresAt: pf.expiresAt,
			RenderTime: pf.renderTime, ETag: pf.etag, Gzip: pf.gzip, Plain: pf.plain,
			Markdown: pf.md, MarkdownGzip: pf.mdGzip}
		fixed := pageFixedLen
		if b[0] == pageVersionMD {
			fixed = pageFixedLenMD
		}
		if len(pf.gzip)+len(pf.plain)+len(pf.mdGzip)+len(pf.md) != len(b)-fixed-len(pf.etag)-len(pf.url)-headerLen(b) {
			t.Fatalf("bodies do not cover the rest of the value")
		}
		again, err := encodePage(p, encodeHeader(pf.header))
		if err != nil {
			t.Fatal(err)
		}
		var pf2 pageFields
		if err := decodePage(again, &pf2); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if pf2.status != pf.status || !bytes.Equal(pf2.plain, pf.plain) || !bytes.Equal(pf2.gzip, pf.gzip) ||
			pf2.etag != pf.etag || pf2.url != pf.url || !pf2.expiresAt.Equal(pf.expiresAt) ||
			!bytes.Equal(pf2.md, pf.md) || !bytes.Equal(pf2.mdGzip, pf.mdGzip) {
			t.Fatalf("re-encoded value decodes differently")
		}
	})
}

func headerLen(b []byte) int {
	return int(uint32(b[36]) | uint32(b[37])<<8 | uint32(b[38])<<16 | uint32(b[39])<<24)
}

func FuzzDecodeMetaAndSummary(f *testing.F) {
	f.Add(encodeMeta(Meta{LastStatus: 503, Consecutive5xx: 2, LastHit: t0, Hits: 9, Source: "api", RenderedAt: t0}))
	f.Add(encodeSummary(PageMeta{URL: "https://a/", Status: 200, RenderedAt: t0, ExpiresAt: t0, Size: 1234}))
	f.Add([]byte{metaVersion, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeMeta(b); err == nil {
			if got, err := decodeMeta(encodeMeta(m)); err != nil || !metaEqual(got, m) {
				t.Fatalf("meta does not survive a re-encode: %+v, %v", got, err)
			}
		}
		_, _ = decodeSummary(b)
		_, _, _ = parseDueKey(b)
	})
}
