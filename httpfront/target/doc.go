// Package target recovers the page URL a render request asks for from its request
// line, in every form a middleware or CDN sends it: as is ("/https://shop/p?q=1",
// prerender-node and most middlewares), percent-encoded as a whole
// ("/https%3A%2F%2Fshop%2Fp"), escaped by nginx's "rewrite .*
// /$scheme://$host$request_uri? break;" (prerender.io's nginx integration), or as
// the url parameter of /render. It then hands the URL to cachekey for the URL
// Chromium loads and the cache key.
//
// The npm prerender server decodes every form once (and again after parsing),
// which loads the wrong page for an escaped "&", "%", "?" or "#" inside a
// parameter. This package decodes a form only when that form is escaped: the
// whole URL is encoded, or nginx escaped it (told by X-Prerender-Int-Type:
// Nginx, or by the escaped "?" and "%" only nginx's rewrite produces), so a URL
// sent as is is never decoded and an escaped one is decoded exactly once.
//
// It is pure: no I/O, so a table test lists every form and a fuzz test hammers
// it. It must never import any package of prerenderd but cachekey.
package target
