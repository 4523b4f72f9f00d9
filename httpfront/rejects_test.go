package httpfront

import (
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestEveryRefusalCarriesItsRejectReason walks the routes with bad input: every
// 4xx/5xx must carry X-Prerender-Reject-Reason, a message saying what was wrong, and
// a reason the README documents.
func TestEveryRefusalCarriesItsRejectReason(t *testing.T) {
	manyURLs := `{"urls": [` + strings.TrimSuffix(strings.Repeat(`"https://shop.example/",`, maxRecacheURLs+1), ",") + `]}`
	tests := []struct {
		name         string
		cfg          Config
		method, path string
		body, token  string
		remote       string
		status       int
		reason       string
		mentions     string // the next step the message must name, if any
	}{
		{name: "a path that is neither a route nor a URL is a bad URL", method: "GET", path: "/notaurl", status: 400, reason: "bad-url", mentions: "not absolute (no http:// or https://); ask for a page as GET /{absolute http(s) URL}, e.g. GET /https://example.com/"},
		{name: "an ftp URL is a bad URL", method: "GET", path: "/ftp://example.com/", status: 400, reason: "bad-url", mentions: `scheme "ftp"`},
		{name: "the root is a bad URL that says what to ask for, the demo included", cfg: Config{Listen: "127.0.0.1:3000"}, method: "GET", path: "/", status: 400, reason: "bad-url", mentions: "GET /http://127.0.0.1:3000/demo/"},
		{name: "/render without a url is a bad URL", method: "GET", path: "/render", status: 400, reason: "bad-url"},
		{name: "/render of a javascript: URL is a bad URL", method: "GET", path: "/render?url=javascript:alert(1)", status: 400, reason: "bad-url"},
		{name: "a URL with credentials is a bad URL", method: "GET", path: "/https://user:pw@shop.example/", status: 400, reason: "bad-url"},
		{name: "a POST of a page is refused", method: "POST", path: "/https://shop.example/", status: 405, reason: "method-not-allowed"},
		{name: "a page without the token", cfg: Config{Tokens: []string{"s3cret"}}, method: "GET", path: "/https://shop.example/", status: 401, reason: "token-missing"},
		{name: "a page with a wrong token", cfg: Config{Tokens: []string{"s3cret"}}, method: "GET", path: "/https://shop.example/", token: "nope", status: 403, reason: "token-invalid"},
		{name: "a loopback page names security.allow_private", method: "GET", path: "/http://127.0.0.1:9/", status: 403, reason: "private-address", mentions: "security.allow_private"},
		{name: "a host outside allow_hosts names the key", cfg: Config{AllowHosts: []string{"shop.example"}}, method: "GET", path: "/https://other.example/", status: 403, reason: "host-not-allowed", mentions: "security.allow_hosts"},
		{name: "GET /search is refused", method: "GET", path: "/search", status: 405, reason: "method-not-allowed"},
		{name: "a search body that is not JSON", method: "POST", path: "/search", body: `{`, status: 400, reason: "bad-json"},
		{name: "a negative start", method: "POST", path: "/search", body: `{"start": -1}`, status: 400, reason: "bad-start"},
		{name: "an unknown adaptiveType", method: "POST", path: "/search", body: `{"adaptiveType": "tablet"}`, status: 400, reason: "bad-adaptive-type"},
		{name: "an exactMatch that is not a URL", method: "POST", path: "/search", body: `{"exactMatch": "notaurl"}`, status: 400, reason: "bad-url"},
		{name: "an admin call from another host without tokens", method: "POST", path: "/search", body: `{}`, remote: "203.0.113.7:5000", status: 403, reason: "admin-not-loopback", mentions: "server.tokens"},
		{name: "an admin call without the token", cfg: Config{Tokens: []string{"s3cret"}}, method: "POST", path: "/search", body: `{}`, status: 401, reason: "token-missing"},
		{name: "an admin body over 10 MiB", method: "POST", path: "/search", body: `{"query": "` + strings.Repeat("a", maxAdminBody) + `"}`, status: 413, reason: "body-too-large"},
		{name: "a clear without a query", method: "POST", path: "/cache-clear", body: `{}`, status: 400, reason: "query-missing"},
		{name: "a clear of something that is not a URL", method: "POST", path: "/cache-clear", body: `{"query": "notaurl"}`, status: 400, reason: "bad-url"},
		{name: "GET /cache-clear is refused", method: "GET", path: "/cache-clear", status: 405, reason: "method-not-allowed"},
		{name: "PUT /cache-clear-status is refused", method: "PUT", path: "/cache-clear-status", status: 405, reason: "method-not-allowed"},
		{name: "a recache without URLs", method: "POST", path: "/recache", body: `{}`, status: 400, reason: "no-url"},
		{name: "a recache of too many URLs", method: "POST", path: "/recache", body: manyURLs, status: 400, reason: "too-many-urls"},
		{name: "a recache where every URL is invalid", method: "POST", path: "/recache", body: `{"urls": ["notaurl", "ftp://example.com/"]}`, status: 400, reason: "no-valid-url", mentions: `"reason":"bad-url"`},
		{name: "a recache of the mobile variant", method: "POST", path: "/recache", body: `{"url": "https://shop.example/", "adaptiveType": "mobile"}`, status: 400, reason: "bad-adaptive-type"},
		{name: "a speed change without a speed", method: "POST", path: "/change-recache-speed", body: `{}`, status: 400, reason: "bad-speed"},
		{name: "a speed that is not an integer", method: "POST", path: "/change-recache-speed", body: `{"urlsPerHour": 1.5}`, status: 400, reason: "bad-speed"},
		{name: "a speed out of range", method: "POST", path: "/change-recache-speed", body: `{"urlsPerHour": 5}`, status: 400, reason: "bad-speed"},
		{name: "a sitemap without a url", method: "POST", path: "/sitemap", body: `{}`, status: 400, reason: "url-missing"},
		{name: "a sitemap that is not a URL", method: "POST", path: "/sitemap", body: `{"url": "sitemap.xml"}`, status: 400, reason: "bad-url"},
		{name: "a sitemap on a private address", method: "POST", path: "/sitemap", body: `{"url": "http://127.0.0.1:9/sitemap.xml"}`, status: 403, reason: "private-address"},
		{name: "DELETE /sitemap is refused", method: "DELETE", path: "/sitemap", status: 405, reason: "method-not-allowed"},
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := New(tc.cfg, testApp)
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.RemoteAddr = "127.0.0.1:5000"
			if tc.remote != "" {
				req.RemoteAddr = tc.remote
			}
			if tc.token != "" {
				req.Header.Set("X-Prerender-Token", tc.token)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			got := rec.Header().Get("X-Prerender-Reject-Reason")
			if rec.Code != tc.status || got != tc.reason {
				t.Fatalf("%s %s: %d %q, want %d %q: %.300s", tc.method, tc.path, rec.Code, got, tc.status, tc.reason, rec.Body)
			}
			body := rec.Body.String()
			if msg, ok := strings.CutPrefix(body, tc.reason+": "); strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") && (!ok || strings.TrimSpace(msg) == "") {
				t.Errorf("the answer is not %q followed by what was wrong: %q", tc.reason+": ", body)
			} else if strings.TrimSpace(body) == "" {
				t.Errorf("the answer has no body saying what was wrong")
			}
			if tc.mentions != "" && !strings.Contains(body, tc.mentions) {
				t.Errorf("the answer does not name %q: %.300s", tc.mentions, body)
			}
			if !strings.Contains(string(readme), fmt.Sprintf("`%s`", tc.reason)) {
				t.Errorf("README.md does not document the reason %s", tc.reason)
			}
		})
	}
}
