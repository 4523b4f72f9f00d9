package httpfront

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"prerenderd/actors"
	"prerenderd/api"
	"prerenderd/cachekey"
)

// maxAdminBody bounds the JSON body of an admin route: a recache of 1000 URLs of
// 8 KB each fits.
const maxAdminBody = 10 << 20

// readJSON decodes the JSON body of an admin request into v. An empty body is an
// empty object, so GET-like calls need no body.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &clientError{status: http.StatusRequestEntityTooLarge, reason: "body-too-large", msg: fmt.Sprintf("the body is larger than %d bytes", maxAdminBody)}
		}
		return &clientError{status: http.StatusBadRequest, reason: "bad-body", msg: "cannot read the body: " + err.Error()}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	d := json.NewDecoder(strings.NewReader(string(body)))
	if err := d.Decode(v); err != nil {
		return &clientError{status: http.StatusBadRequest, reason: "bad-json", msg: "the body is not the JSON object this route takes: " + err.Error()}
	}
	return nil
}

// checkAdmin applies the token rules of admin routes (DESIGN §5). The token is the
// body's prerenderToken (prerender.io's field) or the X-Prerender-Token header.
//   - server.tokens set: a valid token is required from every caller, loopback
//     included (behind a reverse proxy on the same host every caller is loopback).
//   - server.tokens empty: loopback callers need none; anyone else is refused,
//     because there is no token they could send.
func (s *Server) checkAdmin(r *http.Request, bodyToken string) error {
	got := bodyToken
	if got == "" {
		got = r.Header.Get("X-Prerender-Token")
	}
	if len(s.cfg.Tokens) == 0 {
		if isLoopback(r.RemoteAddr) {
			return nil
		}
		return &clientError{status: http.StatusForbidden, reason: "admin-not-loopback",
			msg: "admin routes are open to loopback callers only while server.tokens is empty; set a token to use them remotely"}
	}
	if got == "" {
		return &clientError{status: http.StatusUnauthorized, reason: "token-missing", msg: "prerenderToken (or X-Prerender-Token) is required"}
	}
	for _, t := range s.cfg.Tokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
			return nil
		}
	}
	return &clientError{status: http.StatusForbidden, reason: "token-invalid", msg: "the token is not valid"}
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// adminRequest checks the method, decodes the body into v and applies the token
// rules; token returns the body's prerenderToken. It writes the error and returns
// false when the request must stop.
func (s *Server) adminRequest(w http.ResponseWriter, r *http.Request, method string, v any, token func() string) bool {
	if r.Method != method {
		w.Header().Set("Allow", method)
		writeError(w, r, &clientError{status: http.StatusMethodNotAllowed, reason: "method-not-allowed", msg: "use " + method})
		return false
	}
	if v != nil {
		if err := readJSON(w, r, v); err != nil {
			writeError(w, r, err)
			return false
		}
	}
	if err := s.checkAdmin(r, token()); err != nil {
		writeError(w, r, err)
		return false
	}
	return true
}

func writeAPIJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// variantOf checks adaptiveType: "" (every variant), "desktop" or "mobile".
func variantOf(t string) (string, error) {
	switch t {
	case "", cachekey.Desktop, cachekey.Mobile:
		return t, nil
	}
	return "", &clientError{status: http.StatusBadRequest, reason: "bad-adaptive-type", msg: fmt.Sprintf("adaptiveType %q is not desktop or mobile", t)}
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	var req api.SearchRequest
	if !s.adminRequest(w, r, http.MethodPost, &req, func() string { return req.Token }) {
		return
	}
	variant, err := variantOf(req.AdaptiveType)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.Start < 0 {
		writeError(w, r, &clientError{status: http.StatusBadRequest, reason: "bad-start", msg: "start must not be negative"})
		return
	}
	q := actors.SearchQuery{Query: req.Query, Start: req.Start, Variant: variant}
	if actors.Forwarded(r.Context()) {
		// A cluster's search: the front merges the first results of every member.
		if n, err := strconv.Atoi(r.Header.Get(searchWindowHeader)); err == nil && n > 0 {
			q.Limit = n
		}
		q.OwnedOnly = true
	}
	if req.ExactMatch != "" {
		u, err := targetURL(req.ExactMatch, s.cfg.StripQuery)
		if err != nil {
			writeError(w, r, err)
			return
		}
		q.ExactMatch = u.Key.String()
	}
	res, err := s.app.Search(q)
	if err != nil {
		s.log.Error("search failed", "err", err)
		writeError(w, r, err)
		return
	}
	out := api.SearchResponse{Total: res.Total, Start: req.Start, Results: make([]api.SearchItem, len(res.Items))}
	for i, it := range res.Items {
		out.Results[i] = api.SearchItem{URL: it.URL, Variant: it.Variant, Status: it.Status, RenderedAt: it.RenderedAt,
			ExpiresAt: it.ExpiresAt, Hits: it.Hits, Size: it.Size}
		if !it.LastHit.IsZero() {
			lh := it.LastHit
			out.Results[i].LastHit = &lh
		}
	}
	writeAPIJSON(w, http.StatusOK, out)
}

