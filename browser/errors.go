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
)
