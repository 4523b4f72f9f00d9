// Package httpfront is prerenderd's HTTP API: the prerender-compatible render route,
// the admin routes of the cache manager (search, clear; admin.go holds their token
// rules), health, readiness, metrics, the built-in demo site, and the dashboard
// (dashboard.go: the embedded page) with its read-only JSON routes (stats.go:
// /api/stats, /api/stats/top, /api/state), which count every answer of the render
// route through the analytics Recorder.
//
// It is thin: it parses and checks requests, serves cache hits straight from the
// store through the actors façade (no actor hop on a hit), and maps typed errors to
// statuses in one place (errors.go). It never imports protoactor, chromedp or Pebble
// and never holds a PID.
package httpfront
