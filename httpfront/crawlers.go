package httpfront

import (
	"net/http"

	"prerenderd/crawlers"
)

// serveCrawlers answers GET /crawlers: the crawler list prerenderd and its middleware
// use, as JSON, so a CDN rule or a script can be kept in step with it.
func serveCrawlers(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, &clientError{status: http.StatusMethodNotAllowed, reason: "method-not-allowed", msg: "use GET or HEAD"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// The list only changes with the binary.
	h.Set("Cache-Control", "public, max-age=3600")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(crawlers.JSON())
}
