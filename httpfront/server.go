package httpfront

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"

	"prerenderd/actors"
	"prerenderd/analytics"
	"prerenderd/browser"
	"prerenderd/browser/pagemeta"
	"prerenderd/cachekey"
	"prerenderd/httpfront/target"
	"prerenderd/netguard"
	"prerenderd/policy"
	"prerenderd/storage"
)

// Config is what the HTTP front needs from config.toml.
type Config struct {
	// Listen is the address the server listens on; the built-in demo is rendered from
	// it and is the one loopback target allowed without security.allow_private.
	Listen     string
	Tokens     []string
	StripQuery cachekey.StripMode
	AllowHosts []string
	// Policy is the address rule of the request-time check (security.allow_private,
	// security.allow_addresses): the one the egress proxy applies to Chromium's
	// connections. nil refuses every non-public address.
	Policy *netguard.Policy
	// AllowPrivate is Policy = netguard.Everything, for tests.
	AllowPrivate bool
	Logger       *slog.Logger
	// Resolver replaces DNS in the private-address check (tests).
	Resolver netguard.Resolver
	Clock    func() time.Time
	// Version and Commit describe the build, for prerender_build_info.
	Version string
	Commit  string
	// Variants are the variants rendered separately (render.variants); a
	// request's User-Agent picks one (cachekey.VariantFor). Default desktop.
	Variants []string

	// TimeoutStatus is the answer to a page still busy at render.page_timeout:
	// 200 (the default) sends the snapshot with X-Prerender-Incomplete, a 5xx
	// sends that status with reason "timeout" and no page.
	TimeoutStatus int
	// WriteTimeout bounds each write of up to writeChunk bytes of an answer's
	// body (default 10s): a client that reads slower is disconnected.
	WriteTimeout time.Duration
	// Analytics counts every answer of the render route for the dashboard
	// (stats.go); nil when analytics.enabled is false.
	Analytics *analytics.Recorder
	// Store is the appliance's store, whose Pebble health /metrics reports
	// (prerender_storage_*); nil leaves those families out.
	Store *storage.Store
}

// Server is the HTTP API.
type Server struct {
	cfg      Config
	app      *actors.Appliance
	guard    netguard.Guard
	log      *slog.Logger
	idPrefix string
	ids      atomic.Uint64
	set      *metrics.Set
	metrics  *frontMetrics
	demo     http.Handler
	// vary is the Vary of a page: User-Agent joins Accept-Encoding only when
	// a User-Agent can choose another variant.
	vary []string
	// targets remembers the targets of recent render requests (targets.go).
	targets *targetCache
	// node is X-Prerender-Node of every answer in a cluster (cluster.node);
	// nil outside one.
	node []string
	// agents remembers the variant and crawler class of recent User-Agents
	// (agents.go).
	agents *agentCache
}

// Cache results, the values of X-Prerender-Cache and of the metric's label.
const (
	cacheHit         = "HIT"
	cacheMiss        = "MISS"
	cacheBypass      = "BYPASS"
	cacheStale       = "STALE"
	cacheRevalidated = "REVALIDATED"
	cachePrerender   = "PRERENDER"
	cacheError       = "error"
)

// New builds the HTTP API over app.
func New(cfg Config, app *actors.Appliance) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.StripQuery == "" {
		cfg.StripQuery = cachekey.StripTracking
	}
	if len(cfg.Variants) == 0 {
		cfg.Variants = []string{cachekey.Desktop}
	}
	if cfg.AllowPrivate {
		cfg.Policy = netguard.Everything
	}
	if cfg.TimeoutStatus == 0 {
		cfg.TimeoutStatus = http.StatusOK
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	s := &Server{
		cfg:      cfg,
		app:      app,
		guard:    netguard.Guard{Policy: cfg.Policy, AllowHosts: cfg.AllowHosts, Resolver: cfg.Resolver},
		log:      cfg.Logger,
		idPrefix: hex.EncodeToString(rnd[:]) + "-",
		set:      metrics.NewSet(),
		demo:     demoHandler(),
		vary:     varyValue,
		targets:  newTargetCache(),
		agents:   newAgentCache(cfg.Variants),
	}
	// app is nil only for a front that refuses before any cache work (the CLI
	// client's tests).
	markdown := app != nil && app.MarkdownOn()
	switch {
	case markdown && len(cfg.Variants) > 1:
		s.vary = []string{"Accept, Accept-Encoding, User-Agent"}
	case markdown:
		// Accept chooses HTML or Markdown (prefersMarkdown), on every answer
		// of a page: a shared cache must not give one to who asked the other.
		s.vary = []string{"Accept, Accept-Encoding"}
	case len(cfg.Variants) > 1:
		s.vary = []string{"Accept-Encoding, User-Agent"}
	}
	if app != nil && app.Clustered() {
		s.node = []string{app.NodeName()}
	}
	// /metrics is read by Prometheus: # HELP and # TYPE for every family
	// (metrics.go). The switch is the library's and global; it is never off.
	metrics.ExposeMetadata(true)
	s.metrics = newFrontMetrics(s.set)
	s.set.NewGauge(buildInfoMetric(cfg.Version, cfg.Commit, runtime.Version()), func() float64 { return 1 })
	return s
}

