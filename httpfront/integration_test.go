package httpfront

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"prerenderd/browser/fixture"
	"prerenderd/cachekey"
	"prerenderd/storage/storetest"
)

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t testing.TB, front, target string, hdr ...string) answer {
	t.Helper()
	base, err := url.Parse(front)
	if err != nil {
		t.Fatal(err)
	}
	// Opaque sends the target byte for byte, as a middleware would, even when it is
	// not a URL Go would build (the malformed-URL tests need exactly that).
	req := &http.Request{Method: http.MethodGet, Header: http.Header{}, Host: base.Host,
		URL: &url.URL{Scheme: base.Scheme, Host: base.Host, Opaque: "/" + target}}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// Go's transport would add Accept-Encoding and unzip by itself; the tests want
	// to see what the server sends.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func stored(t testing.TB, target string) bool {
	t.Helper()
	u, err := cachekey.Normalize(target, cachekey.StripTracking)
	if err != nil {
		t.Fatal(err)
	}
	_, err = storetest.Page(testStore, cachekey.Key(cachekey.Desktop, u))
	return err == nil
}

func TestRenderedPagesAreServedAndCachedByTheirRules(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{Policy: loopbackOrigins}).URL

	tests := []struct {
		name       string
		path       string
		status     int
		cache      string
		contains   []string
		excludes   []string
		header     map[string]string
		incomplete bool
	}{
		{name: "content built by JS after a delayed JSON call is in the HTML", path: "/product",
			status: 200, cache: "MISS", contains: []string{`<h1 id="name">Espresso Machine 42</h1>`, `$249.00`}},
		{name: "content from a chained second fetch and a timer is in the HTML", path: "/chain",
			status: 200, cache: "MISS", contains: []string{"Great coffee"}},
		{name: "scripts are stripped and JSON-LD is kept", path: "/jsonld",
			status: 200, cache: "MISS", contains: []string{`application/ld+json`, `made by inline script`}, excludes: []string{"insertAdjacentHTML", `type="module"`}},
		{name: "a static prerender-status-code 404 is answered and not stored", path: "/notfound-static",
			status: 404, cache: "BYPASS", contains: []string{"No such product"}},
		{name: "a prerender-status-code 404 added by JS is answered and not stored", path: "/notfound-js",
			status: 404, cache: "BYPASS", contains: []string{"Product not found"}},
		{name: "a server redirect is answered with its Location, not followed", path: "/redirect",
			status: 301, cache: "BYPASS", header: map[string]string{"Location": "/product"}},
		{name: "a redirect declared by meta tags is stored and answered as that redirect", path: "/moved-meta",
			status: 301, cache: "MISS", header: map[string]string{"Location": "https://shop.example/new-place", "X-Fixture": "moved"}},
		{name: "prerenderReady finishes a page whose long poll never ends", path: "/ready",
			status: 200, cache: "MISS", contains: []string{`<h1 id="name">`}},
		{name: "a never-idle page with a long poll still finishes complete", path: "/never-idle",
			status: 200, cache: "MISS", contains: []string{"Long poll open"}},
		{name: "a page past the timeout is answered incomplete and not stored", path: "/timeout",
			status: 200, cache: "BYPASS", incomplete: true, contains: []string{"ticks"}},
		{name: "a gzipped origin page renders", path: "/gzip",
			status: 200, cache: "MISS"},
		{name: "a huge page is rendered and stored whole", path: "/huge",
			status: 200, cache: "MISS", contains: []string{`<p id="huge-done">huge done</p>`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := origin.URL + tc.path
			a := get(t, front, target)
			if a.status != tc.status {
				t.Fatalf("status = %d, want %d; body: %.300s", a.status, tc.status, a.body)
			}
			if got := a.header.Get("X-Prerender-Cache"); got != tc.cache {
				t.Errorf("X-Prerender-Cache = %q, want %q", got, tc.cache)
			}
			if a.header.Get("X-Prerender-Request-Id") == "" {
				t.Error("no X-Prerender-Request-Id")
			}
			if got := a.header.Get("X-Prerender-Incomplete") == "timeout"; got != tc.incomplete {
				t.Errorf("X-Prerender-Incomplete = %q, want incomplete=%v", a.header.Get("X-Prerender-Incomplete"), tc.incomplete)
			}
			for _, s := range tc.contains {
				if !strings.Contains(a.body, s) {
					t.Errorf("body lacks %q: %.500s", s, a.body)
				}
			}
			for _, s := range tc.excludes {
				if strings.Contains(a.body, s) {
					t.Errorf("body still has %q", s)
				}
			}
			if strings.Contains(a.body, "<script>") || strings.Contains(a.body, "<script src") {
				t.Errorf("a script survived: %.500s", a.body)
			}
			for k, v := range tc.header {
				if !strings.HasPrefix(a.header.Get(k), v) && !strings.HasSuffix(a.header.Get(k), v) {
					t.Errorf("%s = %q, want %q", k, a.header.Get(k), v)
				}
			}
			if want := tc.cache == "MISS"; stored(t, target) != want {
				t.Errorf("stored = %v, want %v", !want, want)
			}
		})
	}
}

