package httpfront

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"prerenderd/actors"
	"prerenderd/api"
	"prerenderd/browser"
	"prerenderd/cachekey"
	"prerenderd/egress"
	"prerenderd/storage"
	"prerenderd/storage/storetest"
)

// scriptedOrigin answers each path with the statuses a test scripts, one per
// document request, then keeps answering the last one. A 200 page builds its
// content with JavaScript and names its version (the count of documents served).
type scriptedOrigin struct {
	*httptest.Server
	mu     sync.Mutex
	script map[string][]int
	served map[string]int
}

func newScriptedOrigin(t *testing.T) *scriptedOrigin {
	o := &scriptedOrigin{script: make(map[string][]int), served: make(map[string]int)}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.Close)
	return o
}

// set scripts the next answers of path.
func (o *scriptedOrigin) set(path string, statuses ...int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.script[path] = statuses
}

func (o *scriptedOrigin) documents(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.served[path]
}

func (o *scriptedOrigin) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/favicon.ico" {
		http.NotFound(w, r)
		return
	}
	o.mu.Lock()
	o.served[r.URL.Path]++
	version := o.served[r.URL.Path]
	status := 200
	if s := o.script[r.URL.Path]; len(s) > 0 {
		status = s[0]
		if len(s) > 1 {
			o.script[r.URL.Path] = s[1:]
		}
	}
	o.mu.Unlock()
	switch {
	case status == 299: // a redirect declared by meta tags, served 200
		fmt.Fprint(w, `<!doctype html><html><head>
<meta name="prerender-status-code" content="301">
<meta name="prerender-header" content="Location: https://shop.example/moved"></head><body>moved</body></html>`)
	case status >= 300 && status < 400 && status != 304:
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(status)
	case status == 304:
		w.WriteHeader(status)
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<!doctype html><html><head><title>t</title></head><body><div id="c"></div>
<script>document.getElementById("c").textContent = "status %d version %d";</script></body></html>`, status, version)
	}
}

// fakeClock is the appliance's and the front's clock, moved by the test.
type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.off.Add(int64(d)) }

type freshRig struct {
	app   *actors.Appliance
	store *storage.Store
	front string
	clock *fakeClock
}

// newFreshRig starts an appliance of its own (one Chromium) on a fake clock, so a
// test can move pages past their TTL and past the stale window.
func newFreshRig(t *testing.T, ttl, swr time.Duration, mutate func(*actors.Config)) *freshRig {
	t.Helper()
	clock := &fakeClock{}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := storage.Open(storage.Options{Dir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cfg := actors.Config{
		Shards: 2, TTL: ttl, StaleWhileRevalidate: swr, Browsers: 1, TabsPerBrowser: 2,
		Browser: browser.Options{Path: testChromium, PageTimeout: testPageTimeout},
		Egress:  egress.Options{Policy: loopbackOrigins},
		Logger:  logger, Clock: clock.now, HitFlushEvery: 100 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	app, err := actors.Start(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		dump := time.AfterFunc(8*time.Second, func() { pprof.Lookup("goroutine").WriteTo(os.Stderr, 1) })
		if err := app.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		dump.Stop()
		store.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for app.Ready(ctx) != nil {
		if ctx.Err() != nil {
			t.Fatal("no browser became ready within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv := httptest.NewServer(New(Config{Policy: loopbackOrigins, Clock: clock.now, Logger: logger}, app))
	t.Cleanup(srv.Close)
	return &freshRig{app: app, store: store, front: srv.URL, clock: clock}
}

func (r *freshRig) key(t testing.TB, target string) string {
	u, err := cachekey.Normalize(target, cachekey.StripTracking)
	if err != nil {
		t.Fatal(err)
	}
	return cachekey.Key(cachekey.Desktop, u)
}

func (r *freshRig) page(t testing.TB, target string) *storage.Page {
	p, err := storetest.Page(r.store, r.key(t, target))
	if err != nil {
		return nil
	}
	return p
}

func (r *freshRig) post(t testing.TB, path string, body any) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(r.front+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: buf.String()}
}

// waitFor polls cond for up to 20 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recaches reads prerender_recaches_total of a queue, all results.
func recaches(app *actors.Appliance, queue string) int {
	var b bytes.Buffer
	app.WriteMetrics(&b)
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, `prerender_recaches_total{queue="`+queue+`"`) {
			var v int
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%d", &v)
			n += v
		}
	}
	return n
}

func TestAPagePastItsTTLIsServedStaleWhileOneRecacheRuns(t *testing.T) {
	rig := newFreshRig(t, time.Hour, 2*time.Hour, nil)
	origin := newScriptedOrigin(t)
	target := origin.URL + "/p"

	if a := get(t, rig.front, target); a.header.Get("X-Prerender-Cache") != "MISS" || !strings.Contains(a.body, "version 1") {
		t.Fatalf("first request: %s %q", a.header.Get("X-Prerender-Cache"), a.body)
	}
	if a := get(t, rig.front, target); a.header.Get("X-Prerender-Cache") != "HIT" {
		t.Fatalf("second request: %s, want HIT", a.header.Get("X-Prerender-Cache"))
	}
	rig.clock.advance(90 * time.Minute)
	for i := range 3 {
		a := get(t, rig.front, target)
		if i == 0 && (a.header.Get("X-Prerender-Cache") != "STALE" || !strings.Contains(a.body, "version 1")) {
			t.Fatalf("past the TTL: %s %q, want STALE with version 1", a.header.Get("X-Prerender-Cache"), a.body)
		}
	}
	waitFor(t, "the stale page to be recached", func() bool {
		p := rig.page(t, target)
		return p != nil && strings.Contains(string(p.Plain), "version 2")
	})
	if a := get(t, rig.front, target); a.header.Get("X-Prerender-Cache") != "HIT" || !strings.Contains(a.body, "version 2") {
		t.Fatalf("after the recache: %s %q, want HIT with version 2", a.header.Get("X-Prerender-Cache"), a.body)
	}
	time.Sleep(300 * time.Millisecond) // a second recache, if one were queued, would have started
	if n := origin.documents("/p"); n != 2 {
		t.Errorf("origin served the document %d times; three STALE hits must queue exactly one recache", n)
	}
}

func TestPastTheStaleWindowAPageIsRenderedAndAFailureServesItWithAWarning(t *testing.T) {
	rig := newFreshRig(t, time.Hour, time.Hour, nil)
	origin := newScriptedOrigin(t)
	target := origin.URL + "/p"
	get(t, rig.front, target)

	rig.clock.advance(3 * time.Hour)
	a := get(t, rig.front, target)
	if a.header.Get("X-Prerender-Cache") != "MISS" || !strings.Contains(a.body, "version 2") {
		t.Fatalf("past the stale window: %s %q, want MISS with version 2", a.header.Get("X-Prerender-Cache"), a.body)
	}

	rig.clock.advance(3 * time.Hour)
	origin.set("/p", 503)
	a = get(t, rig.front, target)
	if a.status != 200 || a.header.Get("X-Prerender-Cache") != "STALE" || !strings.Contains(a.body, "version 2") {
		t.Fatalf("failed render: %d %s %q, want 200 STALE with version 2", a.status, a.header.Get("X-Prerender-Cache"), a.body)
	}
	if w := a.header.Get("Warning"); !strings.HasPrefix(w, "111") {
		t.Errorf("Warning = %q, want 111 Revalidation Failed", w)
	}
}

// TestRecacheRemovalRules drives each rule of seed 001 through the Recache API
// and the priority queue, with real Chromium and an origin scripted per path.
func TestRecacheRemovalRules(t *testing.T) {
	rig := newFreshRig(t, time.Hour, time.Hour, nil)
	origin := newScriptedOrigin(t)
	done := 0
	recache := func(t *testing.T, target string) {
		t.Helper()
		a := rig.post(t, "/recache", map[string]any{"url": target})
		if a.status != 200 {
			t.Fatalf("POST /recache: %d %s", a.status, a.body)
		}
		done++
		waitFor(t, "the recache to run", func() bool { return recaches(rig.app, "priority") >= done })
	}
	tests := []struct {
		name     string
		statuses []int // origin answers to the recaches, in order
		kept     []bool
		want     string // text of the page left, when kept
	}{
		{"a 301 removes the page", []int{301}, []bool{false}, ""},
		{"a 302 removes the page", []int{302}, []bool{false}, ""},
		{"a 404 removes the page", []int{404}, []bool{false}, ""},
		{"a 204 removes the page", []int{204}, []bool{false}, ""},
		{"a 304 keeps the page and renews it", []int{304}, []bool{true}, "version 1"},
		{"a 200 replaces the page", []int{200}, []bool{true}, "version 2"},
		{"a 500 keeps the page; the third in a row removes it", []int{500, 502, 500}, []bool{true, true, false}, ""},
		{"a 200 resets the count of 5xx", []int{500, 500, 200, 500, 500}, []bool{true, true, true, true, true}, "version 4"},
		{"a redirect declared by meta tags is kept as that redirect", []int{299}, []bool{true}, "moved"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := fmt.Sprintf("/rule%d", i)
			target := origin.URL + path
			if a := get(t, rig.front, target); a.header.Get("X-Prerender-Cache") != "MISS" {
				t.Fatalf("first render: %s", a.header.Get("X-Prerender-Cache"))
			}
			first := rig.page(t, target)
			for j, status := range tc.statuses {
				origin.set(path, status)
				rig.clock.advance(time.Second)
				recache(t, target)
				p := rig.page(t, target)
				if (p != nil) != tc.kept[j] {
					t.Fatalf("after answer %d (%d): kept = %v, want %v", j+1, status, p != nil, tc.kept[j])
				}
			}
			p := rig.page(t, target)
			if p == nil {
				if _, err := rig.store.GetMeta(rig.key(t, target)); err == nil {
					t.Error("the page is gone but its metadata is left")
				}
				return
			}
			if !strings.Contains(string(p.Plain), tc.want) {
				t.Errorf("page left = %.200q, want it to contain %q", p.Plain, tc.want)
			}
			if tc.statuses[0] == 304 && !p.ExpiresAt.After(first.ExpiresAt) {
				t.Errorf("304 did not renew the expiry: %v, was %v", p.ExpiresAt, first.ExpiresAt)
			}
			if tc.statuses[0] == 299 {
				a := get(t, rig.front, target)
				if a.status != 301 || a.header.Get("Location") != "https://shop.example/moved" || a.header.Get("X-Prerender-Cache") != "HIT" {
					t.Errorf("declared redirect served as %d %q %s, want a 301 HIT to https://shop.example/moved",
						a.status, a.header.Get("Location"), a.header.Get("X-Prerender-Cache"))
				}
			}
		})
	}
}

func TestARecachedPageIsRevalidatedForACrawlerAndPrerenderedPagesSaySo(t *testing.T) {
	rig := newFreshRig(t, time.Hour, time.Hour, nil)
	origin := newScriptedOrigin(t)

	// A page rendered ahead of any crawler is PRERENDER once, then HIT.
	ahead := origin.URL + "/ahead"
	if a := rig.post(t, "/recache", map[string]any{"urls": []string{ahead}}); a.status != 200 {
		t.Fatalf("POST /recache: %d %s", a.status, a.body)
	}
	waitFor(t, "the page to be prerendered", func() bool { return rig.page(t, ahead) != nil })
	for _, want := range []string{"PRERENDER", "HIT"} {
		if a := get(t, rig.front, ahead); a.header.Get("X-Prerender-Cache") != want {
			t.Fatalf("X-Prerender-Cache = %q, want %q", a.header.Get("X-Prerender-Cache"), want)
		}
	}

	// A crawler asking for a page whose recache is queued gets a fresh render.
	target := origin.URL + "/changed"
	get(t, rig.front, target)
	if a := rig.post(t, "/change-recache-speed", map[string]any{"urlsPerHour": 3600}); a.status != 200 {
		t.Fatalf("POST /change-recache-speed: %d %s", a.status, a.body)
	}
	// One URL a second: the first goes at once, the target waits behind two others.
	batch := []string{origin.URL + "/filler1", origin.URL + "/filler2", target}
	if a := rig.post(t, "/recache", map[string]any{"urls": batch}); a.status != 200 {
		t.Fatalf("POST /recache: %d %s", a.status, a.body)
	}
	a := get(t, rig.front, target)
	if a.header.Get("X-Prerender-Cache") != "REVALIDATED" || !strings.Contains(a.body, "version 2") {
		t.Fatalf("page with a queued recache: %s %q, want REVALIDATED with version 2", a.header.Get("X-Prerender-Cache"), a.body)
	}
	if a := get(t, rig.front, target); a.header.Get("X-Prerender-Cache") != "HIT" {
		t.Fatalf("after revalidation: %s, want HIT", a.header.Get("X-Prerender-Cache"))
	}
	waitFor(t, "the queue to reach the target", func() bool { return recaches(rig.app, "priority") >= 4 })
	if n := origin.documents("/changed"); n != 2 {
		t.Errorf("origin served /changed %d times; the queued recache must be skipped after the revalidation", n)
	}
}

func TestRecacheAPIValidatesEachURL(t *testing.T) {
	rig := newFreshRig(t, time.Hour, time.Hour, nil)
	origin := newScriptedOrigin(t)
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("%s/p%d", origin.URL, i)
	}
	tests := []struct {
		name   string
		body   any
		status int
		has    string
	}{
		{"more than 1000 urls are refused", map[string]any{"urls": many}, 400, "too-many-urls"},
		{"no url is refused", map[string]any{}, 400, "no-url"},
		{"a body that is not JSON is refused", "not json", 400, "bad-json"},
		{"mobile is refused while render.variants has only desktop", map[string]any{"url": origin.URL + "/m", "adaptiveType": "mobile"}, 400, "bad-adaptive-type"},
		{"an unknown adaptiveType is refused", map[string]any{"url": origin.URL + "/m", "adaptiveType": "tablet"}, 400, "bad-adaptive-type"},
		{"invalid urls are reported one by one, valid ones queued",
			map[string]any{"urls": []string{"ftp://x/", origin.URL + "/ok", "http://"}, "adaptiveType": "desktop"}, 200, `"queued":1`},
		{"a url queued twice is queued once", map[string]any{"urls": []string{origin.URL + "/twice", origin.URL + "/twice"}}, 200, `"duplicate":1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := rig.post(t, "/recache", tc.body)
			if a.status != tc.status || !strings.Contains(a.body+a.header.Get("X-Prerender-Reject-Reason"), tc.has) {
				t.Fatalf("got %d %q (%s), want %d with %q", a.status, a.body, a.header.Get("X-Prerender-Reject-Reason"), tc.status, tc.has)
			}
		})
	}
	a := rig.post(t, "/recache", map[string]any{"urls": []string{"ftp://x/", "http://"}})
	var ans api.RecacheAnswer
	if err := json.Unmarshal([]byte(a.body), &ans); err != nil || a.status != 400 || len(ans.Invalid) != 2 {
		t.Errorf("all invalid: %d %q, want 400 listing both", a.status, a.body)
	}
}

