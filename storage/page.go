package storage

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Page is a rendered page as stored.
type Page struct {
	Key        string
	URL        string
	Status     int
	Header     http.Header // stored response headers (e.g. Location, from prerender-header)
	RenderedAt time.Time
	ExpiresAt  time.Time
	RenderTime time.Duration
	// Gzip is the gzip-compressed body, sent as is to clients that accept
	// gzip. After PutPage it is always a valid gzip stream, also for an empty
	// body: PutPage compresses Plain when Gzip is not given (gzipBody), the
	// one place a page is gzipped.
	Gzip []byte
	// Plain is the same body uncompressed. It is not stored (only Gzip is,
	// see codec.go): a view's Plain makes it, once per page while the page
	// stays in the hot-body cache.
	Plain []byte
	// ETag is a strong ETag derived from the hash of Plain (bodyETag), set by
	// PutPage when empty: the one place a page's tag is made.
	ETag string
	// Prerendered: rendered by a recache queue before any crawler asked for
	// it; the first serve says so (X-Prerender-Cache: PRERENDER), then
	// MarkServed clears it.
	Prerendered bool
	// Markdown is the page's Markdown rendition for AI agents (package
	// markdown), made once when the page is rendered; empty for a page
	// stored without one (before Markdown existed, with it turned off, or
	// when the conversion failed). MarkdownGzip is its gzip, made by PutPage
	// like Gzip, and the one of the two that is stored.
	Markdown     []byte
	MarkdownGzip []byte
}

// PageView is a page as seen by a ViewPage callback. Gzip, MarkdownGzip and
// the bodies Plain and Markdown return are valid only inside the callback
// (they alias Pebble's buffer, the hot-body cache or a pooled buffer); the
// strings are the caller's to keep, and so is the Header map, which must not
// be modified (it may be shared by every hit of the page).
type PageView struct {
	Status     int
	Header     http.Header // nil when the page has no stored headers
	RenderedAt time.Time
	ExpiresAt  time.Time
	ETag       string
	Gzip       []byte
	URL        string
	// Prerendered: see Page.Prerendered.
	Prerendered bool
	// MarkdownGzip is the gzip of the page's Markdown rendition (see
	// Page.Markdown); empty for a page stored without one.
	MarkdownGzip []byte

	plain, md []byte // known: read from a version 1 or 2 value, or made
	entry     *hotEntry
	hot       *hotCache
	st        *viewState
}

// Plain is the page's plain body: from the hot-body cache, or gunzipped from
// Gzip (once per page while it stays in the cache; per call when the cache is
// off or the page is too big for it).
func (v *PageView) Plain() ([]byte, error) {
	if v.plain != nil {
		return v.plain, nil
	}
	var err error
	if v.entry != nil {
		v.plain, err = v.hot.body(v.entry, false)
	} else {
		v.plain, err = gunzip(v.Gzip, v.st.plain[:0])
		v.st.plain = v.plain
	}
	return v.plain, err
}

// HasMarkdown reports whether the page was stored with its Markdown rendition.
func (v *PageView) HasMarkdown() bool { return len(v.MarkdownGzip) > 0 }

// Markdown is the page's Markdown rendition (empty when it has none), made
// from MarkdownGzip as Plain is made from Gzip.
func (v *PageView) Markdown() ([]byte, error) {
	if v.md != nil || !v.HasMarkdown() {
		return v.md, nil
	}
	var err error
	if v.entry != nil {
		v.md, err = v.hot.body(v.entry, true)
	} else {
		v.md, err = gunzip(v.MarkdownGzip, v.st.md[:0])
		v.st.md = v.md
	}
	return v.md, err
}

// PageMeta summarizes a stored page (Summary, ScanPagesMeta).
type PageMeta struct {
	URL        string
	Status     int
	RenderedAt time.Time
	ExpiresAt  time.Time
	// Size is the stored size of the page value in bytes (both bodies and the
	// headers), what the page costs in the cache.
	Size int
}

// viewState is pooled so that a hit allocates neither its key nor its view;
// plain and md keep the buffers of bodies gunzipped without the hot cache.
type viewState struct {
	key       []byte
	page      pageFields
	view      PageView
	plain, md []byte
	rec       []byte // the record read from a body segment
}

var viewPool = sync.Pool{New: func() any { return &viewState{key: make([]byte, 0, 256)} }}

