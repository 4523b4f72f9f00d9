package prerenderdtest

import (
	"fmt"
	"net/http"
	"time"
)

// SiteHeading is the heading the site's JavaScript writes into /product: present in
// a rendered page, absent from the HTML the site serves.
const SiteHeading = "Walnut desk lamp"

// SiteShell is text of the HTML the site serves before its JavaScript runs.
const SiteShell = "Loading the shop"

// Site is a small single-page app, the origin of the middleware's and the deploy
// files' tests: its pages are empty until JavaScript fetches their content from a
// slow API, so only a rendered page shows SiteHeading.
//
//	/, /product     the app shell; app.js fetches /api/product and writes the page
//	/app.js         the script (an asset: never prerendered)
//	/api/product    JSON, after 100 ms
//	/moved          JavaScript declares a 301 to /product with prerender meta tags
//	/gone           JavaScript declares a 404
//	/old            the server redirects to /product (301)
//	/never-idle     a page that polls forever: its render runs to render.page_timeout
//	POST anything   "posted"
func Site() http.Handler {
	mux := http.NewServeMux()
	shell := func(script string) string {
		return `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head>` +
			`<body><main id="app">` + SiteShell + `…</main><script>` + script + `</script></body></html>`
	}
	page := func(w http.ResponseWriter, script string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, shell(script))
	}
	app := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head>`+
			`<body><main id="app">`+SiteShell+`…</main><script src="/app.js"></script></body></html>`)
	}
	mux.HandleFunc("GET /{$}", app)
	mux.HandleFunc("GET /product", app)
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `fetch("/api/product").then(r => r.json()).then(p => {
  document.title = p.name;
  document.getElementById("app").innerHTML = "<h1>" + p.name + "</h1><p>" + p.price + "</p>";
});`)
	})
	mux.HandleFunc("GET /api/product", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name": %q, "price": "89.00"}`, SiteHeading)
	})
	mux.HandleFunc("GET /moved", func(w http.ResponseWriter, r *http.Request) {
		page(w, `for (const [n, c] of [["prerender-status-code", "301"], ["prerender-header", "Location: /product"]]) {
  const m = document.createElement("meta"); m.name = n; m.content = c; document.head.appendChild(m);
}`)
	})
	mux.HandleFunc("GET /gone", func(w http.ResponseWriter, r *http.Request) {
		page(w, `const m = document.createElement("meta"); m.name = "prerender-status-code"; m.content = "404";
document.head.appendChild(m); document.getElementById("app").textContent = "No such page";`)
	})
	mux.HandleFunc("GET /old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/product", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /never-idle", func(w http.ResponseWriter, r *http.Request) {
		page(w, `setInterval(() => fetch("/api/product?poll=" + Date.now()), 50);`)
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "posted") })
	return mux
}
