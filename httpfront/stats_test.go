package httpfront

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"prerenderd/analytics"
	"prerenderd/api"
	"prerenderd/browser/fixture"
	"prerenderd/storage"
)

// newRecorder counts into a database of its own, so that tests do not see each
// other's rows, and counts the shared appliance's renders while the test runs.
func newRecorder(t *testing.T, sites ...string) *analytics.Recorder {
	t.Helper()
	store, err := storage.Open(storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := analytics.Open(analytics.Options{Sites: sites, FlushInterval: time.Minute}, store)
	if err != nil {
		t.Fatal(err)
	}
	hook := RenderHook(rec)
	renderHook.Store(&hook)
	t.Cleanup(func() {
		renderHook.Store(nil)
		rec.Close()
		store.Close()
	})
	return rec
}

func apiGet(t *testing.T, front, path string, v any) {
	t.Helper()
	resp, err := http.Get(front + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

func TestTheStatsRoutesCountTheRenderRoute(t *testing.T) {
	origin := fixture.New(t)
	host := strings.TrimPrefix(origin.URL, "http://")
	rec := newRecorder(t, "http://"+host)
	front := newFront(t, Config{AllowPrivate: true, Analytics: rec}).URL

	for _, v := range []struct {
		ua, target, cache string
		status            int
	}{
		{uaGooglebot, origin.URL + "/product?stats=1", "MISS", 200},
		{uaGooglebot, origin.URL + "/product?stats=1", "HIT", 200},
		{uaGPTBot, origin.URL + "/notfound-static?stats=1", "BYPASS", 404},
		{"curl/8.5", "notaurl", "", 400},
	} {
		a := get(t, front, v.target, "User-Agent", v.ua)
		if a.status != v.status || a.header.Get("X-Prerender-Cache") != v.cache {
			t.Fatalf("%s: %d %s, want %d %s", v.target, a.status, a.header.Get("X-Prerender-Cache"), v.status, v.cache)
		}
	}

	var st api.Stats
	apiGet(t, front, "/api/stats?from=-1h", &st)
	tot := st.Total
	if tot.Requests != 4 || tot.ByResult["MISS"] != 1 || tot.ByResult["HIT"] != 1 || tot.ByResult["BYPASS"] != 1 || tot.ByResult["error"] != 1 {
		t.Fatalf("requests %d by result %v", tot.Requests, tot.ByResult)
	}
	if tot.ByStatus["2xx"] != 2 || tot.ByStatus["4xx"] != 2 || tot.Bytes == 0 || float64(tot.HitRate) != 0.25 {
		t.Fatalf("status %v, bytes %d, hit rate %v", tot.ByStatus, tot.Bytes, tot.HitRate)
	}
	if tot.RendersBy["ok"] < 2 || tot.RendersByQueue["live"] < 2 || float64(tot.RenderP50) <= 0 {
		t.Fatalf("renders %v by queue %v, p50 %v: the two renders are missing", tot.RendersBy, tot.RendersByQueue, tot.RenderP50)
	}
	crawlers := map[string]uint64{}
	for _, c := range st.Crawlers {
		crawlers[c.Name] = c.Requests
	}
	if crawlers["Googlebot"] != 2 || crawlers["GPTBot"] != 1 || crawlers[analytics.OtherBots] != 1 {
		t.Fatalf("crawlers %v", st.Crawlers)
	}
	if st.Resolution != "minute" || len(st.Time) < 60 || st.Sites[0] != host {
		t.Fatalf("resolution %s, %d points, sites %v", st.Resolution, len(st.Time), st.Sites)
	}
	var site api.Stats
	apiGet(t, front, "/api/stats?from=-1h&site="+url.QueryEscape("http://"+host), &site)
	if site.Total.Requests != 3 || site.Site != "http://"+host {
		t.Fatalf("the configured site: %d requests (site %q), want the 3 with a URL", site.Total.Requests, site.Site)
	}

	var top api.Top
	apiGet(t, front, "/api/stats/top?by=missed&crawler=googlebot", &top)
	if top.Crawler != "Googlebot" || len(top.Items) != 1 || !strings.HasSuffix(top.Items[0].URL, "/product?stats=1") || top.Items[0].Value != 1 {
		t.Fatalf("top missed by Googlebot: %+v", top)
	}
	apiGet(t, front, "/api/stats/top", &top)
	if top.By != "requested" || len(top.Items) != 2 || top.Items[0].Value != 2 {
		t.Fatalf("top requested: %+v", top)
	}

	var state api.State
	apiGet(t, front, "/api/state", &state)
	if len(state.Browsers) != 1 || state.Browsers[0].Tabs != 4 || state.Queues.Tabs != 4 || state.Cache.Pages == 0 {
		t.Fatalf("state: browsers %+v, queues %+v, cache %+v", state.Browsers, state.Queues, state.Cache)
	}
	var found bool
	for _, r := range state.Recent {
		if strings.HasSuffix(r.URL, "/notfound-static?stats=1") && r.Status == 404 && r.Queue == "live" && r.Result == "ok" && r.Variant == "desktop" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the 404 render is not among the recent renders: %+v", state.Recent)
	}
}

func TestTheStatsRoutesRefuseBadQueries(t *testing.T) {
	rec := newRecorder(t, "shop.example")
	front := newFront(t, Config{Analytics: rec}).URL
	tests := []struct {
		name, path, reason string
		status             int
	}{
		{"a from that is no time", "/api/stats?from=yesterday", "bad-from", 400},
		{"a to that is no time", "/api/stats?to=12:00", "bad-to", 400},
		{"a step that is no duration", "/api/stats?step=often", "bad-step", 400},
		{"a step of too many points", "/api/stats?from=-1h&to=4102444800&step=1h", "bad-step", 400},
		{"a window that ends before it starts", "/api/stats?from=-1h&to=-2h", "bad-window", 400},
		{"a site that is not configured", "/api/stats?site=elsewhere.example", "bad-site", 400},
		{"a top list by something else", "/api/stats/top?by=fastest", "bad-by", 400},
		{"a crawler not in the list", "/api/stats/top?crawler=NoSuchBot", "bad-crawler", 400},
		{"a limit that is no number", "/api/stats/top?limit=many", "bad-limit", 400},
		{"a limit past the list", "/api/stats/top?limit=100000", "bad-limit", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(front + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("X-Prerender-Reject-Reason") != tc.reason {
				t.Fatalf("%d %s (%s), want %d %s", resp.StatusCode, resp.Header.Get("X-Prerender-Reject-Reason"), body, tc.status, tc.reason)
			}
		})
	}
	twoHoursAgo := url.QueryEscape(time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339))
	for _, ok := range []string{"/api/stats?from=" + twoHoursAgo + "&to=now&step=300", "/api/stats?from=0&step=1h", "/api/stats?site=other", "/api/stats?site=shop.example", "/api/stats/top?by=slowest&crawler=recache&limit=10"} {
		var v any
		apiGet(t, front, ok, &v)
	}
}

func TestTheReadOnlyRoutesFollowTheAdminTokenRules(t *testing.T) {
	rec := newRecorder(t)
	open := New(Config{Analytics: rec}, testApp)
	tokened := New(Config{Analytics: rec, Tokens: []string{"s3cret"}}, testApp)
	tests := []struct {
		name   string
		srv    *Server
		remote string
		method string
		token  string
		status int
		reason string
	}{
		{"without tokens a loopback caller needs none", open, "127.0.0.1:5000", "GET", "", 200, ""},
		{"without tokens a remote caller is refused", open, "203.0.113.9:5000", "GET", "", 403, "admin-not-loopback"},
		{"with tokens a loopback caller needs one too", tokened, "127.0.0.1:5000", "GET", "", 401, "token-missing"},
		{"with tokens a wrong one is refused", tokened, "203.0.113.9:5000", "GET", "nope", 403, "token-invalid"},
		{"with tokens the right one opens the route", tokened, "203.0.113.9:5000", "GET", "s3cret", 200, ""},
		{"a write is not allowed", open, "127.0.0.1:5000", "POST", "", 405, "method-not-allowed"},
	}
	for _, tc := range tests {
		for _, path := range []string{"/api/stats", "/api/stats/top", "/api/state"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				r := httptest.NewRequest(tc.method, path, nil)
				r.RemoteAddr = tc.remote
				if tc.token != "" {
					r.Header.Set("X-Prerender-Token", tc.token)
				}
				w := httptest.NewRecorder()
				tc.srv.ServeHTTP(w, r)
				if w.Code != tc.status || w.Header().Get("X-Prerender-Reject-Reason") != tc.reason {
					t.Fatalf("%d %q, want %d %q", w.Code, w.Header().Get("X-Prerender-Reject-Reason"), tc.status, tc.reason)
				}
			})
		}
	}
	t.Run("the page itself is open to anyone: it holds no data", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", "text/html")
		r.RemoteAddr = "203.0.113.9:5000"
		w := httptest.NewRecorder()
		tokened.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("GET / from afar: %d", w.Code)
		}
	})
}