// maxPooledBody bounds the gunzip buffers a pooled view keeps for the next.
const maxPooledBody = 1 << 20

// ViewPage calls fn with a view of the page stored under key, or returns
// ErrNotFound. A page in the hot-body cache (hot.go) is viewed from memory;
// otherwise it is one Get and no copy of the bodies, and the page joins the
// cache. fn must not keep v or its byte slices (see PageView). The error fn
// returns is returned as is.
func (s *Store) ViewPage(key string, fn func(v *PageView) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	st := viewPool.Get().(*viewState)
	defer func() {
		plain, md := st.plain, st.md
		if cap(plain) > maxPooledBody {
			plain = nil
		}
		if cap(md) > maxPooledBody {
			md = nil
		}
		rec := st.rec
		if cap(rec) > maxPooledBody {
			rec = nil
		}
		*st = viewState{key: st.key[:0], plain: plain[:0], md: md[:0], rec: rec[:0]}
		viewPool.Put(st)
	}()
	var gen uint64
	if s.hot != nil {
		var e *hotEntry
		if e, gen = s.hot.get(key); e != nil {
			st.view = viewOfEntry(s.hot, e, st)
			return fn(&st.view)
		}
	}
	st.key = appendKey(st.key[:0], prefixPage, key)
	val, closer, err := s.readPageValue(key, st.key, &st.rec)
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer.Close()
	}
	if err := decodePage(val, &st.page); err != nil {
		return fmt.Errorf("cannot decode page %q: %w", key, err)
	}
	if s.hot != nil {
		if e := s.hot.put(key, gen, &st.page); e != nil {
			st.view = viewOfEntry(s.hot, e, st)
			return fn(&st.view)
		}
	}
	f := &st.page
	st.view = PageView{
		Status:       f.status,
		Header:       f.header,
		RenderedAt:   f.renderedAt,
		ExpiresAt:    f.expiresAt,
		ETag:         f.etag,
		Gzip:         f.gzip,
		URL:          f.url,
		Prerendered:  f.prerendered,
		MarkdownGzip: f.mdGzip,
		plain:        f.plain,
		md:           f.md,
		st:           st,
	}
	return fn(&st.view)
}

func viewOfEntry(c *hotCache, e *hotEntry, st *viewState) PageView {
	v := PageView{
		Status:       e.status,
		Header:       e.header,
		RenderedAt:   e.renderedAt,
		ExpiresAt:    e.expiresAt,
		ETag:         e.etag,
		Gzip:         e.gzip,
		URL:          e.url,
		Prerendered:  e.prerendered,
		MarkdownGzip: e.mdGzip,
		entry:        e,
		hot:          c,
		st:           st,
	}
	if p := e.plain.Load(); p != nil {
		v.plain = *p
	}
	if m := e.md.Load(); m != nil {
		v.md = *m
	}
	return v
}

// commitPages commits b, which writes the pages of keys and moves the page count
// and stored bytes by pages and bytes (commitCounted), and drops the keys from
// the hot-body cache: the one place the cache is invalidated and the counters
// are kept, so every write of p/ or i/ must commit through it.
//
// The body segments the batch appended to are synced first, and the index and
// the segments' live bytes are updated as soon as the batch is applied (before
// the hot cache is invalidated, so a reader that misses the cache afterwards
// finds the new location).
func (s *Store) commitPages(b *pageBatch, wo *pebble.WriteOptions, pages, bytes int64, keys ...string) error {
	err := b.syncBodies()
	if err == nil {
		err = s.commitCounted(b.Batch, wo, pages, bytes, func() { s.applyMoves(b.moves) })
	}
	if s.hot != nil {
		for _, k := range keys {
			s.hot.invalidate(k)
		}
	}
	return err
}

func (s *Store) viewFields(key string, fn func(f *pageFields)) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	var buf []byte
	val, closer, err := s.readPageValue(key, appendKey(nil, prefixPage, key), &buf)
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer.Close()
	}
	var f pageFields
	if err := decodePage(val, &f); err != nil {
		return fmt.Errorf("cannot decode page %q: %w", key, err)
	}
	fn(&f)
	return nil
}

