package actors

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/markdown"
	"prerenderd/storage"
)

// Markdown renditions for AI agents (Accept: text/markdown): made from the
// rendered HTML once, in the store work of the render (a goroutine of the
// key's shard, never in a Receive), and stored in the same record as the
// HTML, so a Markdown hit costs what an HTML hit costs. When a waiter of the
// render wants the Markdown it is made before the page is stored and
// answered; otherwise after (storeMarkdownLater), so HTML crawlers never wait
// for it.

// MarkdownMaxHTML bounds the HTML a Markdown rendition is made of: the
// conversion costs about 0.3 s of CPU per MiB (measured on a 2-core machine),
// and the Markdown of a page of megabytes is no use to an agent's context. A
// bigger page is answered as HTML to every asker.
const MarkdownMaxHTML = 2 << 20

// ErrTooLargeForMarkdown: the page's HTML is over MarkdownMaxHTML.
var ErrTooLargeForMarkdown = errors.New("the page is too large for a Markdown rendition")

// Markdown returns the Markdown rendition of the HTML page doc whose address
// is pageURL (links are made absolute against it). A conversion that fails,
// or panics in a library, is an error: the HTML is answered and stored
// without Markdown all the same.
func Markdown(doc []byte, pageURL string) (md []byte, err error) {
	if len(doc) > MarkdownMaxHTML {
		return nil, fmt.Errorf("cannot convert %s to Markdown: %d bytes of HTML, over %d: %w", pageURL, len(doc), MarkdownMaxHTML, ErrTooLargeForMarkdown)
	}
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

// markdownOf is the Markdown rendition of a page about to be stored, or nil
// when render.markdown is off or the conversion fails (logged and counted:
// the page is stored without one).
func (a *Appliance) markdownOf(p *storage.Page) []byte {
	if a.cfg.NoMarkdown {
		return nil
	}
	start := time.Now()
	md, err := Markdown(p.Plain, p.URL)
	if errors.Is(err, ErrTooLargeForMarkdown) {
		return nil // by design, not a failure: its askers get the HTML
	}
	if err != nil {
		a.metrics.markdownFailed.Inc()
		a.log.Warn("cannot make the Markdown of a page; stored without it", "key", p.Key, "err", err)
		return nil
	}
	a.metrics.markdownSeconds.UpdateDuration(start)
	return md
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

// storeMarkdownLater makes the Markdown of a page stored without it because
// no waiter asked for it (an HTML crawler, a recache), after its waiters were
// answered: a crawler of the HTML never waits for the conversion (tens of
// milliseconds for an ordinary page, seconds for a page of megabytes). The
// shard writes it (storeMarkdown), unless the key was rendered or deleted
// meanwhile. It runs at the end of the store work's goroutine.
func (w *storeWork) storeMarkdownLater(shard *actor.PID) {
	// w.page is the waiters' now (Rendered.Page): read, never written.
	a, p := w.shard.app, w.page
	if md := a.markdownOf(p); len(md) > 0 {
		a.system.Root.Send(shard, &storeMarkdown{Key: p.Key, ETag: p.ETag, Markdown: md})
	}
}
