package browser

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/chromedp/cdproto/network"
)

// maxDocuments is how many documents the main frame may load in one render.
// A client-side redirect or two is normal; a page that navigates more often
// than this reloads itself or sends itself to itself in a loop (seen: a
// location.reload() loop loads about ten documents a second).
const maxDocuments = 10

// maxDocumentsAtTimeout: a page that loaded more main-frame documents than
// this and was not done at the page timeout was navigating in a loop.
const maxDocumentsAtTimeout = 2

// sourceFactor bounds the main document as it downloads: past
// sourceFactor × Options.MaxHTMLBytes of HTML source, the serialized DOM could
// only fit the cap if scripts made up most of the source, so the download is
// cut there instead of being parsed and measured.
const sourceFactor = 4

// docState is what Chromium reported about the current main document's body.
type docState struct {
	bytes    int64 // decoded body bytes received (Network.dataReceived)
	finished bool  // Network.loadingFinished arrived
}

// newDocument starts the bookkeeping of a new main-frame document. Called
// with w.mu held, after w.docs counted it.
func (w *watch) newDocument() {
	w.doc = docState{}
	if w.docs > maxDocuments {
		w.breakWith(fmt.Errorf("%w: the main frame loaded %d documents", ErrNavigationLoop, w.docs))
	}
}

func (w *watch) docData(ev *network.EventDataReceived) {
	if ev.RequestID != w.docID {
		return
	}
	w.doc.bytes += ev.DataLength
	if w.maxDocBytes > 0 && w.doc.bytes > w.maxDocBytes {
		w.breakWith(fmt.Errorf("%w: the document's HTML passed %d bytes as it downloaded", ErrTooLarge, w.maxDocBytes))
	}
}

// docFailed notes a main document that failed: after its answer began, its
// body did not arrive whole; before, it could not be fetched at all (a
// script navigation to a host that does not answer; the first document's
// own failure is the navigation's, answered from Page.navigate). A canceled
// load is not the origin's failure: it is a navigation replacing the
// document (its successor is counted by newDocument) or the render ending.
func (w *watch) docFailed(ev *network.EventLoadingFailed) {
	if ev.RequestID != w.docID || ev.Canceled || ev.BlockedReason != "" {
		return
	}
	if w.status == 0 {
		w.breakWith(fmt.Errorf("%w: the page navigated to a document that failed: %s", ErrNavigation, ev.ErrorText))
		return
	}
	w.breakWith(fmt.Errorf("%w: %s after %d bytes of the body", ErrDocumentIncomplete, ev.ErrorText, w.doc.bytes))
}

// breakWith closes broken, once, with the reason the render gives.
func (w *watch) breakWith(err error) {
	if w.brokenErr != nil {
		return
	}
	w.brokenErr = err
	close(w.broken)
}

// brokenReason returns why broken was closed.
func (w *watch) brokenReason() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.brokenErr
}

// documentProblem says why the current main document cannot be answered as
// the page once the render stops waiting: it broke (see breakWith), the
// origin answered it with an empty body and a status below 400, or the page was still navigating
// from document to document at the page timeout (a loop too slow to pass
// maxDocuments in the time: on a loaded machine a reload takes a second).
// A document without an HTTP answer (about:, data:) has nothing to check.
//
// Whether a document still loading at the page timeout is the origin's fault
// cannot be told: Chromium reports the end of a document's load from the
// renderer, late while a script keeps its main thread busy, so such a page is
// a timeout.
func (w *watch) documentProblem(atTimeout bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.brokenErr != nil:
		return w.brokenErr
	case atTimeout && w.docs > maxDocumentsAtTimeout:
		return fmt.Errorf("%w: the main frame loaded %d documents and was still navigating at the page timeout", ErrNavigationLoop, w.docs)
	case w.status != 0 && w.status < 400 && w.doc.finished && w.doc.bytes == 0:
		// An error status says what the page is: its empty body is answered
		// with that status, as Chromium's own error page for it was before
		// the headless shell (which has none).
		return fmt.Errorf("%w: the origin answered %d with an empty body", ErrEmptyDocument, w.status)
	}
	return nil
}

// sourceTooLarge reports a main document whose HTML source alone passed max
// bytes: its serialization would too, unless scripts were most of it.
func (w *watch) sourceTooLarge(max int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.doc.bytes > max {
		return fmt.Errorf("%w: the page did not answer while busy with %d bytes of HTML, the limit is %d", ErrTooLarge, w.doc.bytes, max)
	}
	return nil
}

// contentLength reads the Content-Length of a response, -1 when it has none
// or it is not a number.
func contentLength(r *network.Response) int64 {
	for k, v := range r.Headers {
		if !strings.EqualFold(k, "Content-Length") {
			continue
		}
		s, _ := v.(string)
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	return -1
}

// docResponse refuses a main document that declares more bytes than the
// source bound before any of it is read.
func (w *watch) docResponse(r *network.Response) {
	if n := contentLength(r); w.maxDocBytes > 0 && n > w.maxDocBytes {
		w.breakWith(fmt.Errorf("%w: the document's Content-Length is %d bytes, more than %d", ErrTooLarge, n, w.maxDocBytes))
	}
}