func TestWithAnalyticsOffTheStatsRoutesSaySo(t *testing.T) {
	front := newFront(t, Config{}).URL
	for _, path := range []string{"/api/stats", "/api/stats/top"} {
		resp, err := http.Get(front + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 || resp.Header.Get("X-Prerender-Reject-Reason") != "analytics-off" {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("X-Prerender-Reject-Reason"))
		}
	}
	var state api.State
	apiGet(t, front, "/api/state", &state)
	if state.Recent == nil || len(state.Browsers) != 1 {
		t.Fatalf("the live state without analytics: %+v", state)
	}
}

func TestTheDashboardIsServedFromTheBinary(t *testing.T) {
	front := newFront(t, Config{}).URL
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		contains           string
	}{
		{"the page", "GET", "/", 200, "text/html; charset=utf-8", `<script src="/dashboard/app.js"`},
		{"its script", "GET", "/dashboard/app.js", 200, "text/javascript; charset=utf-8", "/api/stats"},
		{"its style", "GET", "/dashboard/style.css", 200, "text/css; charset=utf-8", "@media"},
		{"the chart library", "GET", "/dashboard/uPlot.iife.min.js", 200, "text/javascript; charset=utf-8", "uPlot"},
		{"the chart library's licence", "GET", "/dashboard/uPlot.LICENSE", 200, "", "MIT"},
		{"a file that is not there", "GET", "/dashboard/nope.js", 404, "", "not-found"},
		{"a path out of the directory", "GET", "/dashboard/a/../../main.go", 404, "", "not-found"},
		{"a write", "POST", "/dashboard/app.js", 405, "", "method-not-allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, front+tc.path, nil)
			req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !bytes.Contains(b, []byte(tc.contains)) {
				t.Fatalf("%d, %.200s; want %d with %q", resp.StatusCode, b, tc.status, tc.contains)
			}
			if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
				t.Fatalf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.contentType)
			}
			if tc.status == 200 && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Fatalf("CSP %q", resp.Header.Get("Content-Security-Policy"))
			}
		})
	}
}

