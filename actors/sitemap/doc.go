// Package sitemap reads sitemaps (urlset and sitemap index files, plain or gzipped,
// with lastmod) and the Sitemap: lines of robots.txt, from outside input that may be
// hostile.
//
// It is pure: no network, no storage, no actors. The sitemaps actor fetches the files
// and decides what to queue; this package only turns bytes into entries, streaming,
// so a 50,000-URL file is never held in memory.
//
// It must never read past its limits: at most Limits.MaxBytes uncompressed bytes per
// file (a gzip bomb stops there) and Limits.MaxEntries entries. Hitting a limit, or
// malformed XML, ends the file with a typed error after every entry read so far has
// been delivered, so the caller keeps what was read.
package sitemap
