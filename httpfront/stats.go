package httpfront

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"prerenderd/actors"
	"prerenderd/analytics"
	"prerenderd/api"
)

// The read-only routes of the dashboard: GET /api/stats, /api/stats/top and
// /api/state. They follow the admin routes' token rules (admin.go): loopback
// callers need no token while server.tokens is empty; otherwise every caller
// sends X-Prerender-Token.

// counted is one answer of the render route, as the analytics count it.
type counted struct {
	label  string // X-Prerender-Cache value, or cacheError
	status int
	bytes  int // body bytes sent
	url    string
	key    string
	start  time.Time
	wait   time.Duration // how long a render took to answer
	// fromStore: served from the cache without a render.
	fromStore bool
}

// answered is called once per answer of the render route, where its cache
// result is decided: it counts the answer in /metrics (metrics.go), records it
// in the analytics and, at log level debug, logs answers from the store
// (renders and errors have a line of their own). It is the analytics' seam in
// the hit path.
func (s *Server) answered(w http.ResponseWriter, r *http.Request, a counted) {
	ua := headerValue(r.Header, "User-Agent")
	_, class := s.agents.of(ua)
	s.metrics.count(a.label, a.status, class)
	if rec := s.cfg.Analytics; rec != nil {
		res, _ := analytics.ResultOf(a.label)
		rec.Record(analytics.Request{Time: a.start, Result: res, Status: a.status, Bytes: a.bytes,
			UserAgent: ua, Class: class, URL: a.url, Wait: a.wait})
	}
	if a.fromStore && s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("answered from the cache", "req", requestID(w), "key", a.key, "variant", variantOfKey(a.key), "cache", a.label,
			"status", a.status, "bytes", a.bytes, "crawler", class.Name())
	}
}

// variantOfKey is the variant part of a cache key ("desktop|https://…").
func variantOfKey(key string) string {
	v, _, _ := strings.Cut(key, "|")
	return v
}

func requestID(w http.ResponseWriter) string {
	if v := w.Header()["X-Prerender-Request-Id"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// RenderHook is the actors.Config.OnRender hook that counts every finished
// render in rec; nil when rec is nil (analytics off).
func RenderHook(rec *analytics.Recorder) func(actors.RenderEvent) {
	if rec == nil {
		return nil
	}
	return func(e actors.RenderEvent) {
		res, ok := analytics.RenderResultOf(e.Result)
		if !ok {
			res = analytics.RenderError
		}
		q, ok := analytics.QueueOf(e.Queue.String())
		if !ok {
			q = analytics.Normal
		}
		r := analytics.Render{Time: e.Finished, Variant: variantOfKey(e.Key), URL: e.URL, Result: res, Queue: q,
			Status: e.Status, Duration: e.Finished.Sub(e.Started), Attempts: e.Attempts}
		if e.Err != nil {
			r.Err = e.Err.Error()
		}
		rec.RecordRender(r)
	}
}

// readOnly checks the method (GET or HEAD) and the admin token rules of a
// read-only route; it writes the refusal and returns false when the request
// must stop.
func (s *Server) readOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, &clientError{status: http.StatusMethodNotAllowed, reason: "method-not-allowed", msg: "use GET"})
		return false
	}
	if err := s.checkAdmin(r, ""); err != nil {
		writeError(w, r, err)
		return false
	}
	return true
}

var errAnalyticsOff = &clientError{status: http.StatusNotFound, reason: "analytics-off",
	msg: "analytics are off: set analytics.enabled = true in config.toml"}

// stats answers GET /api/stats?from=&to=&step=&site=.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	if !s.readOnly(w, r) {
		return
	}
	if s.cfg.Analytics == nil {
		writeError(w, r, errAnalyticsOff)
		return
	}
	q := r.URL.Query()
	now := s.cfg.Clock()
	var sq analytics.StatsQuery
	var err error
	if sq.From, sq.To, err = window(q, now); err == nil {
		sq.Step, err = durationParam(q, "step")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	sq.Site = q.Get("site")
	st, err := s.cfg.Analytics.Stats(sq)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeAPIJSON(w, http.StatusOK, st)
}