func TestChangeRecacheSpeed(t *testing.T) {
	rig := newFreshRig(t, time.Hour, time.Hour, nil)
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"urlsPerHour": 0}`, 200}, {`{"urlsPerHour": 3600}`, 200}, {`{"urlsPerHour": 36000}`, 200},
		{`{"urlsPerHour": 7200}`, 200},
		{`{"urlsPerHour": 100}`, 400}, {`{"urlsPerHour": 36001}`, 400}, {`{"urlsPerHour": -1}`, 400},
		{`{"urlsPerHour": 1.5}`, 400}, {`{"urlsPerHour": "fast"}`, 400}, {`{}`, 400},
	} {
		resp, err := http.Post(rig.front+"/change-recache-speed", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.body, resp.StatusCode, tc.status)
		}
	}
	if v, err := rig.store.GetSetting("recache_urls_per_hour"); err != nil || string(v) != "7200" {
		t.Errorf("persisted speed = %q, %v; want the last accepted, 7200", v, err)
	}
}

func TestAdminRoutesNeedATokenOffLoopback(t *testing.T) {
	tests := []struct {
		name   string
		tokens []string
		remote string
		header string
		body   string
		status int
	}{
		{"loopback needs no token", nil, "127.0.0.1:5000", "", `{"urlsPerHour":0}`, 200},
		{"a remote caller is refused when no token is configured", nil, "192.0.2.7:5000", "", `{"urlsPerHour":0}`, 403},
		{"a remote caller without a token is refused", []string{"s3cret"}, "192.0.2.7:5000", "", `{"urlsPerHour":0}`, 401},
		{"a remote caller with the body token is let in", []string{"s3cret"}, "192.0.2.7:5000", "", `{"prerenderToken":"s3cret","urlsPerHour":0}`, 200},
		{"a remote caller with the header token is let in", []string{"s3cret"}, "192.0.2.7:5000", "s3cret", `{"urlsPerHour":0}`, 200},
		{"a remote caller with a wrong token is refused", []string{"s3cret"}, "192.0.2.7:5000", "", `{"prerenderToken":"x","urlsPerHour":0}`, 403},
		{"GET is refused", nil, "127.0.0.1:5000", "", "", 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{Tokens: tc.tokens}, testApp)
			method := http.MethodPost
			if tc.body == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "/change-recache-speed", strings.NewReader(tc.body))
			req.RemoteAddr = tc.remote
			if tc.header != "" {
				req.Header.Set("X-Prerender-Token", tc.header)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
		})
	}
}