// PutPage stores p in one synced batch (it survives kill -9): the page
// p/<key>, its summary i/<key>, its due index entry d/<expires>/<key>
// (replacing the previous one), and m/<key> with LastStatus and RenderedAt
// updated (Consecutive5xx is reset for a status below 500; other fields are
// kept). PutPage fills in p.ETag when empty, and p.Gzip or p.Plain when only
// the other is given; when both are given they must hold the same body.
//
// INVARIANT: only the shard owner of p.Key writes p/, i/, d/ and m/ for that
// key (PutPage, PutMeta, DeletePage), one call at a time. PutPage reads the
// previous summary and meta and writes the batch without a lock; a concurrent
// write of the same key could leave two d/ entries or a wrong page count.
// Calls for different keys and concurrent readers are safe.
func (s *Store) PutPage(p *Page) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.bodies.writers.RLock()
	defer s.bodies.writers.RUnlock()
	return s.putPage(p, pebble.Sync)
}

func (s *Store) putPage(p *Page, wo *pebble.WriteOptions) error {
	b := s.newPageBatch()
	defer b.Close()
	added, size, err := s.putInto(b, p)
	if err != nil {
		return err
	}
	if err := s.checkFree(int64(b.Len()), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot store page %q: %w", p.Key, err)
	}
	if err := s.commitPages(b, wo, added, size, p.Key); err != nil {
		return fmt.Errorf("cannot store page %q: %w", p.Key, err)
	}
	return nil
}

// putInto adds to b the writes of PutPage for p, and returns what they add to the
// page count (0 or 1) and to the stored bytes. It reads the previous summary and
// meta of p.Key from the database, not from b: a batch holds one put per key.
func (s *Store) putInto(b *pageBatch, p *Page) (added, size int64, err error) {
	if err := preparePage(p); err != nil {
		return 0, 0, err
	}
	val, err := encodePage(p, encodeHeader(p.Header))
	if err != nil {
		return 0, 0, err
	}
	prev, existed, err := s.summary(p.Key)
	if err != nil {
		return 0, 0, err
	}
	meta, err := s.meta(p.Key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, 0, err
	}
	meta.LastStatus = p.Status
	meta.RenderedAt = p.RenderedAt
	if p.Status < 500 {
		meta.Consecutive5xx = 0
	}
	summary := encodeSummary(PageMeta{
		URL: p.URL, Status: p.Status, RenderedAt: p.RenderedAt, ExpiresAt: p.ExpiresAt, Size: len(val),
	})
	if err := s.setPageValue(b, p.Key, val); err != nil {
		return 0, 0, err
	}
	_ = b.Set(appendKey(nil, prefixIndex, p.Key), summary, nil)
	newDue := appendDueKey(nil, p.ExpiresAt, p.Key)
	if existed {
		if oldDue := appendDueKey(nil, prev.ExpiresAt, p.Key); !bytes.Equal(oldDue, newDue) {
			_ = b.Delete(oldDue, nil)
		}
	}
	_ = b.Set(newDue, nil, nil)
	_ = b.Set(appendKey(nil, prefixMeta, p.Key), encodeMeta(meta), nil)
	if !existed {
		added = 1
	}
	return added, int64(len(val) - prev.Size), nil
}

