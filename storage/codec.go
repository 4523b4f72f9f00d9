package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"
)

// Page value encoding (p/<key>), version 3, written since issue 17; versions 1
// and 2, written before, are still read (below). All integers little-endian.
//
//	off size field
//	  0    1 version (3)
//	  1    1 flags: bit 0 = prerendered (see Page.Prerendered); others 0
//	  2    2 status
//	  4    8 rendered at, Unix ns (math.MinInt64 = zero time)
//	 12    8 expires at, Unix ns
//	 20    8 render time, ns
//	 28    4 E: ETag length
//	 32    4 U: URL length
//	 36    4 H: header block length
//	 40    4 G: gzip body length
//	 44    4 MG: Markdown gzip length (0: the page has no Markdown)
//	 48    E ETag      } adjacent, so a view copies both with one allocation
//	       U URL       }
//	       H header block (as in version 1)
//	       G gzip body
//	      MG Markdown gzip
//
// Version 3 keeps the bodies gzipped only. Versions 1 and 2 kept each body
// twice, plain and gzipped: the store was as big as the raw HTML (0.99x at 1 M
// pages of 30 KB), four times what the gzip alone takes, and at that size the
// values no longer fit the page cache (random-key hits ran at 0.26x one-key
// hits). Plain clients are answered from the hot-body cache (hot.go), which
// decompresses a page once, not per request.
//
// Version 1 or 2, as written before version 3:
//
//	off size field
//	  0    1 version (1: no Markdown; 2: the Markdown sections follow)
//	  1    1 flags: bit 0 = prerendered (see Page.Prerendered); others 0
//	  2    2 status
//	  4    8 rendered at, Unix ns (math.MinInt64 = zero time)
//	 12    8 expires at, Unix ns
//	 20    8 render time, ns
//	 28    4 E: ETag length
//	 32    4 U: URL length
//	 36    4 H: header block length
//	 40    4 G: gzip body length
//	 44    4 P: plain body length
//	 48    E ETag      } adjacent, so a view copies both with one allocation
//	       U URL       }
//	       H header block: uvarint names; per name: uvarint len, name,
//	         uvarint values; per value: uvarint len, value. Names canonical
//	         and sorted.
//	       G gzip body
//	       P plain body
//
// The value is exactly 48+E+U+H+G+P bytes; anything else is corrupt. The
// fixed part is decoded with a few loads and the bodies are slices of the
// value, so a hit is a Get plus slicing.
//
// Version 2 is version 1 with the page's Markdown rendition (Page.Markdown)
// after the plain body, and its two lengths after the fixed part:
//
//	48    4 MG: Markdown gzip length
//	52    4 MP: Markdown plain length
//	56    … ETag, URL, header block, gzip body, plain body as in version 1
//	     MG Markdown gzip
//	     MP Markdown plain
//
// A page without Markdown is written as version 1, so pages stored before
// Markdown existed, and pages stored with it turned off, read the same.
const (
	pageVersion     = 1
	pageVersionMD   = 2
	pageVersionGzip = 3
	pageFixedLen    = 48
	pageFixedLenMD  = 56
	pageFlagsOff    = 1
	pageExpiresOff  = 12
	flagPrerendered = 1 << 0
	maxSectionLen   = math.MaxUint32
)

var errCorrupt = errors.New("storage: corrupt value")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errCorrupt}, args...)...)
}

// pageFields is a decoded page value. Byte slices alias the value.
type pageFields struct {
	prerendered bool
	status      int
	renderedAt  time.Time
	expiresAt   time.Time
	renderTime  time.Duration
	etag        string
	url         string
	header      http.Header
	gzip        []byte
	plain       []byte // nil for a version 3 value: gunzip gzip
	mdGzip      []byte // empty for a page without Markdown
	md          []byte // nil for a version 3 value: gunzip mdGzip
}

// encodeHeader encodes h with canonical, sorted names; names with no values
// are dropped.
func encodeHeader(h http.Header) []byte {
	if len(h) == 0 {
		return nil
	}
	canon := make(http.Header, len(h))
	for name, values := range h {
		if len(values) == 0 {
			continue
		}
		c := http.CanonicalHeaderKey(name)
		canon[c] = append(canon[c], values...)
	}
	if len(canon) == 0 {
		return nil
	}
	names := make([]string, 0, len(canon))
	for name := range canon {
		names = append(names, name)
	}
	slices.Sort(names)
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		values := canon[name]
		b = binary.AppendUvarint(b, uint64(len(values)))
		for _, v := range values {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

func decodeHeader(b []byte) (http.Header, error) {
	if len(b) == 0 {
		return nil, nil
	}
	n, b, err := readUvarint(b)
	if err != nil {
		return nil, err
	}
	// Each name needs at least two bytes, which bounds the allocation for
	// arbitrary input.
	if n == 0 || n > uint64(len(b))/2 {
		return nil, corruptf("header count %d", n)
	}
	h := make(http.Header, n)
	for range n {
		var name []byte
		if name, b, err = readBytes(b); err != nil {
			return nil, err
		}
		var nv uint64
		if nv, b, err = readUvarint(b); err != nil {
			return nil, err
		}
		if nv == 0 || nv > uint64(len(b)) {
			return nil, corruptf("header value count %d", nv)
		}
		values := make([]string, nv)
		for j := range values {
			var v []byte
			if v, b, err = readBytes(b); err != nil {
				return nil, err
			}
			values[j] = string(v)
		}
		h[string(name)] = values
	}
	if len(b) != 0 {
		return nil, corruptf("%d bytes after header block", len(b))
	}
	return h, nil
}

func readUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, corruptf("bad varint")
	}
	return v, b[n:], nil
}

