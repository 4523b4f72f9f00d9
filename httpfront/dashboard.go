package httpfront

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// The dashboard is one page and its script, style and chart library, embedded
// in the binary: no CDN, no network, no build step. It reads the read-only API
// (stats.go) and drives the admin routes (admin.go, recache.go) with the token
// the person types, kept in the tab's sessionStorage.

//go:embed dashboard
var dashboardFiles embed.FS

var dashboardFS = func() fs.FS {
	sub, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return sub
}()

// dashboardCSP lets the page load nothing but its own files and talk to
// nothing but this server. uPlot sizes its elements through style attributes.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// acceptsHTML: a browser asks for GET / with Accept: text/html and gets the
// dashboard; a script or a misconfigured middleware asking for / gets the 400
// that says how to ask for a page.
func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// serveDashboard answers GET / (the page) and GET /dashboard/{file}.
func serveDashboard(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, &clientError{status: http.StatusMethodNotAllowed, reason: "method-not-allowed", msg: "use GET"})
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/dashboard/")
	if r.URL.Path == "/" {
		name = "index.html"
	}
	if name == "" || strings.Contains(name, "/") {
		writeError(w, r, &clientError{status: http.StatusNotFound, reason: "not-found", msg: "no such dashboard file"})
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// The files change with the binary only; revalidating is cheap and keeps an
	// upgraded appliance from serving yesterday's script.
	h.Set("Cache-Control", "no-cache")
	if _, err := fs.Stat(dashboardFS, name); err != nil {
		writeError(w, r, &clientError{status: http.StatusNotFound, reason: "not-found", msg: "no such dashboard file"})
		return
	}
	http.ServeFileFS(w, r, dashboardFS, name)
}