// preparePage checks p and fills in the derived fields.
func preparePage(p *Page) error {
	switch {
	case p.Key == "":
		return errors.New("storage: page has an empty Key")
	case p.Status < 100 || p.Status > 999:
		return fmt.Errorf("storage: page %q has status %d, want 100-999", p.Key, p.Status)
	case p.ExpiresAt.IsZero():
		return fmt.Errorf("storage: page %q has no ExpiresAt", p.Key)
	}
	if len(p.Plain) == 0 && len(p.Gzip) > 0 {
		zr, err := gzip.NewReader(bytes.NewReader(p.Gzip))
		if err != nil {
			return fmt.Errorf("cannot gunzip body of page %q: %w", p.Key, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			return fmt.Errorf("cannot gunzip body of page %q: %w", p.Key, err)
		}
		p.Plain = plain
	}
	if len(p.Gzip) == 0 {
		gz, err := gzipBody(p.Plain)
		if err != nil {
			return fmt.Errorf("cannot gzip body of page %q: %w", p.Key, err)
		}
		p.Gzip = gz
	}
	if p.ETag == "" {
		p.ETag = bodyETag(p.Plain)
	}
	if len(p.Markdown) > 0 && len(p.MarkdownGzip) == 0 {
		// Stored gzipped too: a Markdown hit must cost what an HTML hit costs,
		// and a gzip per answer would not (see gzipBody).
		gz, err := gzipBody(p.Markdown)
		if err != nil {
			return fmt.Errorf("cannot gzip the Markdown of page %q: %w", p.Key, err)
		}
		p.MarkdownGzip = gz
	}
	return nil
}

// gzipBody compresses a page body once, when it is stored; every gzip client
// is sent these bytes as they are. The default level: on a 100 KB page of
// HTML the best level saved 6% of the bytes for twice the CPU (measured).
func gzipBody(plain []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(plain) / 4)
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(plain); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// bodyETag is the one entity tag of a page: strong, 128 bits of the SHA-256 of
// the plain body in hex. The HTTP front derives the gzip body's tag from it.
func bodyETag(plain []byte) string {
	sum := sha256.Sum256(plain)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// DeletePage removes the page under key with its summary, due index entry and
// metadata, in one synced batch. Deleting a key that has nothing stored is
// not an error.
//
// Deletes free space, so they go on below MinFreeBytes, down to the floor
// Pebble needs to take them (see deleteFloor): an operator can clear pages
// and eviction can make room once puts are refused.
//
// INVARIANT: see PutPage; only the key's shard owner deletes it.
func (s *Store) DeletePage(key string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.bodies.writers.RLock()
	defer s.bodies.writers.RUnlock()
	b := s.newPageBatch()
	defer b.Close()
	counted, size, err := s.deleteInto(b, key)
	if err != nil {
		return err
	}
	if err := s.checkFree(int64(b.Len()), s.deleteFloor()); err != nil {
		return fmt.Errorf("cannot delete page %q: %w", key, err)
	}
	var removed int64
	if counted {
		removed = 1
	}
	if err := s.commitPages(b, pebble.Sync, -removed, -size, key); err != nil {
		return fmt.Errorf("cannot delete page %q: %w", key, err)
	}
	return nil
}

// deleteInto adds to b the deletes of every key of the page key: p/, i/, m/ and
// its d/ entry. counted tells whether the page had a summary, which is what
// PageCount counts, and size is its size then.
func (s *Store) deleteInto(b *pageBatch, key string) (counted bool, size int64, err error) {
	prev, existed, err := s.summary(key)
	if err != nil {
		return false, 0, err
	}
	counted = existed
	if !existed {
		// No summary: a page can only lack one if the keyspace was damaged;
		// read its expiry from the page itself so no d/ entry dangles.
		err := s.viewFields(key, func(f *pageFields) { prev.ExpiresAt = f.expiresAt })
		switch {
		case err == nil:
			existed = true
		case !errors.Is(err, ErrNotFound):
			s.log.Warn("storage cannot read page to delete its due entry", "key", key, "err", err)
		}
	}
	if err := s.deletePageValue(b, key); err != nil {
		return false, 0, err
	}
	_ = b.Delete(appendKey(nil, prefixIndex, key), nil)
	_ = b.Delete(appendKey(nil, prefixMeta, key), nil)
	if existed {
		_ = b.Delete(appendDueKey(nil, prev.ExpiresAt, key), nil)
	}
	if counted {
		size = int64(prev.Size)
	}
	return counted, size, nil
}

// summary reads i/<key>.
func (s *Store) summary(key string) (PageMeta, bool, error) {
	val, closer, err := s.db.Get(appendKey(nil, prefixIndex, key))
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return PageMeta{}, false, nil
		}
		return PageMeta{}, false, fmt.Errorf("cannot read page summary %q: %w", key, err)
	}
	defer closer.Close()
	m, err := decodeSummary(val)
	if err != nil {
		return PageMeta{}, false, fmt.Errorf("cannot decode page summary %q: %w", key, err)
	}
	return m, true, nil
}

// ScanDue calls fn for each page whose expiry is before before, oldest first,
// until fn returns false. fn may call other Store methods except Close; a
// PutPage from fn that moves a page's expiry does not make the scan visit it
// twice, because the iterator reads a consistent view.
func (s *Store) ScanDue(before time.Time, fn func(key string, expires time.Time) bool) error {
	return s.ScanDueFrom(time.Time{}, before, fn)
}

