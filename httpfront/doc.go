// Package httpfront is prerenderd's HTTP API: the prerender-compatible render route,
// the admin routes of the cache manager (search, clear; admin.go holds their token
// rules), health, readiness, metrics and the built-in demo site.
//
// It is thin: it parses and checks requests, serves cache hits straight from the
// store through the actors façade (no actor hop on a hit), and maps typed errors to
// statuses in one place (errors.go). It never imports protoactor, chromedp or Pebble
// and never holds a PID, and never lets a client that does not read hold a
// connection: bodies are written with a deadline per 64 KiB (write.go).
package httpfront