// Listener wraps the server for the appliance's httpfront actor, which owns its
// lifecycle (Serve on start, Shutdown first on stop).
func (s *Server) Listener(ln net.Listener) actors.HTTPServer {
	return &boundServer{ln: ln, srv: &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}}
}

type boundServer struct {
	ln  net.Listener
	srv *http.Server
}

func (b *boundServer) Serve() error                       { return b.srv.Serve(b.ln) }
func (b *boundServer) Shutdown(ctx context.Context) error { return b.srv.Shutdown(ctx) }

// ServeHTTP routes by hand: http.ServeMux would clean "/http://host/" into
// "/http:/host/" with a redirect, so the render target comes from r.RequestURI.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ids := s.newRequestID()
	reqID := ids[0]
	w.Header()["X-Prerender-Request-Id"] = ids
	uri := r.RequestURI
	if s.node != nil {
		w.Header()[nodeHeader] = s.node
		if !actors.Forwarded(r.Context()) && s.clusterRoute(w, r) {
			return
		}
	}
	switch {
	case uri == "/render" || strings.HasPrefix(uri, "/render?"):
		s.renderRoute(w, r, reqID)
	case isTargetPath(uri):
		s.renderRequest(w, r, reqID)
	case r.URL.Path == "/search":
		s.search(w, r)
	case r.URL.Path == "/cache-clear":
		s.cacheClear(w, r)
	case r.URL.Path == "/cache-clear-status" || strings.HasPrefix(r.URL.Path, "/cache-clear-status/"):
		s.cacheClearStatus(w, r)
	case r.URL.Path == "/recache":
		s.recache(w, r)
	case r.URL.Path == "/change-recache-speed":
		s.changeRecacheSpeed(w, r)
	case r.URL.Path == "/sitemap":
		s.sitemap(w, r)
	case r.URL.Path == "/crawlers":
		serveCrawlers(w, r)
	case r.URL.Path == "/" && acceptsHTML(r):
		serveDashboard(w, r)
	case strings.HasPrefix(r.URL.Path, "/dashboard/"):
		serveDashboard(w, r)
	case r.URL.Path == "/api/stats":
		s.stats(w, r)
	case r.URL.Path == "/api/stats/top":
		s.statsTop(w, r)
	case r.URL.Path == "/api/state":
		s.state(w, r)
	case r.URL.Path == "/api/cluster":
		s.clusterState(w, r)
	case r.URL.Path == "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	case r.URL.Path == "/readyz":
		s.readyz(w, r)
	case r.URL.Path == "/metrics":
		s.serveMetrics(w, r)
	case r.URL.Path == "/demo" || strings.HasPrefix(r.URL.Path, "/demo/"):
		s.demo.ServeHTTP(w, r)
	default:
		// Not a route of prerenderd, so it is a page request whose URL is not an
		// absolute http(s) URL ("/notaurl", "/ftp://example.com/").
		s.fail(w, r, badTarget(uri[1:], s.cfg.Listen))
	}
}

// requestIDValue is an answer's X-Prerender-Request-Id: the header's value and
// the bytes of its string in one allocation (they were two of a hit's ~25
// through net/http, whose collections are most of what a hit costs beyond
// net/http's own work: issue 17).
type requestIDValue struct {
	v   [1]string
	buf [24]byte // the prefix (9 bytes) and a uint64 in base 36 (13 at most)
}

