// Package api holds the JSON types of prerenderd's HTTP API that programs read:
// the analytics (GET /api/stats, GET /api/stats/top), the live state
// (GET /api/state). The server (httpfront, analytics) fills them and clients (the
// dashboard's scripts, `prerenderd cache`, users' programs) decode them, so the
// two never drift; a client imports this package, never the server.
//
// It is pure: plain types, the standard library only, no behaviour beyond JSON.
// It must never import another package of prerenderd. The admin routes' types
// are to move here too (issue 12).
package api