func TestAMissIsFollowedByAHitWithIdenticalBytes(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{Policy: loopbackOrigins}).URL
	target := origin.URL + "/product?variant=hit-test"

	miss := get(t, front, target)
	if miss.status != 200 || miss.header.Get("X-Prerender-Cache") != "MISS" {
		t.Fatalf("first answer: %d %s", miss.status, miss.header.Get("X-Prerender-Cache"))
	}
	docs := origin.Hits("/product")
	hit := get(t, front, target)
	if hit.header.Get("X-Prerender-Cache") != "HIT" {
		t.Fatalf("second answer is %q, want HIT", hit.header.Get("X-Prerender-Cache"))
	}
	if hit.body != miss.body {
		t.Fatalf("HIT body differs from MISS body:\n%.300s\n---\n%.300s", hit.body, miss.body)
	}
	if origin.Hits("/product") != docs {
		t.Fatal("a HIT fetched the document from the origin")
	}
	if hit.header.Get("ETag") == "" || hit.header.Get("ETag") != miss.header.Get("ETag") {
		t.Fatalf("ETag: miss %q, hit %q", miss.header.Get("ETag"), hit.header.Get("ETag"))
	}
	if hit.header.Get("Age") == "" {
		t.Error("HIT without Age")
	}

	t.Run("tracking parameters map to the same cached page", func(t *testing.T) {
		a := get(t, front, target+"&utm_source=news&gclid=x")
		if a.header.Get("X-Prerender-Cache") != "HIT" || a.body != miss.body {
			t.Fatalf("got %s", a.header.Get("X-Prerender-Cache"))
		}
	})
	t.Run("a gzip client gets the stored gzip bytes of the same page", func(t *testing.T) {
		a := get(t, front, target, "Accept-Encoding", "gzip")
		if a.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding = %q", a.header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(strings.NewReader(a.body))
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if string(plain) != miss.body {
			t.Fatal("gunzipped HIT differs from the MISS body")
		}
	})
	t.Run("the gzip answer has its own ETag and each revalidates alone", func(t *testing.T) {
		plainTag := miss.header.Get("ETag")
		gz := get(t, front, target, "Accept-Encoding", "gzip")
		gzTag := gz.header.Get("ETag")
		if gzTag == "" || gzTag == plainTag || gzTag != strings.TrimSuffix(plainTag, `"`)+`-gzip"` {
			t.Fatalf("gzip ETag %q, plain ETag %q: want the plain tag with -gzip inside the quotes", gzTag, plainTag)
		}
		for _, h := range []http.Header{miss.header, gz.header} {
			if h.Get("Vary") != "Accept, Accept-Encoding" {
				t.Errorf("Vary = %q, want Accept, Accept-Encoding", h.Get("Vary"))
			}
		}
		for _, tc := range []struct {
			name, inm, ae string
			status        int
		}{
			{"the gzip tag revalidates the gzip answer", gzTag, "gzip", http.StatusNotModified},
			{"the plain tag revalidates the plain answer", plainTag, "", http.StatusNotModified},
			{"the plain tag does not revalidate the gzip answer", plainTag, "gzip", http.StatusOK},
			{"the gzip tag does not revalidate the plain answer", gzTag, "", http.StatusOK},
			{"a weak form of the gzip tag revalidates the gzip answer", "W/" + gzTag, "gzip", http.StatusNotModified},
		} {
			hdr := []string{"If-None-Match", tc.inm}
			if tc.ae != "" {
				hdr = append(hdr, "Accept-Encoding", tc.ae)
			}
			a := get(t, front, target, hdr...)
			if a.status != tc.status {
				t.Errorf("%s: %d, want %d", tc.name, a.status, tc.status)
			}
			if a.status == http.StatusNotModified && (a.header.Get("ETag") != tc.inm && "W/"+a.header.Get("ETag") != tc.inm || a.header.Get("Vary") != "Accept, Accept-Encoding") {
				t.Errorf("%s: 304 with ETag %q Vary %q", tc.name, a.header.Get("ETag"), a.header.Get("Vary"))
			}
		}
	})
	t.Run("If-None-Match with the ETag gets 304", func(t *testing.T) {
		a := get(t, front, target, "If-None-Match", miss.header.Get("ETag"))
		if a.status != http.StatusNotModified || a.body != "" {
			t.Fatalf("status %d, %d body bytes", a.status, len(a.body))
		}
	})
	t.Run("HEAD gets the headers and no body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodHead, front+"/"+target, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Prerender-Cache") != "HIT" {
			t.Fatalf("HEAD: %d %s", resp.StatusCode, resp.Header.Get("X-Prerender-Cache"))
		}
	})
	t.Run("the render route with a url parameter serves the same page", func(t *testing.T) {
		a := get(t, front, "render?url="+url.QueryEscape(target))
		if a.header.Get("X-Prerender-Cache") != "HIT" || a.body != miss.body {
			t.Fatalf("render?url= answered %d %s", a.status, a.header.Get("X-Prerender-Cache"))
		}
	})
	t.Run("a percent-encoded target serves the same page", func(t *testing.T) {
		a := get(t, front, url.QueryEscape(target))
		if a.header.Get("X-Prerender-Cache") != "HIT" {
			t.Fatalf("encoded target answered %d %s", a.status, a.header.Get("X-Prerender-Cache"))
		}
	})
}

