// Package analytics counts what prerenderd answers and renders, keeps the counts
// by minute for 48 hours and by hour for 90 days, and answers the dashboard's
// queries (GET /api/stats, GET /api/stats/top).
//
// It owns:
//   - the Recorder, which the HTTP front calls once per answer of the render
//     route (Record) and the render path once per finished render
//     (RecordRender). Record is on the hit path: atomic adds into a random
//     stripe of the current minute's counters, and a short lock on one of sixteen
//     shards of the hour's top lists; no allocation, no I/O, no global lock.
//   - the counters' schema (schema.go): cache results, status classes, bytes,
//     renders by result and queue, render time in fixed histogram buckets (so
//     p50/p95 of any window are read from the sum of its rows), and answers by
//     crawler class — every entry of the crawler list (package crawlers, the one
//     list), plus "other bots" and "unknown" — a bounded set.
//   - per configured [[sites]] host, one row for the other hosts and one total
//     row per bucket;
//   - the hourly top lists (top.go): the most requested, most missed and
//     slowest URLs, for all crawlers and per crawler, in bounded memory
//     (space-saving), merged into one list per day once the day is 48 hours
//     old;
//   - the flusher: one goroutine, owned by the Recorder and stopped by Close,
//     that writes the changed minutes, hours and top lists every FlushInterval
//     in one synced batch through the Store interface (storage implements it
//     under a/), and drops rows past their retention once an hour;
//   - the last 50 renders, in memory.
//
// It must never import protoactor, chromedp or Pebble, nor any package above it
// (httpfront, actors): it is pure, and talks to storage through Store. It never
// logs per request.
package analytics
