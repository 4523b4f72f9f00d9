package httpfront

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"prerenderd/actors"
	"prerenderd/api"
	"prerenderd/cachekey"
)

// This file is the HTTP side of a cluster (actors/cluster.go): a page whose
// key another member owns is forwarded to it and its answer copied; the
// admin routes act on every member and merge their answers; GET /api/cluster
// lists the members. A request another member forwarded here is answered
// here (actors.Forwarded), never forwarded again.

// nodeHeader names the member that answered (cluster.node).
const nodeHeader = "X-Prerender-Node"

// searchWindowHeader carries, on a search forwarded to every member, how many
// results each returns from the first: the front merges them and cuts the
// page. It is read only from a forwarded request.
const searchWindowHeader = "X-Prerender-Search-Window"

// clusterRequest is r as another member receives it.
func clusterRequest(r *http.Request, body []byte) *actors.HTTPRequest {
	return &actors.HTTPRequest{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, RemoteAddr: r.RemoteAddr,
		Header: r.Header.Clone(), Body: body}
}

// forwardPage answers a page request from the member that owns key.
func (s *Server) forwardPage(w http.ResponseWriter, r *http.Request, key string) {
	ans, err := s.app.ForwardPage(r.Context(), key, clusterRequest(r, nil))
	if err != nil {
		if r.Context().Err() != nil {
			return // the client left
		}
		s.log.Warn("cluster forward failed", "req", requestID(w), "key", key, "err", err)
		s.fail(w, r, err)
		return
	}
	s.writeAnswer(w, r, ans)
}

// writeAnswer copies another member's answer: its headers (its
// X-Prerender-Node among them), status and body.
func (s *Server) writeAnswer(w http.ResponseWriter, r *http.Request, ans *actors.HTTPAnswer) {
	h := w.Header()
	for k, vs := range ans.Header {
		h[k] = vs
	}
	if ans.Node != "" {
		h[nodeHeader] = []string{ans.Node}
	}
	w.WriteHeader(ans.Status)
	if r.Method != http.MethodHead && len(ans.Body) > 0 {
		s.writeBody(w, ans.Body)
	}
}

// clusterRoute answers the admin routes that act on the whole cluster, and
// reports whether it did. It leaves to the route itself what one member
// answers alone (a bad method, an unreadable body: every member would refuse
// it the same way).
func (s *Server) clusterRoute(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	switch {
	case path == "/search" && r.Method == http.MethodPost:
	case path == "/cache-clear" && r.Method == http.MethodPost:
	case path == "/cache-clear-status" || strings.HasPrefix(path, "/cache-clear-status/"):
	case path == "/change-recache-speed" && r.Method == http.MethodPost:
	case path == "/recache" && r.Method == http.MethodPost:
	case path == "/sitemap" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
	default:
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		writeError(w, r, &clientError{status: http.StatusRequestEntityTooLarge, reason: "body-too-large", msg: "cannot read the body: " + err.Error()})
		return true
	}
	switch path {
	case "/search":
		return s.clusterSearch(w, r, body)
	case "/recache":
		return s.clusterRecache(w, r, body)
	case "/sitemap":
		if r.Method == http.MethodPost {
			return s.clusterAddSitemap(w, r, body)
		}
		s.broadcast(w, r, body, mergeSitemaps)
	case "/change-recache-speed":
		s.broadcast(w, r, body, nil)
	default:
		s.broadcast(w, r, body, mergeClears)
	}
	return true
}

// broadcast sends the request to every member. A member's refusal (4xx,
// 5xx) is the answer; otherwise merge combines the members' JSON bodies (nil:
// they all answer the same, this member's is sent).
func (s *Server) broadcast(w http.ResponseWriter, r *http.Request, body []byte, merge func([][]byte) (any, error)) {
	answers, err := s.app.Broadcast(r.Context(), clusterRequest(r, body))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeMerged(w, r, answers, merge)
}

func (s *Server) writeMerged(w http.ResponseWriter, r *http.Request, answers []*actors.HTTPAnswer, merge func([][]byte) (any, error)) {
	if len(answers) == 0 {
		s.fail(w, r, errors.Join(actors.ErrClusterUnavailable, errors.New("no member answered")))
		return
	}
	status := http.StatusOK
	bodies := make([][]byte, 0, len(answers))
	first := answers[0]
	for _, a := range answers {
		if a.Status >= 400 {
			s.writeAnswer(w, r, a)
			return
		}
		if a.Node == s.app.NodeName() {
			first = a
		}
		status = max(status, a.Status) // 202 of a clear that runs somewhere
		bodies = append(bodies, a.Body)
	}
	if merge == nil {
		s.writeAnswer(w, r, first)
		return
	}
	out, err := merge(bodies)
	if err != nil {
		s.fail(w, r, &clientError{status: http.StatusBadGateway, reason: "cluster-bad-answer", msg: "a member's answer could not be merged: " + err.Error()})
		return
	}
	writeAPIJSON(w, status, out)
}

