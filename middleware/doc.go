// Package middleware is prerenderd's Go middleware: wrapped around a site's handler,
// it sends crawlers' page requests to prerenderd (or to any server that speaks the
// prerender protocol: the npm prerender server, prerender.io) and answers them with
// the rendered page, while browsers, assets and everything else reach the site as
// before. A request whose Accept names text/markdown (an AI agent, whatever its
// User-Agent) goes to prerenderd too, which answers the page's Markdown. Import it
// as prerenderd/middleware.
//
// It owns the decision "does this request get a prerendered page" and the proxying of
// that one request. It depends on the standard library and prerenderd/crawlers only,
// never on the rest of prerenderd (a test holds this): users build it into their
// own programs. It must never fail a request because prerenderd failed: a crawler
// then gets the site itself.
package middleware
