package httpfront

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"prerenderd/browser/fixture"
	"prerenderd/cachekey"
)

// naiveMiddleware is a site's middleware that sends bots and _escaped_fragment_
// requests to prerenderd, forwarding every header as prerender-node does, but
// never looks at X-Prerender: the renderer's own requests for such URLs come
// back to prerenderd. Everything else goes to origin.
func naiveMiddleware(t *testing.T, origin *fixture.Origin, front string) *httptest.Server {
	t.Helper()
	up, err := url.Parse(origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	site := httputil.NewSingleHostReverseProxy(up)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.RawQuery, "_escaped_fragment_") && !strings.Contains(strings.ToLower(r.UserAgent()), "bot") {
			site.ServeHTTP(w, r)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, front+"/http://"+r.Host+r.RequestURI, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, vs := range r.Header {
			req.Header[k] = vs
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAnEscapedFragmentIsRenderedAsItsHashBangURLWithoutALoop(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{AllowPrivate: true}).URL
	site := naiveMiddleware(t, origin, front)

	// Before, Chromium loaded the _escaped_fragment_ URL itself, the middleware
	// sent that request back, and the render waited on itself for the page
	// timeout. Now it loads the #! URL the parameter stands for.
	a := get(t, site.URL, "where?_escaped_fragment_=/products/1", "User-Agent", "Googlebot/2.1")
	if a.status != 200 || !strings.Contains(a.body, "where=/where#!/products/1") || !strings.Contains(a.body, "Espresso Machine 5") {
		t.Fatalf("answered %d %q: %.400s", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
	}
	for _, uri := range origin.Order() {
		if strings.Contains(uri, "_escaped_fragment_") {
			t.Fatalf("Chromium asked the site for %q", uri)
		}
	}
	if got := origin.Header("/where").Get("X-Prerender"); got != "1" {
		t.Errorf("Chromium's request for the page carried X-Prerender %q, want 1", got)
	}
}

func TestARendersOwnRequestComingBackIsRefusedAtOnce(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{AllowPrivate: true}).URL
	site := naiveMiddleware(t, origin, front)

	// The page sends a #! visitor to its ?_escaped_fragment_= snapshot; the
	// middleware sends Chromium's request for it back to prerenderd, which is
	// loading that very page.
	start := time.Now()
	a := get(t, site.URL, "loop?_escaped_fragment_=x", "User-Agent", "Googlebot/2.1")
	took := time.Since(start)
	if a.status != http.StatusLoopDetected || a.header.Get("X-Prerender-Reject-Reason") != "loop-detected" {
		t.Fatalf("answered %d %q, want 508 loop-detected: %.300s", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
	}
	// Refused, never waited on: the answer comes before the page timeout a
	// render waiting on itself would end at.
	if took >= testPageTimeout {
		t.Fatalf("the loop was answered after %s, at the page timeout %s", took, testPageTimeout)
	}
	u, err := cachekey.Normalize(site.URL+"/loop?_escaped_fragment_=x", cachekey.StripTracking)
	if err != nil {
		t.Fatal(err)
	}
	key := cachekey.Key(cachekey.Desktop, u)
	if testApp.RefuseLoop(key) {
		t.Fatal("a tab is still loading the page after the answer")
	}
	if stored(t, site.URL+"/loop?_escaped_fragment_=x") {
		t.Fatal("the loop's answer was cached")
	}
	// A renderer's request for a page no tab is loading is served as any.
	if a := get(t, front, site.URL+"/where?id=1", "X-Prerender", "1"); a.status != 200 {
		t.Fatalf("a renderer's request for a page nobody renders answered %d", a.status)
	}
}
