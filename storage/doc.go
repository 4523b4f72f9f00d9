// Package storage owns prerenderd's one Pebble database: rendered pages, their
// recache metadata, the due index the normal recache queue reads, the persisted
// priority queue, sitemap poll state, runtime settings and the analytics rows.
//
// Keyspace (DESIGN §3), all keys under a one-letter prefix:
//
//	p/<key>                      page value: gzip of the HTML, headers, gzip of the Markdown rendition (see codec.go)
//	i/<key>                      page summary: status, times, size, URL; lets
//	                             Summary, scans and a recount skip bodies
//	m/<key>                      recache metadata
//	d/<expires_be64>/<key>       due index, exactly one entry per stored page
//	q/<seq_be64>                 priority queue (reserved)
//	r/<owner>\x00<seq_be64>      copies of the priority items another cluster
//	                             member (its address) queued (replica.go)
//	s/<sitemap url>              sitemap poll state (JSON, see SitemapState)
//	c/<name>                     runtime settings changed through the API
//	a/<kind>/<name>/<bucket_be64>  analytics rows (see analytics.go): kind 'm'
//	                             minute and 'h' hour counts of a site row,
//	                             't' hour and 'd' day top lists; bucket is the
//	                             Unix second the bucket starts at
//	n/pages                      the page count and stored bytes, written in the
//	                             batch of every change of them, so Open reads
//	                             them instead of counting (counters.go)
//
// <key> is "<variant>|<normalized URL>", built by the caller; storage treats it
// as opaque bytes.
//
// The package must never:
//   - let another package import Pebble or see a Pebble type: everything goes
//     through Store;
//   - write when the filesystem is short of Options.MinFreeBytes: Pebble ends
//     the process when a WAL write hits a full disk, so writes are refused with
//     ErrDiskFull first while reads keep working. Deletes free space and go
//     on below it, down to a floor of two memtables (deleteFloor in store.go);
//   - copy a page body on the hit path (ViewPage) or log per hit: a hit is
//     answered from the hot-body cache (hot.go) or from Pebble's buffer;
//   - write a page without committing through commitPages, the one place the
//     hot-body cache is invalidated;
//   - decide policy: what to store and serve is package policy's, when to
//     recache and what to evict the actors'; storage keeps the data and its
//     indexes consistent, and makes a page's one gzip and one ETag (PutPage).
package storage
