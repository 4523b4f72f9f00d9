// Package storage owns prerenderd's store under storage.dir: one Pebble
// database (page pointers, page summaries, recache metadata, the due index the
// normal recache queue reads, the persisted priority queue, sitemap poll state,
// runtime settings and the analytics rows) and the body segments beside it,
// bodies/<id>.seg, which hold the page records (segments.go), with their
// in-memory index (bodyindex.go) and garbage pass (garbage.go).
//
// Keyspace (DESIGN §3), all keys under a one-letter prefix:
//
//	p/<key>                      a pointer (segment, offset, length, CRC) to the page
//	                             record in a body segment: gzip of the HTML, headers,
//	                             gzip of the Markdown rendition (see codec.go); a store
//	                             written before the segments holds the record inline,
//	                             still read, moved to a segment when next written
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
//     the process when a WAL write hits a full disk, so writes (segment appends
//     included) are refused with ErrDiskFull first while reads keep working. Deletes free space and go
//     on below it, down to a floor of two memtables (deleteFloor in store.go);
//   - copy a page body on the hit path (ViewPage) or log per hit: a hit is
//     answered from the hot-body cache (hot.go), or from one pread of its record
//     into a pooled buffer found through the in-memory index (no Pebble read);
//   - write a page without committing through commitPages, the one place the
//     hot-body cache is invalidated and the body index updated, nor point p/ at
//     record bytes that are not synced;
//   - answer a page from a record that fails its CRC or belongs to another key:
//     a damaged record reads as not found (counted, logged once a segment), and
//     the index is a hint checked against the record's key, p/ the truth;
//   - close or remove a segment a reader may still pread (segments are
//     reference-counted), or move a record whose pointer changed meanwhile (the
//     garbage pass swaps pointers under the writers lock);
//   - decide policy: what to store and serve is package policy's, when to
//     recache and what to evict the actors'; storage keeps the data and its
//     indexes consistent, and makes a page's one gzip and one ETag (PutPage).
package storage
