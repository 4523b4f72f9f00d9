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

	// ErrNavigation means the document could not be loaded at all: connection
	// refused, DNS failure, TLS error, or no answer before the page timeout. The
	// wrapping error carries Chromium's net:: error text.
	ErrNavigation = errors.New("navigation failed")
)