// TestLogLines: a render and an error get one line each with the request id,
// key, variant, status, queue and crawler; a cache hit gets none, unless the
// level is debug.
func TestLogLines(t *testing.T) {
	origin := fixture.New(t)
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			var buf syncBuffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
			front := newFront(t, Config{AllowPrivate: true, Logger: log}).URL
			target := origin.URL + "/product?logs=" + level.String()
			get(t, front, target, "User-Agent", uaGooglebot)
			get(t, front, target, "User-Agent", uaGooglebot)
			get(t, front, "relative/path", "User-Agent", uaGPTBot)
			lines := map[string]map[string]any{}
			for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				msg := m["msg"].(string)
				if _, dup := lines[msg]; dup {
					t.Fatalf("two %q lines: %s", msg, buf.String())
				}
				lines[msg] = m
			}
			render := lines["render request"]
			if render == nil || render["key"] != "desktop|"+target || render["variant"] != "desktop" || render["crawler"] != "Googlebot" ||
				render["queue"] != "live" || render["cache"] != "MISS" || render["status"] != float64(200) || render["req"] == "" || render["ms"] == nil {
				t.Fatalf("render line: %v", render)
			}
			refused := lines["request refused"]
			if refused == nil || refused["status"] != float64(400) || refused["reason"] != "bad-url" || refused["crawler"] != "GPTBot" || refused["req"] == "" {
				t.Fatalf("refusal line: %v", refused)
			}
			hit, logged := lines["answered from the cache"]
			if logged != (level == slog.LevelDebug) {
				t.Fatalf("level %s: hit line %v", level, hit)
			}
			if logged && (hit["cache"] != "HIT" || hit["key"] != "desktop|"+target || hit["crawler"] != "Googlebot") {
				t.Fatalf("hit line: %v", hit)
			}
		})
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
