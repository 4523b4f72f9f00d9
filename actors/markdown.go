package actors

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"prerenderd/markdown"
	"prerenderd/storage"
)

// Markdown renditions for AI agents (Accept: text/markdown): made from the
// rendered HTML once, in the store work of the render (storeWork.apply, a
// goroutine of the key's shard, never in a Receive), and stored in the same
// record as the HTML, so a Markdown hit costs what an HTML hit costs.

// Markdown returns the Markdown rendition of the HTML page doc whose address
// is pageURL (links are made absolute against it). A conversion that fails,
// or panics in a library, is an error: the HTML is answered and stored
// without Markdown all the same.
func Markdown(doc []byte, pageURL string) (md []byte, err error) {
	u, err := url.Parse(pageURL)
	if err != nil {
		return nil, fmt.Errorf("cannot convert %q to Markdown: %w", pageURL, err)
	}
	defer func() {
		if p := recover(); p != nil {
			md, err = nil, fmt.Errorf("cannot convert %s to Markdown: the converter panicked: %v", pageURL, p)
		}
	}()
	return markdown.Convert(doc, u)
}

// withMarkdown adds the Markdown rendition to a page about to be stored,
// unless render.markdown is off. A failure is logged and counted, and the
// page is stored without one.
func (a *Appliance) withMarkdown(p *storage.Page) {
	if a.cfg.NoMarkdown {
		return
	}
	start := time.Now()
	md, err := Markdown(p.Plain, p.URL)
	if err != nil {
		a.metrics.markdownFailed.Inc()
		a.log.Warn("cannot make the Markdown of a page; stored without it", "key", p.Key, "err", err)
		return
	}
	a.metrics.markdownSeconds.UpdateDuration(start)
	p.Markdown = md
}

// StoreMarkdown stores md, made by the caller from the stored page of key
// whose ETag is etag (a page stored without Markdown: before Markdown
// existed, or whose conversion failed), so the next agent gets it from the
// store. The key's shard writes it, unless a render of the key is running
// (its store work makes its own); it is dropped when the page changed
// meanwhile. It does not wait.
func (a *Appliance) StoreMarkdown(key, etag string, md []byte) {
	if a.cfg.NoMarkdown || len(md) == 0 {
		return
	}
	a.system.Root.Send(a.shardFor(key), &storeMarkdown{Key: key, ETag: etag, Markdown: md})
}

// MarkdownOn reports whether Markdown renditions are made (render.markdown).
func (a *Appliance) MarkdownOn() bool { return !a.cfg.NoMarkdown }

// storeMarkdown writes the Markdown a request made of a page stored without
// one. A NoSync write of one key, as markServed's.
func (s *shardActor) storeMarkdown(m *storeMarkdown) {
	if _, busy := s.inflight[m.Key]; busy || s.keys.writing[m.Key] {
		return
	}
	err := s.app.store.SetPageMarkdown(m.Key, m.ETag, m.Markdown)
	if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrPageChanged) {
		s.app.log.Warn("cannot store the Markdown of a page", "key", m.Key, "err", err)
	}
}