// newRequestID makes the next request ID as a header value.
func (s *Server) newRequestID() []string {
	id := new(requestIDValue)
	b := strconv.AppendUint(append(id.buf[:0], s.idPrefix...), s.ids.Add(1), 36)
	// b is never written again, so the string may share its bytes.
	id.v[0] = unsafe.String(unsafe.SliceData(b), len(b))
	return id.v[:]
}

// badTarget explains why the path of a request is not a page URL.
func badTarget(raw, listen string) error {
	how := "ask for a page as GET /{absolute http(s) URL}, e.g. GET /https://example.com/"
	if listen != "" {
		how += " (the built-in demo: GET /http://" + listen + "/demo/)"
	}
	if raw == "" {
		// GET / of a browser is the dashboard; say so to whoever else asks.
		return &clientError{status: http.StatusBadRequest, reason: "bad-url", msg: "no page URL in the path: " + how + "; the dashboard is GET / from a browser (Accept: text/html)"}
	}
	if u, err := url.Parse(raw); err == nil && u.Scheme == "" {
		return &clientError{status: http.StatusBadRequest, reason: "bad-url", msg: fmt.Sprintf("%q is not a page URL: it is not absolute (no http:// or https://); %s", "/"+raw, how)}
	}
	if _, err := cachekey.Normalize(raw, cachekey.StripNone); err != nil {
		return &clientError{status: http.StatusBadRequest, reason: "bad-url", msg: fmt.Sprintf("%q is not a page URL (%v): %s", "/"+raw, err, how)}
	}
	return &clientError{status: http.StatusBadRequest, reason: "bad-url", msg: fmt.Sprintf("%q is not a page URL: %s", "/"+raw, how)}
}