func TestFiftyConcurrentRequestsForOneURLFetchTheDocumentOnce(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{Policy: loopbackOrigins}).URL
	target := origin.URL + "/concurrent"
	before := origin.Hits("/concurrent")

	const n = 50
	var wg sync.WaitGroup
	answers := make([]answer, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = get(t, front, target)
		}()
	}
	wg.Wait()
	if got := origin.Hits("/concurrent") - before; got != 1 {
		t.Fatalf("the origin served the document %d times, want 1", got)
	}
	for i, a := range answers {
		if a.status != 200 || a.body != answers[0].body {
			t.Fatalf("answer %d: status %d, body differs: %v", i, a.status, a.body != answers[0].body)
		}
		if c := a.header.Get("X-Prerender-Cache"); c != "MISS" && c != "HIT" {
			t.Fatalf("answer %d: X-Prerender-Cache %q", i, c)
		}
	}
}

func TestRequestsThatMustBeRefused(t *testing.T) {
	origin := fixture.New(t)
	open := newFront(t, Config{Policy: loopbackOrigins}).URL
	guarded := newFront(t, Config{}).URL
	tokened := newFront(t, Config{Policy: loopbackOrigins, Tokens: []string{"s3cret"}}).URL
	hosts := newFront(t, Config{Policy: loopbackOrigins, AllowHosts: []string{"shop.example"}}).URL

	tests := []struct {
		name, front, target string
		hdr                 []string
		status              int
		reason              string
	}{
		{"a request without a token is refused with 401", tokened, origin.URL + "/product", nil, 401, "token-missing"},
		{"a request with a wrong token is refused with 403", tokened, origin.URL + "/product", []string{"X-Prerender-Token", "nope"}, 403, "token-invalid"},
		{"a loopback address is refused", guarded, origin.URL + "/product", nil, 403, "private-address"},
		{"the cloud metadata address is refused", guarded, "http://169.254.169.254/latest/meta-data/", nil, 403, "private-address"},
		{"a private network address is refused", guarded, "http://10.1.2.3/", nil, 403, "private-address"},
		{"localhost by name is refused", guarded, "http://localhost:1/", nil, 403, "private-address"},
		{"an IPv6 loopback is refused", guarded, "http://[::1]:1/", nil, 403, "private-address"},
		{"a host outside allow_hosts is refused", hosts, origin.URL + "/product", nil, 403, "host-not-allowed"},
		{"a malformed URL is a 400", open, "http://[::1/", nil, 400, "bad-url"},
		{"a URL with a bad port is a 400", open, "http://shop.example:99999999/", nil, 400, "bad-url"},
		{"a URL without a host is a 400", open, "http:///path", nil, 400, "bad-url"},
		{"a URL with credentials is a 400", open, "http://user:pw@shop.example/", nil, 400, "bad-url"},
		{"a render URL with a non-http scheme is a 400", open, "render?url=file:///etc/passwd", nil, 400, "bad-url"},
		{"a render route without url is a 400", open, "render", nil, 400, "bad-url"},
		{"an unreachable origin is a 504", open, "http://127.0.0.1:1/", nil, 504, "navigation-failed"},
		{"a page whose script loops forever is a 504 after one retry, not half a page", open, origin.URL + "/busy", nil, 504, "tab-hung"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, tc.front, tc.target, tc.hdr...)
			if a.status != tc.status || a.header.Get("X-Prerender-Reject-Reason") != tc.reason {
				t.Fatalf("got %d %q, want %d %q (%s)", a.status, a.header.Get("X-Prerender-Reject-Reason"), tc.status, tc.reason, a.body)
			}
			if a.header.Get("X-Prerender-Request-Id") == "" {
				t.Error("no X-Prerender-Request-Id on a refusal")
			}
		})
	}
	t.Run("the right token is accepted", func(t *testing.T) {
		a := get(t, tokened, origin.URL+"/product?token-test=1", "X-Prerender-Token", "s3cret")
		if a.status != 200 {
			t.Fatalf("status %d: %s", a.status, a.body)
		}
	})
}