func clearResponse(st actors.ClearStatus) api.ClearResponse {
	out := api.ClearResponse{Status: st.State, ID: st.ID, Query: st.Query, Matched: st.Matched, Deleted: st.Deleted, Busy: st.Busy, Error: st.Error}
	if !st.StartedAt.IsZero() {
		out.StartedAt = &st.StartedAt
	}
	if !st.FinishedAt.IsZero() {
		out.FinishedAt = &st.FinishedAt
	}
	return out
}

// cacheClear removes one URL at once (no '%' in the query) or starts a wildcard
// clear in the background (202; progress at GET /cache-clear-status).
func (s *Server) cacheClear(w http.ResponseWriter, r *http.Request) {
	var req api.ClearRequest
	if !s.adminRequest(w, r, http.MethodPost, &req, func() string { return req.Token }) {
		return
	}
	variant, err := variantOf(req.AdaptiveType)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.Query == "" {
		writeError(w, r, &clientError{status: http.StatusBadRequest, reason: "query-missing", msg: `query is required: a URL, or a pattern with % ("%" alone clears everything)`})
		return
	}
	if !strings.Contains(req.Query, "%") {
		u, err := targetURL(req.Query, s.cfg.StripQuery)
		if err != nil {
			writeError(w, r, err)
			return
		}
		n, err := s.app.ClearURL(r.Context(), u.Key.String(), variant)
		if err != nil {
			writeError(w, r, err)
			return
		}
		s.log.Info("cache clear of one url", "url", u.Key.String(), "variant", variant, "deleted", n)
		writeAPIJSON(w, http.StatusOK, api.ClearResponse{Status: "done", Query: u.Key.String(), Matched: n, Deleted: n})
		return
	}
	st, err := s.app.StartClear(req.Query, variant)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeAPIJSON(w, http.StatusAccepted, clearResponse(st))
}

// cacheClearStatus answers GET /cache-clear-status/{token} (prerender.io's
// form: the token is the last path segment), GET with X-Prerender-Token, and
// POST {prerenderToken}. The token is never read from the query string.
func (s *Server) cacheClearStatus(w http.ResponseWriter, r *http.Request) {
	var req api.TokenOnly
	method, body := http.MethodGet, any(nil)
	if r.Method == http.MethodPost {
		method, body = http.MethodPost, &req
	}
	if seg, ok := strings.CutPrefix(r.URL.Path, "/cache-clear-status/"); ok {
		method, body = http.MethodGet, nil
		req.Token = seg
	}
	if !s.adminRequest(w, r, method, body, func() string { return req.Token }) {
		return
	}
	writeAPIJSON(w, http.StatusOK, clearResponse(s.app.ClearProgress()))
}

// sitemap adds a sitemap to poll (POST), or lists the known sitemap files and
// their last poll (GET).
func (s *Server) sitemap(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		if !s.adminRequest(w, r, http.MethodGet, nil, func() string { return "" }) {
			return
		}
		list, err := s.app.Sitemaps()
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := make([]api.SitemapItem, len(list))
		for i, m := range list {
			out[i] = api.SitemapItem{URL: m.URL, Added: m.State.Added, Kind: m.State.Kind, URLs: m.State.URLs,
				Children: len(m.State.Children), PolledAt: m.State.PolledAt, LastError: m.State.LastError}
		}
		writeAPIJSON(w, http.StatusOK, api.SitemapList{Sitemaps: out})
		return
	}
	var req api.SitemapRequest
	if !s.adminRequest(w, r, http.MethodPost, &req, func() string { return req.Token }) {
		return
	}
	if req.URL == "" {
		writeError(w, r, &clientError{status: http.StatusBadRequest, reason: "url-missing", msg: "url is required: the sitemap's absolute URL"})
		return
	}
	// The sitemap's own URL keeps its query string: it names a file, not a page.
	urls, err := targetURL(req.URL, cachekey.StripNone)
	if err != nil {
		writeError(w, r, err)
		return
	}
	u := urls.Load
	if err := s.guard.Check(r.Context(), u); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.app.AddSitemap(r.Context(), u.String()); err != nil {
		writeError(w, r, err)
		return
	}
	s.log.Info("sitemap added through the API", "url", u.String())
	writeAPIJSON(w, http.StatusOK, api.SitemapAdded{Status: "added", URL: u.String()})
}
