package httpfront

import (
	"context"
	"errors"
	"net/http"

	"prerenderd/actors"
	"prerenderd/analytics"
	"prerenderd/browser"
	"prerenderd/netguard"
	"prerenderd/storage"
)

// clientError is a refusal decided by the HTTP front itself.
type clientError struct {
	status int
	reason string
	msg    string
}

func (e *clientError) Error() string { return e.msg }

// statusOf maps every error a client can see to a status and a reject reason. It is
// the one place where that mapping lives.
func statusOf(err error) (int, string) {
	var ce *clientError
	var rej *netguard.Rejection
	var qe *analytics.QueryError
	switch {
	case errors.As(err, &ce):
		return ce.status, ce.reason
	case errors.As(err, &qe):
		return http.StatusBadRequest, qe.Reason
	case errors.As(err, &rej):
		if rej.Reason == netguard.ReasonDNS {
			return http.StatusGatewayTimeout, rej.Reason
		}
		return http.StatusForbidden, rej.Reason
	case errors.Is(err, actors.ErrOverloaded):
		return http.StatusServiceUnavailable, "overloaded"
	case errors.Is(err, actors.ErrLoop):
		return http.StatusLoopDetected, "loop-detected"
	case errors.Is(err, actors.ErrClearRunning):
		return http.StatusConflict, "clear-running"
	case errors.Is(err, actors.ErrClusterUnavailable):
		// The owner of the page in the cluster did not answer, even after a
		// change of membership: a retry finds the new owner.
		return http.StatusServiceUnavailable, "cluster-owner-unavailable"
	case errors.Is(err, actors.ErrStopping):
		return http.StatusServiceUnavailable, "shutting-down"
	case errors.Is(err, actors.ErrRestarted):
		// Nothing was rendered, and the restarted actor serves a retry.
		return http.StatusServiceUnavailable, "restarted"
	case errors.Is(err, storage.ErrDiskFull):
		return http.StatusInsufficientStorage, "disk-full"
	case errors.Is(err, browser.ErrDocumentIncomplete):
		return http.StatusBadGateway, "document-incomplete"
	case errors.Is(err, browser.ErrNavigationLoop):
		return http.StatusBadGateway, "navigation-loop"
	case errors.Is(err, browser.ErrEmptyDocument):
		return http.StatusBadGateway, "empty-document"
	case errors.Is(err, browser.ErrTooLarge):
		return http.StatusBadGateway, "too-large"
	case errors.Is(err, browser.ErrTabCrashed):
		return http.StatusGatewayTimeout, "tab-crashed"
	case errors.Is(err, browser.ErrTabHung):
		return http.StatusGatewayTimeout, "tab-hung"
	case errors.Is(err, browser.ErrBrowserClosed):
		return http.StatusGatewayTimeout, "browser-crashed"
	case errors.Is(err, browser.ErrNavigation):
		return http.StatusGatewayTimeout, "navigation-failed"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "timeout"
	}
	return http.StatusGatewayTimeout, "render-failed"
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, reason := statusOf(err)
	s.answered(w, r, counted{label: cacheError, status: status, start: s.cfg.Clock()}) // analytics (issue 14)
	if status < 500 {
		// A failed render (5xx) has its own line in render, with its key.
		uri := r.RequestURI
		if len(uri) > 300 {
			uri = uri[:300] + "…"
		}
		s.log.Info("request refused", "req", requestID(w), "status", status, "reason", reason, "method", r.Method, "uri", uri,
			"crawler", analytics.CrawlerOf(r.Header.Get("User-Agent")))
	}
	writeError(w, r, err)
}

// writeError answers err with its status and reason. Admin routes use it directly:
// their refusals are not page requests and stay out of prerender_requests_total.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, reason := statusOf(err)
	h := w.Header()
	h.Set("X-Prerender-Reject-Reason", reason)
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(reason + ": " + err.Error() + "\n"))
	}
}