// clusterSearch asks every member for the first start+SearchPageSize of its
// matches and cuts the page from their merge, in the key order one member
// uses.
func (s *Server) clusterSearch(w http.ResponseWriter, r *http.Request, body []byte) bool {
	var req map[string]any
	if len(strings.TrimSpace(string(body))) > 0 && json.Unmarshal(body, &req) != nil {
		return s.local(w, r, body)
	}
	var parsed api.SearchRequest
	_ = json.Unmarshal(body, &parsed)
	if parsed.Start < 0 {
		return s.local(w, r, body)
	}
	if req == nil {
		req = map[string]any{}
	}
	delete(req, "start")
	rebody, _ := json.Marshal(req)
	fr := clusterRequest(r, rebody)
	fr.Header.Set(searchWindowHeader, strconv.Itoa(parsed.Start+actors.SearchPageSize))
	answers, err := s.app.Broadcast(r.Context(), fr)
	if err != nil {
		s.fail(w, r, err)
		return true
	}
	s.writeMerged(w, r, answers, func(bodies [][]byte) (any, error) {
		out := api.SearchResponse{Start: parsed.Start, Results: []api.SearchItem{}}
		for _, b := range bodies {
			var one api.SearchResponse
			if err := json.Unmarshal(b, &one); err != nil {
				return nil, err
			}
			out.Total += one.Total
			out.Results = append(out.Results, one.Results...)
		}
		slices.SortFunc(out.Results, func(a, b api.SearchItem) int {
			return strings.Compare(a.Variant+"|"+a.URL, b.Variant+"|"+b.URL)
		})
		from := min(parsed.Start, len(out.Results))
		out.Results = out.Results[from:min(from+actors.SearchPageSize, len(out.Results))]
		return out, nil
	})
	return true
}

// local answers the request on this member alone (a body every member would
// refuse the same way).
func (s *Server) local(w http.ResponseWriter, r *http.Request, body []byte) bool {
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	return false
}

// clusterRecache sends each URL to the member that owns its key, in one
// request per member, and sums their answers.
func (s *Server) clusterRecache(w http.ResponseWriter, r *http.Request, body []byte) bool {
	var req api.RecacheRequest
	if json.Unmarshal(body, &req) != nil {
		return s.local(w, r, body)
	}
	urls := req.URLs
	if req.URL != "" {
		urls = append([]string{req.URL}, urls...)
	}
	variant, err := s.recacheVariant(req.AdaptiveType)
	if err != nil || len(urls) == 0 || len(urls) > maxRecacheURLs {
		return s.local(w, r, body)
	}
	// Grouped by owner; a URL that is not valid goes with the first group,
	// whose member reports it.
	groups := map[string][]string{}
	var order []string
	keyOf := map[string]string{}
	for _, u := range urls {
		key := ""
		if t, err := targetURL(u, s.cfg.StripQuery); err == nil {
			key = cachekey.Key(variant, t.Key)
		}
		owner, _ := s.app.OwnerOf(key)
		if _, ok := groups[owner]; !ok {
			order = append(order, owner)
			keyOf[owner] = key
		}
		groups[owner] = append(groups[owner], u)
	}
	var answers []*actors.HTTPAnswer
	for _, owner := range order {
		one := api.RecacheRequest{Token: req.Token, URLs: groups[owner], AdaptiveType: req.AdaptiveType}
		b, _ := json.Marshal(one)
		ans, err := s.app.ForwardToOwnerOf(r.Context(), keyOf[owner], clusterRequest(r, b))
		if err != nil {
			s.fail(w, r, err)
			return true
		}
		answers = append(answers, ans)
	}
	var out api.RecacheAnswer
	ok := false
	for _, a := range answers {
		var one api.RecacheAnswer
		if err := json.Unmarshal(a.Body, &one); err != nil {
			if a.Status >= 400 {
				s.writeAnswer(w, r, a) // a refusal of the request (token, body)
				return true
			}
			s.fail(w, r, &clientError{status: http.StatusBadGateway, reason: "cluster-bad-answer", msg: "a member's recache answer is not JSON: " + err.Error()})
			return true
		}
		ok = ok || a.Status == http.StatusOK
		out.Queued += one.Queued
		out.Duplicate += one.Duplicate
		out.Invalid = append(out.Invalid, one.Invalid...)
	}
	if !ok {
		w.Header().Set("X-Prerender-Reject-Reason", "no-valid-url")
		writeAPIJSON(w, http.StatusBadRequest, out)
		return true
	}
	s.log.Info("cluster recache requested", "urls", len(urls), "members", len(order), "queued", out.Queued, "duplicate", out.Duplicate)
	writeAPIJSON(w, http.StatusOK, out)
	return true
}

