// Package crawlers owns prerenderd's list of crawler User-Agent patterns (the data
// file crawlers.json, embedded) and the one matcher every part of prerenderd uses to
// tell a crawler from a browser: the Go middleware, GET /crawlers, the generated nginx
// and Caddy matchers in deploy/, and `prerenderd crawlers`.
//
// It is pure: standard library only, no I/O but the writers it is handed, nothing
// from the rest of prerenderd (the middleware, which users import into their own
// programs, depends on it). It must never grow a dependency, and it must stay fast:
// Match runs on every request a middleware sees.
package crawlers
