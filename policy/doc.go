// Package policy is prerenderd's one decision about a cached page: what a
// crawler's request gets (HIT, STALE, PRERENDER, REVALIDATE, RENDER, and
// STALE-IF-ERROR once a render failed), whether a render is still needed when
// it reaches the key's shard, what a finished render does to the stored page
// (store, renew, keep and count, remove), and what is storable at all.
//
// It is pure: plain values in, a decision out, no clock of its own, no I/O. The
// HTTP front's lookup (actors.Appliance.Lookup) and the shard that owns a key
// both call it, and nobody else decides: two copies of a rule drift. Its table
// test has a row for each rule of README's freshness and removal tables.
//
// It must never import protoactor, Pebble, chromedp or another package of
// prerenderd: its callers translate their types into its small structs.
package policy