// ScanDueFrom is ScanDue starting at the pages that expire at from (zero: the
// oldest); a zero before means no upper bound. Starting from a cursor spares
// a queue the tombstones of the entries it has already moved, which sit before
// it until a compaction drops them.
func (s *Store) ScanDueFrom(from, before time.Time, fn func(key string, expires time.Time) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	opts := &pebble.IterOptions{LowerBound: []byte(prefixDue), UpperBound: prefixUpperBound(prefixDue)}
	if !from.IsZero() {
		lower := appendDueKey(nil, from, "")
		opts.LowerBound = lower[:dueKeyLen-1]
	}
	if !before.IsZero() {
		// Keys below d/<before> are exactly those with an expiry before it.
		upper := appendDueKey(nil, before, "")
		opts.UpperBound = upper[:dueKeyLen-1]
	}
	it, err := s.db.NewIter(opts)
	if err != nil {
		return fmt.Errorf("cannot scan due pages: %w", err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		key, expires, ok := parseDueKey(it.Key())
		if !ok {
			_ = it.Close()
			return fmt.Errorf("cannot scan due pages: %w", corruptf("due key %q", it.Key()))
		}
		if !fn(key, expires) {
			break
		}
	}
	if err := it.Error(); err != nil {
		_ = it.Close()
		return fmt.Errorf("cannot scan due pages: %w", err)
	}
	return it.Close()
}

// ErrPageChanged: the page was rendered again (its ETag is not the one a
// write was made for), so the write was not made.
var ErrPageChanged = errors.New("storage: the page changed")

// SetPageMarkdown stores md as the Markdown rendition of the page under key,
// made from the page whose ETag is etag (a page stored without one, asked for
// as Markdown: see httpfront). It returns ErrNotFound when no page is stored
// and ErrPageChanged when another render replaced it meanwhile. The page is
// rewritten whole (p/ and its summary i/, whose size changes); not synced:
// lost in a crash, the Markdown is made again on the next ask.
//
// INVARIANT: see PutPage; only the key's shard owner calls it.
func (s *Store) SetPageMarkdown(key, etag string, md []byte) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if len(md) == 0 {
		return fmt.Errorf("storage: page %q: empty Markdown", key)
	}
	s.bodies.writers.RLock()
	defer s.bodies.writers.RUnlock()
	pageKey := appendKey(nil, prefixPage, key)
	var buf []byte
	raw, closer, err := s.readPageValue(key, pageKey, &buf)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrNotFound
		}
		return fmt.Errorf("cannot read page %q to store its Markdown: %w", key, err)
	}
	if closer == nil {
		closer = io.NopCloser(nil)
	}
	var f pageFields
	err = decodePage(raw, &f)
	if err == nil && f.etag != etag {
		err = ErrPageChanged
	}
	if err == nil && (len(f.md) > 0 || len(f.mdGzip) > 0) {
		// Two agents asked at once: the first one's is stored.
		closer.Close()
		return nil
	}
	var val []byte
	if err == nil {
		p := &Page{
			Key: key, URL: f.url, Status: f.status, RenderedAt: f.renderedAt, ExpiresAt: f.expiresAt,
			RenderTime: f.renderTime, Gzip: f.gzip, Plain: f.plain, ETag: f.etag, Prerendered: f.prerendered,
			Markdown: md,
		}
		if err = preparePage(p); err == nil {
			val, err = encodePage(p, encodeHeader(f.header))
		}
	}
	closer.Close()
	if err != nil {
		return fmt.Errorf("cannot store the Markdown of page %q: %w", key, err)
	}
	prev, existed, err := s.summary(key)
	if err != nil {
		return err
	}
	if !existed {
		prev = PageMeta{URL: f.url, Status: f.status, RenderedAt: f.renderedAt, ExpiresAt: f.expiresAt}
	}
	sum := prev
	sum.Size = len(val)
	b := s.newPageBatch()
	defer b.Close()
	if err := s.setPageValue(b, key, val); err != nil {
		return fmt.Errorf("cannot store the Markdown of page %q: %w", key, err)
	}
	_ = b.Set(appendKey(nil, prefixIndex, key), encodeSummary(sum), nil)
	if !existed {
		_ = b.Set(appendDueKey(nil, sum.ExpiresAt, key), nil, nil)
	}
	if err := s.checkFree(int64(b.Len()), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot store the Markdown of page %q: %w", key, err)
	}
	var added int64
	if !existed {
		added = 1
	}
	if err := s.commitPages(b, pebble.NoSync, added, int64(len(val)-prev.Size), key); err != nil {
		return fmt.Errorf("cannot store the Markdown of page %q: %w", key, err)
	}
	return nil
}
