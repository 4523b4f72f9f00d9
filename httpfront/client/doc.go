// Package client is the `prerenderd cache ls|purge|recache` subcommands: a small
// client of a running appliance's admin API (POST /search, POST /cache-clear,
// GET /cache-clear-status, POST /recache), for operators who live in a terminal.
//
// It talks HTTP only: it never opens the store (the appliance holds Pebble's lock)
// and imports nothing of the appliance but the JSON shapes httpfront answers with.
package client
