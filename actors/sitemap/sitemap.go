package sitemap

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The protocol's own limits (sitemaps.org): 50,000 URLs and 50 MB uncompressed per
// file.
const (
	DefaultMaxEntries = 50_000
	DefaultMaxBytes   = 50 << 20
)

// maxTextRun bounds a run of bytes without '<'. encoding/xml returns a text run as
// one token, so without this bound a file of 50 MB of spaces (the usual gzip bomb)
// would become a 50 MB allocation. No sitemap has a legitimate text run this long: a
// <loc> is at most 2,048 characters.
const maxTextRun = 1 << 20

// maxLocLen is the longest <loc> taken; longer ones are skipped and counted.
const maxLocLen = 8192

// Errors wrapped by Parse. Entries read before the error have been delivered.
var (
	ErrTooLarge       = errors.New("sitemap larger than the uncompressed size limit")
	ErrTooManyEntries = errors.New("sitemap has more entries than the limit")
	ErrMalformed      = errors.New("malformed sitemap")
)

// Kind is what a file holds.
type Kind uint8

const (
	// KindUnknown: the root element was not read (empty or broken file).
	KindUnknown Kind = iota
	// KindURLSet: a <urlset> of page URLs.
	KindURLSet
	// KindIndex: a <sitemapindex> of sitemap URLs.
	KindIndex
)

func (k Kind) String() string {
	switch k {
	case KindURLSet:
		return "urlset"
	case KindIndex:
		return "sitemapindex"
	}
	return "unknown"
}

// Entry is one <url> of a urlset or one <sitemap> of an index.
type Entry struct {
	Loc string
	// LastMod is the zero time when absent or not a W3C datetime.
	LastMod time.Time
}

// Limits bound one file. Zero fields mean the protocol's defaults.
type Limits struct {
	MaxEntries int
	MaxBytes   int64
}

func (l *Limits) ensureDefaults() {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
}

// Stats says what Parse read.
type Stats struct {
	Kind    Kind
	Entries int   // entries delivered to fn
	Skipped int   // entries without a usable <loc> (empty or too long)
	Bytes   int64 // uncompressed bytes read
	Gzip    bool
}

// Parse reads one sitemap file from r, plain or gzipped (recognized by its magic
// bytes, as sites serve .xml.gz files without a Content-Encoding), and calls fn for
// each entry in document order. The kind is known before the first call (the root
// element comes first) and is passed along. An error from fn stops the parse and is
// returned as is.
func Parse(r io.Reader, lim Limits, fn func(Kind, Entry) error) (Stats, error) {
	lim.ensureDefaults()
	var st Stats
	br := bufio.NewReaderSize(r, 32<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("%w: bad gzip header: %v", ErrMalformed, err)
		}
		defer zr.Close()
		st.Gzip = true
		src = zr
	}
	lr := &limitReader{r: src, max: lim.MaxBytes}
	err := parse(lr, lim, &st, fn)
	st.Bytes = lr.n
	return st, err
}

func parse(r *limitReader, lim Limits, st *Stats, fn func(Kind, Entry) error) error {
	d := xml.NewDecoder(r)
	// Sitemaps are UTF-8 by the protocol; a file declaring another charset fails
	// as malformed rather than being misread.
	var (
		depth   int
		item    bool // inside <url> or <sitemap>
		field   string
		loc     strings.Builder
		lastmod strings.Builder
		tooLong bool
	)
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if st.Kind == KindUnknown {
					return fmt.Errorf("%w: no urlset or sitemapindex element", ErrMalformed)
				}
				return nil
			}
			if r.err != nil {
				return r.err
			}
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			name := t.Name.Local
			switch {
			case depth == 1:
				switch name {
				case "urlset":
					st.Kind = KindURLSet
				case "sitemapindex":
					st.Kind = KindIndex
				default:
					return fmt.Errorf("%w: root element <%s> is not urlset or sitemapindex", ErrMalformed, name)
				}
			case depth == 2 && (st.Kind == KindURLSet && name == "url" || st.Kind == KindIndex && name == "sitemap"):
				item = true
				loc.Reset()
				lastmod.Reset()
				tooLong = false
			case depth == 3 && item && (name == "loc" || name == "lastmod"):
				field = name
			}
		case xml.EndElement:
			if depth == 3 {
				field = ""
			}
			if depth == 2 && item {
				item = false
				l := strings.TrimSpace(loc.String())
				if l == "" || tooLong {
					st.Skipped++
					break
				}
				if st.Entries >= lim.MaxEntries {
					return fmt.Errorf("%w: more than %d entries", ErrTooManyEntries, lim.MaxEntries)
				}
				st.Entries++
				if err := fn(st.Kind, Entry{Loc: l, LastMod: ParseLastMod(lastmod.String())}); err != nil {
					return err
				}
			}
			depth--
		case xml.CharData:
			switch field {
			case "loc":
				if loc.Len()+len(t) > maxLocLen {
					tooLong = true
				} else {
					loc.Write(t)
				}
			case "lastmod":
				if lastmod.Len()+len(t) <= 64 {
					lastmod.Write(t)
				}
			}
		}
	}
}

// limitReader ends the stream with ErrTooLarge past max bytes, and with
// ErrMalformed on a text run longer than maxTextRun (see there).
type limitReader struct {
	r   io.Reader
	max int64
	n   int64
	run int // bytes since the last '<'
	err error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if rest := l.max - l.n; int64(len(p)) > rest+1 {
		// One byte past the limit tells a file of exactly max bytes from a larger one.
		p = p[:rest+1]
	}
	n, err := l.r.Read(p)
	if l.n+int64(n) > l.max {
		n = int(l.max - l.n)
		l.err = fmt.Errorf("%w: more than %d bytes uncompressed", ErrTooLarge, l.max)
		err = l.err
	}
	l.n += int64(n)
	for chunk := p[:n]; ; {
		i := bytes.IndexByte(chunk, '<')
		if i < 0 {
			l.run += len(chunk)
			break
		}
		l.run += i
		if l.run > maxTextRun {
			break
		}
		l.run = 0
		chunk = chunk[i+1:]
	}
	if l.run > maxTextRun {
		l.err = fmt.Errorf("%w: a text run longer than %d bytes", ErrMalformed, maxTextRun)
		return 0, l.err
	}
	return n, err
}

// lastmodLayouts are the W3C datetime forms the protocol allows, most precise first.
var lastmodLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02",
	"2006-01",
	"2006",
}

// ParseLastMod reads a W3C datetime; anything else is the zero time (an unusable
// lastmod means "unknown", not a broken file).
func ParseLastMod(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 40 {
		return time.Time{}
	}
	for _, layout := range lastmodLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// maxRobotsBytes bounds robots.txt: Google reads the first 500 KiB.
const maxRobotsBytes = 500 << 10

// RobotsSitemaps returns the URLs of the Sitemap: lines of a robots.txt (the field
// name is case-insensitive and may appear anywhere in the file), reading at most
// 500 KiB.
func RobotsSitemaps(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxRobotsBytes))
	sc.Buffer(make([]byte, 0, 4096), maxRobotsBytes)
	var out []string
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "sitemap") {
			continue
		}
		if v := strings.TrimSpace(value); v != "" && len(v) <= maxLocLen {
			out = append(out, v)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("cannot read robots.txt: %w", err)
	}
	return out, nil
}