func readVarint(b []byte) (int64, []byte, error) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, corruptf("bad varint")
	}
	return v, b[n:], nil
}

func readBytes(b []byte) ([]byte, []byte, error) {
	n, b, err := readUvarint(b)
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(b)) {
		return nil, nil, corruptf("length %d past end", n)
	}
	return b[:n], b[n:], nil
}

// encodePage encodes a prepared page (see preparePage) with its encoded
// header, as version 3: its gzip bodies only.
func encodePage(p *Page, header []byte) ([]byte, error) {
	lens := [5]int{len(p.ETag), len(p.URL), len(header), len(p.Gzip), len(p.MarkdownGzip)}
	total := pageFixedLen
	for _, n := range lens {
		if n > maxSectionLen {
			return nil, fmt.Errorf("storage: page %q has a field of %d bytes, over the 4 GiB limit", p.Key, n)
		}
		total += n
	}
	b := make([]byte, pageFixedLen, total)
	b[0] = pageVersionGzip
	if p.Prerendered {
		b[pageFlagsOff] |= flagPrerendered
	}
	binary.LittleEndian.PutUint16(b[2:], uint16(p.Status))
	binary.LittleEndian.PutUint64(b[4:], uint64(encodeTime(p.RenderedAt)))
	binary.LittleEndian.PutUint64(b[12:], uint64(encodeTime(p.ExpiresAt)))
	binary.LittleEndian.PutUint64(b[20:], uint64(p.RenderTime))
	for i, n := range lens {
		binary.LittleEndian.PutUint32(b[28+4*i:], uint32(n))
	}
	b = append(b, p.ETag...)
	b = append(b, p.URL...)
	b = append(b, header...)
	b = append(b, p.Gzip...)
	b = append(b, p.MarkdownGzip...)
	return b, nil
}

// decodePage decodes a page value. Byte slices in f alias b; the ETag and URL
// are copied (one allocation) and the header is decoded into a new map, so
// they stay valid after b is released.
func decodePage(b []byte, f *pageFields) error {
	if len(b) < pageFixedLen {
		return corruptf("page value of %d bytes", len(b))
	}
	fixed := uint64(pageFixedLen)
	var mg, mp uint64
	switch b[0] {
	case pageVersionGzip:
		return decodePageGzip(b, f)
	case pageVersion:
	case pageVersionMD:
		if len(b) < pageFixedLenMD {
			return corruptf("page value of %d bytes", len(b))
		}
		fixed = pageFixedLenMD
		mg = uint64(binary.LittleEndian.Uint32(b[48:]))
		mp = uint64(binary.LittleEndian.Uint32(b[52:]))
		if mp == 0 {
			return corruptf("page version %d without Markdown", b[0])
		}
	default:
		return corruptf("page version %d", b[0])
	}
	e := uint64(binary.LittleEndian.Uint32(b[28:]))
	u := uint64(binary.LittleEndian.Uint32(b[32:]))
	h := uint64(binary.LittleEndian.Uint32(b[36:]))
	g := uint64(binary.LittleEndian.Uint32(b[40:]))
	p := uint64(binary.LittleEndian.Uint32(b[44:]))
	if want := fixed + e + u + h + g + p + mg + mp; want != uint64(len(b)) {
		return corruptf("page value of %d bytes, sections say %d", len(b), want)
	}
	rest, err := decodeFixed(b, fixed, e, u, h, f)
	if err != nil {
		return err
	}
	f.gzip = rest[:g:g]
	f.plain = rest[g : g+p : g+p]
	f.mdGzip, f.md = nil, nil
	if mp > 0 {
		rest = rest[g+p:]
		f.mdGzip = rest[:mg:mg]
		f.md = rest[mg:]
	}
	return nil
}

// decodeFixed decodes what every page version has in the same place: the fixed
// fields, then the ETag and URL (e and u bytes) and the header (h bytes) after the
// fixed part of fixed bytes. It returns what follows the header: the bodies.
func decodeFixed(b []byte, fixed, e, u, h uint64, f *pageFields) ([]byte, error) {
	f.prerendered = b[pageFlagsOff]&flagPrerendered != 0
	f.status = int(binary.LittleEndian.Uint16(b[2:]))
	f.renderedAt = decodeTime(int64(binary.LittleEndian.Uint64(b[4:])))
	f.expiresAt = decodeTime(int64(binary.LittleEndian.Uint64(b[12:])))
	f.renderTime = time.Duration(binary.LittleEndian.Uint64(b[20:]))
	rest := b[fixed:]
	if e+u > 0 {
		s := string(rest[:e+u])
		f.etag, f.url = s[:e], s[e:]
	} else {
		f.etag, f.url = "", ""
	}
	rest = rest[e+u:]
	header, err := decodeHeader(rest[:h])
	if err != nil {
		return nil, err
	}
	f.header = header
	rest = rest[h:]
	return rest, nil
}

