// Package httpfront is prerenderd's HTTP API: the prerender-compatible render route
// (the User-Agent picks the cached variant; /render also takes the npm server's
// renderType and viewport options, rendertype.go), the admin routes of the cache
// manager (search, clear; admin.go holds their token rules), health, readiness,
// metrics, the built-in demo site, and the dashboard (dashboard.go: the embedded
// page) with its read-only JSON routes (stats.go: /api/stats, /api/stats/top,
// /api/state), which count every answer of the render route through the analytics
// Recorder.
//
// The target of a render request is recovered by its pure subpackage target, in
// every form a middleware sends it. A renderer's request (X-Prerender, or
// "Prerender" in its User-Agent) for a page a tab is loading is its own come back: it is refused (508)
// before any cache read or join.
//
// It is thin: it parses and checks requests, serves cache hits straight from the
// store through the actors façade (no actor hop on a hit), and maps typed errors to
// statuses in one place (errors.go). It never imports protoactor, chromedp or Pebble
// and never holds a PID, and never lets a client that does not read hold a
// connection: bodies are written with a deadline per 64 KiB (write.go).
package httpfront
