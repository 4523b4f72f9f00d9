package browser

import "errors"

var (
	// ErrBrowserClosed means the Chromium process is gone: closed, crashed,
	// killed, or its connection was lost. The render may succeed on another
	// browser.
	ErrBrowserClosed = errors.New("browser closed")

	// ErrTabCrashed means the renderer of the page crashed (Inspector.targetCrashed)
	// or the tab went away under the render. The browser itself still works.
	ErrTabCrashed = errors.New("tab crashed")

	// ErrTabHung means the page's main thread stopped answering (a script
	// stuck in a loop): it could not be serialized. Its script was terminated
	// and the tab closed; the browser itself still works.
	ErrTabHung = errors.New("tab hung")

	// ErrNavigation means the document could not be loaded at all: connection
	// refused, DNS failure, TLS error, or no answer before the page timeout. The
	// wrapping error carries Chromium's net:: error text.
	ErrNavigation = errors.New("navigation failed")

	// ErrDocumentIncomplete means the origin did not deliver the main
	// document whole: the connection was reset or closed mid-body, the body
	// was shorter than its Content-Length, or it was still arriving at the
	// page timeout. What arrived is never answered as the page. The wrapping
	// error carries Chromium's net:: error text.
	ErrDocumentIncomplete = errors.New("document incomplete")

	// ErrNavigationLoop means the page kept navigating its main frame (a
	// script reloading the page or sending it to itself) instead of settling
	// on a document.
	ErrNavigationLoop = errors.New("navigation loop")

	// ErrEmptyDocument means the origin answered the main document with an
	// empty body, or there was no document to serialize.
	ErrEmptyDocument = errors.New("empty document")

	// ErrTooLarge means the document passed Options.MaxHTMLBytes. It was
	// measured in the page (or while it downloaded), so it never crossed
	// to prerenderd.
	ErrTooLarge = errors.New("document too large")
)