func TestTheBuiltInDemoRendersWithoutAllowPrivate(t *testing.T) {
	// The demo must be reached on the server's own listen address, so this test needs
	// a listener whose address it knows before building the front.
	srv := httptest.NewUnstartedServer(nil)
	addr := srv.Listener.Addr().String()
	srv.Config.Handler = New(Config{Listen: addr}, testApp)
	srv.Start()
	t.Cleanup(srv.Close)

	a := get(t, srv.URL, srv.URL+"/demo/")
	if a.status != 200 || !strings.Contains(a.body, "Walnut desk lamp") {
		t.Fatalf("demo: %d %q %.300s", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
	}
	nf := get(t, srv.URL, srv.URL+"/demo/product.html?id=99")
	if nf.status != 404 || nf.header.Get("X-Prerender-Cache") != "BYPASS" {
		t.Fatalf("missing demo product: %d %s", nf.status, nf.header.Get("X-Prerender-Cache"))
	}
	other := get(t, srv.URL, srv.URL+"/metrics")
	if other.status != 403 {
		t.Fatalf("a loopback URL outside /demo/ answered %d, want 403", other.status)
	}
}

func TestOperationalRoutes(t *testing.T) {
	front := newFront(t, Config{}).URL
	// A path that is neither a route nor an absolute URL is a page request with a bad URL.
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/nope": 400} {
		resp, err := http.Get(front + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
		if want >= 400 && resp.Header.Get("X-Prerender-Reject-Reason") != "bad-url" {
			t.Errorf("%s: reject reason %q, want bad-url", path, resp.Header.Get("X-Prerender-Reject-Reason"))
		}
		if path == "/metrics" {
			for _, m := range []string{`prerender_build_info{version="`, `prerender_requests_total{cache="HIT"}`, "prerender_render_duration_seconds", "prerender_renders_in_flight", "prerender_pages_cached", `prerender_egress_requests_total{result="refused"}`, "go_goroutines", "process_resident_memory_bytes"} {
				if !bytes.Contains(b, []byte(m)) {
					t.Errorf("/metrics lacks %s", m)
				}
			}
		}
	}
}