// buildInfoMetric is the name of prerender_build_info with its labels. The values
// come from the build (git describe, the commit, the toolchain); anything a label
// value cannot hold is replaced, so the exposition stays valid.
func buildInfoMetric(version, commit, goVersion string) string {
	clean := func(v string) string {
		return strings.Map(func(r rune) rune {
			if r == '"' || r == '\\' || r < ' ' || r > '~' {
				return '_'
			}
			return r
		}, v)
	}
	return fmt.Sprintf(`prerender_build_info{version="%s",commit="%s",goversion="%s"}`, clean(version), clean(commit), clean(goVersion))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.app.Ready(ctx); err != nil {
		writeError(w, r, &clientError{status: http.StatusServiceUnavailable, reason: "not-ready", msg: "no Chromium answers yet: " + err.Error()})
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// renderRequest answers GET /{absolute URL} (plain HTML /render comes through
// renderRoute to render too): the target
// is recovered from the request line by package target.
func (s *Server) renderRequest(w http.ResponseWriter, r *http.Request, reqID string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.fail(w, r, &clientError{status: http.StatusMethodNotAllowed, reason: "method-not-allowed", msg: "use GET or HEAD"})
		return
	}
	if err := s.checkToken(r); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.targets.resolve(r.RequestURI, headerValue(r.Header, target.IntegrationHeader), s.cfg.StripQuery, s.cfg.Variants)
	if err != nil {
		s.fail(w, r, badURL(err))
		return
	}
	s.render(w, r, reqID, p, s.app.MarkdownOn() && prefersMarkdown(headerValue(r.Header, "Accept")))
}

// render answers the page p, the request's token checked: from the store, or
// rendered now. Chromium loads p.urls.Load; the page is stored under its key
// for the request's variant. asMarkdown answers its Markdown rendition instead
// of its HTML.
func (s *Server) render(w http.ResponseWriter, r *http.Request, reqID string, p *resolvedPage, asMarkdown bool) {
	start := s.cfg.Clock()
	page, load := p.urls.Key, p.load
	variant, _ := s.agents.of(headerValue(r.Header, "User-Agent"))
	key := p.key(variant, s.cfg.Variants)
	if fromRenderer(r) && s.app.RefuseLoop(key) {
		// A renderer asks for a page prerenderd is loading: Chromium's own request,
		// sent back by a middleware. Joining the render would wait on itself.
		s.log.Warn("render loop refused", "req", reqID, "url", load, "ua", r.UserAgent())
		s.fail(w, r, &clientError{status: http.StatusLoopDetected, reason: "loop-detected",
			msg: "prerenderd is loading this page itself: a middleware sent the renderer's request back to prerenderd instead of to the site (pass requests with X-Prerender or a Prerender User-Agent to the site)"})
		return
	}
	demo := s.isDemo(page)
	if !demo && len(s.cfg.AllowHosts) > 0 {
		// The host list is checked on hits too: a host removed from the list stops
		// being served at once, not when its pages expire.
		if err := (&netguard.Guard{AllowHosts: s.cfg.AllowHosts, Policy: netguard.Everything}).Check(r.Context(), page); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if s.node != nil && s.app.OwnedElsewhere(r.Context(), key) {
		// Another member owns the page: it answers (one hop), from its cache or
		// by rendering; this member keeps nothing of it.
		s.forwardPage(w, r, key)
		return
	}
	// The hit path: one façade call decides and, for a stored page it serves,
	// writes it through view.
	view := func(v *storage.PageView, d policy.Decision) error {
		s.writeView(w, r, v, key, start, d, asMarkdown)
		return nil
	}
	look, err := s.app.Lookup(r.Context(), key, start, view)
	if err != nil {
		// A store that cannot be read is not a reason to fail the crawler: render.
		s.log.Error("cannot read cache", "key", key, "err", err)
	}
	if look.Decision.Serves() {
		return
	}
	// Only a miss fetches anything, so only a miss pays for DNS.
	if !demo {
		if err := s.guard.Check(r.Context(), page); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	look.Markdown = asMarkdown
	res, err := s.app.RenderFor(r.Context(), look, load, view)
	if r.Context().Err() != nil {
		return // the client left; the render goes on and is stored for the next one
	}
	if res != nil && res.Served {
		if res.As == policy.StaleIfError {
			// Serving the old page beats an error; the Warning told the client it
			// could not be refreshed.
			s.log.Warn("render failed, served stale page", "req", reqID, "url", load, "err", res.Err,
				"ms", time.Since(start).Milliseconds())
		}
		return
	}
	if err == nil && res.Result != nil && res.Result.Incomplete && s.cfg.TimeoutStatus != http.StatusOK {
		err = s.timeoutError()
	}
	if err != nil {
		status, reason := statusOf(err)
		s.log.Warn("render request failed", "req", reqID, "key", key, "variant", variantOfKey(key), "url", load,
			"status", status, "reason", reason, "queue", "live", "crawler", analytics.CrawlerOf(r.Header.Get("User-Agent")),
			"err", err, "ms", time.Since(start).Milliseconds())
		s.fail(w, r, err)
		return
	}
	cache := s.writeRendered(w, r, res, cacheLabel(look.Decision), load, key, start, asMarkdown)
	s.log.Info("render request", "req", reqID, "key", key, "variant", variantOfKey(key), "url", load, "cache", cache,
		"status", res.Result.Status, "incomplete", res.Result.Incomplete, "queue", "live",
		"crawler", analytics.CrawlerOf(r.Header.Get("User-Agent")), "markdown", asMarkdown,
		"joined", res.Joined, "removed", res.Removed, "ms", time.Since(start).Milliseconds())
}

// revalidationFailed is the Warning of a stale page served because its render
// failed (RFC 7234 §5.5.2).
const revalidationFailed = `111 - "Revalidation Failed"`

// cacheLabel is the X-Prerender-Cache value of a decision (README, Response
// headers).
func cacheLabel(d policy.Decision) string {
	switch d {
	case policy.Hit:
		return cacheHit
	case policy.Prerender:
		return cachePrerender
	case policy.Stale, policy.StaleIfError:
		return cacheStale
	case policy.Revalidate:
		return cacheRevalidated
	}
	return cacheMiss
}

// writeView writes a stored page: the one place a page from the store is
// answered (HIT, STALE, PRERENDER, and a page a render renewed or could not
// replace), as HTML or, asMarkdown, as its Markdown rendition. It is on the
// hit path: no allocation of the body, no log line.
func (s *Server) writeView(w http.ResponseWriter, r *http.Request, v *storage.PageView, key string, now time.Time, d policy.Decision, asMarkdown bool) {
	label := cacheLabel(d)
	gzBody, etag := v.Gzip, v.ETag
	var made []byte // a Markdown made now, for a page stored without one
	if asMarkdown {
		switch {
		case v.HasMarkdown():
			gzBody, etag = v.MarkdownGzip, markdownETag(v.ETag)
		default:
			var ok bool
			if made, ok = s.markdownOfView(v, key); ok {
				gzBody, etag = nil, markdownETag(v.ETag)
			} else {
				asMarkdown = false
			}
		}
	}
	// A Markdown made just now has no gzip: it is sent plain.
	gz := len(gzBody) > 0 && acceptsGzip(headerValue(r.Header, "Accept-Encoding"))
	// The header values of a page's HTML answers are made once per page and
	// encoding while it stays in the hot cache (answerMemo).
	var slot *atomic.Value
	var memo *answerMemo
	if !asMarkdown {
		i := memoPlain
		if gz {
			i = memoGzip
		}
		if slot = v.Memo(i); slot != nil {
			memo, _ = slot.Load().(*answerMemo)
		}
	}
	switch {
	case memo != nil:
		etag = memo.etag[0]
	case gz:
		etag = gzipETag(etag)
	}
	notModified := etagMatches(headerValue(r.Header, "If-None-Match"), etag)
	var body []byte
	switch {
	case notModified:
	case gz:
		body = gzBody
	case made != nil:
		body = made
	default:
		// Stored gzipped only: the plain body comes from the hot-body cache,
		// gunzipped once per page (storage.PageView.Plain).
		var err error
		if asMarkdown {
			body, err = v.Markdown()
		} else {
			body, err = v.Plain()
		}
		if err != nil {
			s.log.Error("cannot read a stored page; answered 500", "key", key, "err", err)
			s.fail(w, r, &clientError{status: http.StatusInternalServerError, reason: "damaged-page",
				msg: "the stored page cannot be read (its body is damaged); clear it to have it rendered again"})
			return
		}
	}
	h := w.Header()
	for k, vs := range v.Header {
		// A page stored before pagemeta's rule may hold a header net/http
		// would write raw (a NUL), losing every header after it; hop headers
		// are prerenderd's to decide, on hits as on renders.
		if !hopHeaders[k] && pagemeta.Valid(k, vs) {
			h[k] = vs
		}
	}
	if asMarkdown {
		h["Content-Type"] = markdownType
	} else if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = htmlType
	}
	if label == cacheHit {
		h["X-Prerender-Cache"] = hitValue
	} else {
		h["X-Prerender-Cache"] = []string{label}
	}
	if d == policy.StaleIfError {
		h["Warning"] = warningValue
	}
	if slot != nil && memo == nil && !notModified {
		memo = &answerMemo{etag: []string{etag}, length: []string{strconv.Itoa(len(body))}}
		slot.Store(memo)
	}
	age := int64(now.Sub(v.RenderedAt) / time.Second)
	// Without a memo, one allocation for the values made per answer, not one
	// per header.
	var vals *[3]string
	if memo != nil {
		h["Etag"] = memo.etag
		h["Age"] = memo.ageOf(age)
	} else {
		vals = new([3]string)
		vals[0], vals[1] = etag, strconv.FormatInt(age, 10)
		h["Etag"] = vals[0:1:1]
		h["Age"] = vals[1:2:2]
	}
	h["Vary"] = s.vary
	if notModified {
		s.answered(w, r, counted{label: label, status: http.StatusNotModified, url: v.URL, key: key, start: now, fromStore: true}) // analytics (issue 14)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz {
		h["Content-Encoding"] = gzipValue
	}
	if memo != nil {
		h["Content-Length"] = memo.length
	} else {
		vals[2] = strconv.Itoa(len(body))
		h["Content-Length"] = vals[2:3:3]
	}
	sent := 0
	if r.Method != http.MethodHead && bodyAllowed(v.Status) {
		sent = len(body)
	}
	s.answered(w, r, counted{label: label, status: v.Status, bytes: sent, url: v.URL, key: key, start: now, fromStore: true}) // analytics (issue 14)
	w.WriteHeader(v.Status)
	if sent > 0 {
		s.writeBody(w, body)
	}
}

// answerMemo is what every HTML answer of a page in one encoding shares: its
// ETag and Content-Length header values, and its Age of the last second asked
// for. writeView keeps it with the page in the hot cache (storage's
// PageView.Memo, slot memoPlain or memoGzip) so a hit formats and allocates
// none of them: the gzip ETag concatenated, the length and the age formatted
// per hit were 3 of its allocations (issue 17). Immutable once stored but for
// age.
type answerMemo struct {
	etag, length []string
	age          atomic.Pointer[ageValue]
}

// ageValue is an Age header value and the seconds it says.
type ageValue struct {
	secs int64
	v    []string
}

// The memo slots of a page (storage.MemoSlots of them).
const (
	memoPlain = iota
	memoGzip
)

// ageOf is the Age header value of secs seconds, made once per second of a
// page's age: many hits of a hot page share it.
func (m *answerMemo) ageOf(secs int64) []string {
	if a := m.age.Load(); a != nil && a.secs == secs {
		return a.v
	}
	a := &ageValue{secs: secs, v: []string{strconv.FormatInt(secs, 10)}}
	m.age.Store(a)
	return a.v
}

var (
	warningValue = []string{revalidationFailed}
	htmlType     = []string{"text/html; charset=utf-8"}
	hitValue     = []string{cacheHit}
	varyValue    = []string{"Accept-Encoding"}
	gzipValue    = []string{"gzip"}
)

// hopHeaders are never copied from a page's prerender-header tags: they describe
// the connection or the body encoding, which prerenderd decides.
var hopHeaders = map[string]bool{
	"Connection": true, "Content-Length": true, "Content-Encoding": true, "Transfer-Encoding": true,
	"Keep-Alive": true, "Upgrade": true, "Trailer": true, "Te": true,
	"X-Prerender-Cache": true, "X-Prerender-Request-Id": true, "Etag": true,
}

// writeRendered answers a render (MISS, REVALIDATED, BYPASS), as HTML or,
// asMarkdown, as its Markdown rendition: the stored one, or one made now for a
// render that was not stored.
func (s *Server) writeRendered(w http.ResponseWriter, r *http.Request, res *actors.Rendered, label, url, key string, start time.Time, asMarkdown bool) string {
	rr := res.Result
	body, gzBody, etag := rr.HTML, []byte(nil), ""
	if res.Page != nil {
		gzBody, etag = res.Page.Gzip, res.Page.ETag
	}
	if asMarkdown {
		switch {
		case res.Page != nil && len(res.Page.Markdown) > 0:
			body, gzBody, etag = res.Page.Markdown, res.Page.MarkdownGzip, markdownETag(res.Page.ETag)
		default:
			// Not stored (a capture, an incomplete snapshot), or its conversion
			// failed in the store work (it fails again here, and HTML answers).
			pageURL := rr.FinalURL
			if pageURL == "" {
				pageURL = url
			}
			md, err := actors.Markdown(rr.HTML, pageURL)
			if err != nil && !errors.Is(err, actors.ErrTooLargeForMarkdown) {
				s.log.Warn("cannot make the Markdown of a render; answered HTML", "key", key, "url", url, "err", err)
			}
			if err != nil {
				asMarkdown = false
				break
			}
			body, gzBody = md, nil
			if etag != "" {
				etag = markdownETag(etag)
			}
		}
	}
	h := w.Header()
	for k, vs := range rr.Header {
		if ck := http.CanonicalHeaderKey(k); !hopHeaders[ck] && pagemeta.Valid(ck, vs) {
			h[ck] = vs
		}
	}
	if asMarkdown {
		h["Content-Type"] = markdownType
	} else if h.Get("Content-Type") == "" {
		h["Content-Type"] = htmlType
	}
	cache := cacheBypass
	if res.Stored {
		cache = label
	}
	h["X-Prerender-Cache"] = []string{cache}
	if rr.Incomplete {
		h.Set("X-Prerender-Incomplete", "timeout")
	}
	if key != "" {
		// A page's answer, stored or not, is chosen by Accept (HTML or
		// Markdown) and the User-Agent (the variant); a capture's (key "") is not.
		h["Vary"] = s.vary
	}
	if res.Page != nil {
		h["Etag"] = []string{etag}
		h["Age"] = []string{"0"}
		if acceptsGzip(r.Header.Get("Accept-Encoding")) && len(gzBody) > 0 {
			body = gzBody
			h["Content-Encoding"] = gzipValue
			h["Etag"] = []string{gzipETag(etag)}
		}
	}
	status := rr.Status
	if status < 100 || status > 999 {
		status = http.StatusBadGateway
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	sent := 0
	if r.Method != http.MethodHead && bodyAllowed(status) {
		sent = len(body)
	}
	s.answered(w, r, counted{label: cache, status: status, bytes: sent, url: url, key: key, start: start, wait: time.Since(start)}) // analytics (issue 14)
	w.WriteHeader(status)
	if sent > 0 {
		s.writeBody(w, body)
	}
	return cache
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func (s *Server) checkToken(r *http.Request) error {
	if len(s.cfg.Tokens) == 0 {
		return nil
	}
	got := r.Header.Get("X-Prerender-Token")
	if got == "" {
		return &clientError{status: http.StatusUnauthorized, reason: "token-missing", msg: "X-Prerender-Token is required"}
	}
	for _, t := range s.cfg.Tokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
			return nil
		}
	}
	return &clientError{status: http.StatusForbidden, reason: "token-invalid", msg: "X-Prerender-Token is not valid"}
}

// targetURL reads a page URL given in an admin API's JSON: as is, or
// percent-encoded as a whole ("https%3A%2F%2Fshop.example%2Fp").
func targetURL(raw string, mode cachekey.StripMode) (target.URLs, error) {
	urls, err := target.Given(raw, mode)
	if err != nil {
		return target.URLs{}, badURL(err)
	}
	return urls, nil
}

// badURL is the client error of a target that cannot be recovered.
func badURL(err error) error {
	return &clientError{status: http.StatusBadRequest, reason: "bad-url", msg: err.Error()}
}

// fromRenderer reports whether a request was made by a renderer rather than a
// crawler: it carries X-Prerender (Chromium sends it on the page a render
// navigates to, as the npm server's does), or a User-Agent with "Prerender"
// (prerenderd's own, on the page's later requests and navigations; no
// crawler's has it, which prerender.io's nginx configuration relies on too).
// Middlewares forward both headers.
func fromRenderer(r *http.Request) bool {
	return headerValue(r.Header, prerenderHeader) != "" || strings.Contains(headerValue(r.Header, "User-Agent"), "Prerender")
}

// prerenderHeader is browser.PrerenderHeader in canonical form, for headerValue.
var prerenderHeader = http.CanonicalHeaderKey(browser.PrerenderHeader)

// isTargetPath: GET /{absolute URL}, as is or percent-encoded.
func isTargetPath(uri string) bool {
	for _, p := range []string{"/http:", "/https:", "/http%3a", "/https%3a", "//http:", "//https:"} {
		if hasFoldPrefix(uri, p) {
			return true
		}
	}
	return false
}

// isDemo: the built-in demo is served by this very server, on loopback, so it is the
// one private target allowed without security.allow_private.
func (s *Server) isDemo(u *url.URL) bool {
	if u.Path != "/demo" && !strings.HasPrefix(u.Path, "/demo/") {
		return false
	}
	_, lport, err := net.SplitHostPort(s.cfg.Listen)
	if err != nil || u.Port() != lport {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// acceptsGzip reads Accept-Encoding, honouring "gzip;q=0" as a refusal.
func acceptsGzip(ae string) bool {
	for ae != "" {
		var part string
		part, ae, _ = strings.Cut(ae, ",")
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, "gzip") && name != "*" {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		if q, ok := strings.CutPrefix(params, "q="); ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// gzipETag is the entity tag of a page's gzip body, derived from the tag of its
// plain body: the two are different representations, and a strong tag names
// one (RFC 9110 §8.8.3), so a cache that holds the plain body never answers a
// gzip request with it on a 304, nor the other way round.
func gzipETag(plain string) string {
	if t, ok := strings.CutSuffix(plain, `"`); ok && t != "" {
		return t + `-gzip"`
	}
	return plain + "-gzip"
}

func etagMatches(inm, etag string) bool {
	if inm == "" || etag == "" {
		return false
	}
	for inm != "" {
		var t string
		t, inm, _ = strings.Cut(inm, ",")
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// headerValue is r.Header.Get(name) for a name already in canonical form: the
// hit path reads five headers per request, and Get canonicalizes each name
// first.
func headerValue(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}
