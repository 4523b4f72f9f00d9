// Package cachekey turns a URL a crawler asked for into the URL Chromium loads
// (Load) and the key its rendered page is stored under (Normalize, Key), and
// picks the variant (desktop, mobile) a User-Agent gets (VariantFor).
//
// It owns no dependency: the HTTP front, the actors and the sitemaps all use it,
// so it stands at the top level rather than inside the storage it feeds.
//
// It must never do I/O or DNS, nor import another package of prerenderd: it is
// pure, so a table test lists every form and a fuzz test hammers it.
package cachekey
