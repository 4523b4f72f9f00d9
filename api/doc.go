// Package api holds the JSON types of prerenderd's HTTP API that programs
// read and write: the admin routes' bodies and answers (POST /search, POST
// /cache-clear, GET /cache-clear-status, POST /recache, POST
// /change-recache-speed, /sitemap), the analytics (GET /api/stats, GET
// /api/stats/top) and the live state (GET /api/state). The server
// (httpfront, analytics) fills them and clients (the dashboard's scripts,
// `prerenderd cache`, users' programs) decode them, so the two never drift; a
// client imports this package, never the server.
//
// It is pure: plain types, the standard library only, no behaviour beyond JSON.
// It must never import another package of prerenderd.
package api
