// Package pagemeta reads what a rendered page declares about its own answer:
// the status of <meta name="prerender-status-code"> and the headers of
// <meta name="prerender-header">. Their content is written by the page, so by
// anyone who can put markup or script on it; this package decides which of it
// may reach an HTTP answer and a cached page.
//
// It must never import anything of prerenderd or do I/O: browser reads the
// tags with it, and httpfront checks stored headers with it before sending
// them, so the two never disagree about what is a valid header.
package pagemeta