// decodePageGzip decodes a version 3 value, as decodePage.
func decodePageGzip(b []byte, f *pageFields) error {
	e := uint64(binary.LittleEndian.Uint32(b[28:]))
	u := uint64(binary.LittleEndian.Uint32(b[32:]))
	h := uint64(binary.LittleEndian.Uint32(b[36:]))
	g := uint64(binary.LittleEndian.Uint32(b[40:]))
	mg := uint64(binary.LittleEndian.Uint32(b[44:]))
	if want := pageFixedLen + e + u + h + g + mg; want != uint64(len(b)) {
		return corruptf("page value of %d bytes, sections say %d", len(b), want)
	}
	if g == 0 {
		// PutPage gzips every body, the empty one too (20 bytes).
		return corruptf("page version %d without a gzip body", b[0])
	}
	rest, err := decodeFixed(b, pageFixedLen, e, u, h, f)
	if err != nil {
		return err
	}
	f.gzip = rest[:g:g]
	f.plain = nil
	f.mdGzip, f.md = nil, nil
	if mg > 0 {
		f.mdGzip = rest[g:]
	}
	return nil
}

// Page summary encoding (i/<key>), version 1: everything Summary and the
// count on Open need, without the bodies.
//
//	off size field
//	  0    1 version (1)
//	  1    1 flags, reserved, 0
//	  2    2 status
//	  4    8 rendered at, Unix ns
//	 12    8 expires at, Unix ns
//	 20    8 size of the p/ value in bytes
//	 28    … URL
const (
	summaryVersion  = 1
	summaryFixedLen = 28
)

func encodeSummary(m PageMeta) []byte {
	b := make([]byte, summaryFixedLen, summaryFixedLen+len(m.URL))
	b[0] = summaryVersion
	binary.LittleEndian.PutUint16(b[2:], uint16(m.Status))
	binary.LittleEndian.PutUint64(b[4:], uint64(encodeTime(m.RenderedAt)))
	binary.LittleEndian.PutUint64(b[12:], uint64(encodeTime(m.ExpiresAt)))
	binary.LittleEndian.PutUint64(b[20:], uint64(m.Size))
	return append(b, m.URL...)
}

func decodeSummary(b []byte) (PageMeta, error) {
	if len(b) < summaryFixedLen {
		return PageMeta{}, corruptf("page summary of %d bytes", len(b))
	}
	if b[0] != summaryVersion {
		return PageMeta{}, corruptf("page summary version %d", b[0])
	}
	size := binary.LittleEndian.Uint64(b[20:])
	if size > math.MaxInt {
		return PageMeta{}, corruptf("page size %d", size)
	}
	return PageMeta{
		URL:        string(b[summaryFixedLen:]),
		Status:     int(binary.LittleEndian.Uint16(b[2:])),
		RenderedAt: decodeTime(int64(binary.LittleEndian.Uint64(b[4:]))),
		ExpiresAt:  decodeTime(int64(binary.LittleEndian.Uint64(b[12:]))),
		Size:       int(size),
	}, nil
}

// Meta encoding (m/<key>), version 1: the version byte, then varints for
// LastStatus, Consecutive5xx, LastHit (Unix ns), Hits, RenderedAt (Unix ns),
// then Source as uvarint length and bytes. Nothing may follow.
const metaVersion = 1

func encodeMeta(m Meta) []byte {
	b := make([]byte, 1, 1+5*binary.MaxVarintLen64+len(m.Source))
	b[0] = metaVersion
	b = binary.AppendVarint(b, int64(m.LastStatus))
	b = binary.AppendVarint(b, int64(m.Consecutive5xx))
	b = binary.AppendVarint(b, encodeTime(m.LastHit))
	b = binary.AppendVarint(b, m.Hits)
	b = binary.AppendVarint(b, encodeTime(m.RenderedAt))
	b = binary.AppendUvarint(b, uint64(len(m.Source)))
	return append(b, m.Source...)
}

func decodeMeta(b []byte) (Meta, error) {
	if len(b) < 1 {
		return Meta{}, corruptf("empty meta value")
	}
	if b[0] != metaVersion {
		return Meta{}, corruptf("meta version %d", b[0])
	}
	b = b[1:]
	var v [5]int64
	for i := range v {
		var err error
		if v[i], b, err = readVarint(b); err != nil {
			return Meta{}, err
		}
	}
	source, b, err := readBytes(b)
	if err != nil {
		return Meta{}, err
	}
	if len(b) != 0 {
		return Meta{}, corruptf("%d bytes after meta", len(b))
	}
	return Meta{
		LastStatus:     int(v[0]),
		Consecutive5xx: int(v[1]),
		LastHit:        decodeTime(v[2]),
		Hits:           v[3],
		RenderedAt:     decodeTime(v[4]),
		Source:         string(source),
	}, nil
}