// clusterAddSitemap adds a sitemap on every member, so that it outlives any
// one of them; the member that owns it (actors.SitemapKey) polls it, and
// queues each URL it yields on that URL's owner.
func (s *Server) clusterAddSitemap(w http.ResponseWriter, r *http.Request, body []byte) bool {
	var req api.SitemapRequest
	if json.Unmarshal(body, &req) != nil || req.URL == "" {
		return s.local(w, r, body)
	}
	s.broadcast(w, r, body, nil)
	return true
}

func mergeClears(bodies [][]byte) (any, error) {
	var out api.ClearResponse
	states := map[string]bool{}
	for _, b := range bodies {
		var one api.ClearResponse
		if err := json.Unmarshal(b, &one); err != nil {
			return nil, err
		}
		states[one.Status] = true
		out.Matched += one.Matched
		out.Deleted += one.Deleted
		out.Busy += one.Busy
		out.Query = cmpOr(out.Query, one.Query)
		out.ID = max(out.ID, one.ID)
		out.Error = cmpOr(out.Error, one.Error)
		if one.StartedAt != nil && (out.StartedAt == nil || one.StartedAt.Before(*out.StartedAt)) {
			out.StartedAt = one.StartedAt
		}
		if one.FinishedAt != nil && (out.FinishedAt == nil || one.FinishedAt.After(*out.FinishedAt)) {
			out.FinishedAt = one.FinishedAt
		}
	}
	// The cluster's clear runs while one member's does, failed when one did.
	for _, st := range []string{"running", "failed", "done", "none"} {
		if states[st] {
			out.Status = st
			break
		}
	}
	if out.Status == "running" {
		out.FinishedAt = nil
	}
	return out, nil
}

// mergeSitemaps lists each sitemap once: every member knows the added ones,
// and the one that polled a file last has its state.
func mergeSitemaps(bodies [][]byte) (any, error) {
	byURL := map[string]api.SitemapItem{}
	for _, b := range bodies {
		var one api.SitemapList
		if err := json.Unmarshal(b, &one); err != nil {
			return nil, err
		}
		for _, it := range one.Sitemaps {
			if had, ok := byURL[it.URL]; !ok || it.PolledAt.After(had.PolledAt) {
				it.Added = it.Added || had.Added
				byURL[it.URL] = it
			} else {
				had.Added = had.Added || it.Added
				byURL[it.URL] = had
			}
		}
	}
	out := api.SitemapList{Sitemaps: []api.SitemapItem{}}
	for _, it := range byURL {
		out.Sitemaps = append(out.Sitemaps, it)
	}
	slices.SortFunc(out.Sitemaps, func(a, b api.SitemapItem) int { return strings.Compare(a.URL, b.URL) })
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// clusterState answers GET /api/cluster: the members, as this one sees them.
func (s *Server) clusterState(w http.ResponseWriter, r *http.Request) {
	if !s.readOnly(w, r) {
		return
	}
	st := s.app.ClusterState(r.Context())
	out := api.Cluster{Enabled: st.Enabled, Name: st.Name, Node: st.Node, Address: st.Address,
		VirtualShards: st.VirtualShards, Members: []api.ClusterMember{}, Time: s.cfg.Clock().UTC().Truncate(time.Millisecond)}
	if st.Enabled {
		out.Forwarded = &api.ClusterForwarded{Out: st.ForwardedOut, In: st.ForwardedIn, Errors: st.ForwardErrors, HopMeanSeconds: st.HopMean.Seconds()}
	}
	for _, m := range st.Members {
		out.Members = append(out.Members, api.ClusterMember{Name: m.Name, Address: m.Address, Self: m.Self,
			VirtualShards: m.VirtualShards, Pages: m.Pages, Error: m.Err})
	}
	if raw := r.URL.Query().Get("url"); raw != "" && st.Enabled {
		// Which member owns a page: ?url=…&variant=desktop|mobile.
		variant := r.URL.Query().Get("variant")
		if variant == "" {
			variant = cachekey.Desktop
		}
		u, err := targetURL(raw, s.cfg.StripQuery)
		if err == nil {
			_, err = variantOf(variant)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		key := cachekey.Key(variant, u.Key)
		addr, _ := s.app.OwnerOf(key)
		out.Key = key
		for i, m := range out.Members {
			if m.Address == addr {
				out.Owner = &out.Members[i]
			}
		}
	}
	writeAPIJSON(w, http.StatusOK, out)
}