// statsTop answers GET /api/stats/top?by=&crawler=&from=&to=&site=&limit=.
func (s *Server) statsTop(w http.ResponseWriter, r *http.Request) {
	if !s.readOnly(w, r) {
		return
	}
	if s.cfg.Analytics == nil {
		writeError(w, r, errAnalyticsOff)
		return
	}
	q := r.URL.Query()
	tq := analytics.TopQuery{Crawler: q.Get("crawler"), Site: q.Get("site")}
	by := q.Get("by")
	if by == "" {
		by = "requested"
	}
	m, ok := analytics.MeasureOf(by)
	if !ok {
		writeError(w, r, &clientError{status: http.StatusBadRequest, reason: "bad-by", msg: fmt.Sprintf("by %q is not requested, missed or slowest", by)})
		return
	}
	tq.By = m
	var err error
	if tq.From, tq.To, err = window(q, s.cfg.Clock()); err != nil {
		writeError(w, r, err)
		return
	}
	if v := q.Get("limit"); v != "" {
		if tq.Limit, err = strconv.Atoi(v); err != nil || tq.Limit <= 0 {
			writeError(w, r, &clientError{status: http.StatusBadRequest, reason: "bad-limit", msg: fmt.Sprintf("limit %q is not a positive number", v)})
			return
		}
	}
	top, err := s.cfg.Analytics.Top(tq)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeAPIJSON(w, http.StatusOK, top)
}

// state answers GET /api/state: browsers and tabs, queues, cache size,
// sitemaps and the last renders.
func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	if !s.readOnly(w, r) {
		return
	}
	st := s.app.State()
	out := api.State{
		Time: s.cfg.Clock().UTC(), Version: s.cfg.Version, Starting: st.Starting,
		Browsers: []api.Browser{}, Waiting: renderTabs(st.Waiting), RendersInFlight: st.RendersInFlight,
		Queues: api.Queues{TabWait: st.TabWait, TabsBusy: st.TabsBusy, Tabs: st.Tabs,
			Priority: api.QueueState{Length: st.PriorityLength, URLsPerHour: st.PriorityPace},
			Normal:   api.QueueState{Length: st.NormalLength, URLsPerHour: st.NormalPace}},
		Cache: api.Cache{Pages: st.Pages, StoredBytes: st.StoredBytes, MaxBytes: st.MaxBytes, DiskBytes: st.DiskBytes},
		Sitemaps: api.Sitemaps{Polls: st.SitemapPolls, URLsFound: st.SitemapURLsFound, URLsQueued: st.SitemapURLsQueued,
			ReadErrors: st.SitemapReadErrors, Files: []api.SitemapFile{}},
		Recent: s.cfg.Analytics.Recent(),
	}
	if out.Recent == nil {
		out.Recent = []api.RecentRender{}
	}
	for _, b := range st.Browsers {
		state := "up"
		if b.Draining {
			state = "draining"
		}
		out.Browsers = append(out.Browsers, api.Browser{ID: b.ID, PID: b.PID, Generation: b.Generation, State: state,
			Tabs: b.Tabs, Busy: len(b.Rendering), Renders: b.Renders, UpSince: b.UpSince.UTC(), RSS: b.RSS, PSS: b.PSS,
			Rendering: renderTabs(b.Rendering)})
	}
	files, err := s.app.Sitemaps()
	if err != nil {
		s.log.Warn("cannot list sitemaps for the state", "err", err)
	}
	for _, f := range files {
		out.Sitemaps.Files = append(out.Sitemaps.Files, api.SitemapFile{URL: f.URL, Added: f.State.Added, Kind: f.State.Kind,
			URLs: f.State.URLs, PolledAt: f.State.PolledAt, LastError: f.State.LastError})
	}
	writeAPIJSON(w, http.StatusOK, out)
}

func renderTabs(rs []actors.RenderState) []api.Tab {
	out := make([]api.Tab, 0, len(rs))
	for _, x := range rs {
		out = append(out, api.Tab{URL: x.URL, Variant: variantOfKey(x.Key), Queue: x.Queue.String(), Since: x.Since.UTC()})
	}
	return out
}

// window reads from= and to=. Each is an RFC 3339 time, Unix seconds, "now",
// or a duration before now ("-6h" or "6h"); to defaults to now, from to 24
// hours before to.
func window(q url.Values, now time.Time) (from, to time.Time, err error) {
	if to, err = timeParam(q, "to", now); err != nil {
		return
	}
	if to.IsZero() {
		to = now
	}
	if from, err = timeParam(q, "from", now); err != nil {
		return
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	return from, to, nil
}

func timeParam(q url.Values, name string, now time.Time) (time.Time, error) {
	v := strings.TrimSpace(q.Get(name))
	switch {
	case v == "":
		return time.Time{}, nil
	case v == "now":
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n < 1<<40 {
		return time.Unix(n, 0), nil
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(v, "-")); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, &clientError{status: http.StatusBadRequest, reason: "bad-" + name,
		msg: fmt.Sprintf("%s %q is not a time: give RFC 3339 (2026-03-01T10:00:00Z), Unix seconds, now, or a duration before now (-6h)", name, v)}
}

func durationParam(q url.Values, name string) (time.Duration, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 && n < 1<<31 {
		return time.Duration(n) * time.Second, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	return 0, &clientError{status: http.StatusBadRequest, reason: "bad-" + name,
		msg: fmt.Sprintf("%s %q is not a duration: give seconds (300) or a Go duration (5m, 1h)", name, v)}
}
