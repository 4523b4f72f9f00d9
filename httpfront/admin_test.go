package httpfront

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"prerenderd/api"
	"prerenderd/browser/fixture"
	"prerenderd/storage"
)

func post(t testing.TB, front, path, body string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, front+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func decode[T any](t testing.TB, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", a.status, err, a.body)
	}
	return v
}

func TestAdminRoutesFollowTheTokenRules(t *testing.T) {
	tests := []struct {
		name   string
		tokens []string
		remote string
		body   string
		header string
		status int
		reason string
	}{
		{"no tokens configured: a loopback caller needs none", nil, "127.0.0.1:5000", `{}`, "", 200, ""},
		{"no tokens configured: IPv6 loopback too", nil, "[::1]:5000", `{}`, "", 200, ""},
		{"no tokens configured: a remote caller is refused", nil, "203.0.113.7:5000", `{}`, "", 403, "admin-not-loopback"},
		{"tokens configured: loopback without one is refused", []string{"s3cret"}, "127.0.0.1:5000", `{}`, "", 401, "token-missing"},
		{"tokens configured: a wrong body token is refused", []string{"s3cret"}, "203.0.113.7:5000", `{"prerenderToken":"nope"}`, "", 403, "token-invalid"},
		{"tokens configured: the body's prerenderToken is accepted", []string{"s3cret"}, "203.0.113.7:5000", `{"prerenderToken":"s3cret"}`, "", 200, ""},
		{"tokens configured: the X-Prerender-Token header is accepted", []string{"a", "s3cret"}, "203.0.113.7:5000", `{}`, "s3cret", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := New(Config{Tokens: tc.tokens}, testApp)
			req := httptest.NewRequest(http.MethodPost, "/search", strings.NewReader(tc.body))
			req.RemoteAddr = tc.remote
			if tc.header != "" {
				req.Header.Set("X-Prerender-Token", tc.header)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != tc.status || rec.Header().Get("X-Prerender-Reject-Reason") != tc.reason {
				t.Fatalf("status %d reason %q, want %d %q: %s", rec.Code, rec.Header().Get("X-Prerender-Reject-Reason"), tc.status, tc.reason, rec.Body)
			}
		})
	}
}

func TestAdminRoutesRefuseBadRequests(t *testing.T) {
	front := newFront(t, Config{}).URL
	tests := []struct {
		name, method, path, body string
		status                   int
		reason                   string
	}{
		{"search by GET", http.MethodGet, "/search", "", 405, "method-not-allowed"},
		{"a body that is not JSON", http.MethodPost, "/search", "query=x", 400, "bad-json"},
		{"a field of the wrong type", http.MethodPost, "/search", `{"start":"ten"}`, 400, "bad-json"},
		{"a negative start", http.MethodPost, "/search", `{"start":-1}`, 400, "bad-start"},
		{"an unknown adaptiveType", http.MethodPost, "/search", `{"adaptiveType":"tablet"}`, 400, "bad-adaptive-type"},
		{"a bad exactMatch URL", http.MethodPost, "/search", `{"exactMatch":"ftp://x/"}`, 400, "bad-url"},
		{"a clear without query", http.MethodPost, "/cache-clear", `{}`, 400, "query-missing"},
		{"a clear of a bad URL", http.MethodPost, "/cache-clear", `{"query":"not a url"}`, 400, "bad-url"},
		{"a clear status by PUT", http.MethodPut, "/cache-clear-status", ``, 405, "method-not-allowed"},
		{"a body over 10 MiB", http.MethodPost, "/search", `{"query":"` + strings.Repeat("x", maxAdminBody) + `"}`, 413, "body-too-large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, front+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("X-Prerender-Reject-Reason") != tc.reason {
				t.Fatalf("status %d reason %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Prerender-Reject-Reason"), tc.status, tc.reason)
			}
		})
	}
}

// putAdminPages stores n pages on host straight into the shared store; no shard
// owns these keys at the time, so the one-writer rule holds.
func putAdminPages(t *testing.T, host string, n int) {
	t.Helper()
	now := time.Now()
	for i := range n {
		url := fmt.Sprintf("https://%s/item/%03d", host, i)
		if err := testStore.PutPage(&storage.Page{Key: "desktop|" + url, URL: url, Status: 200,
			RenderedAt: now, ExpiresAt: now.Add(time.Hour), Plain: []byte("<p>item</p>")}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSearchAndClearOverHTTP(t *testing.T) {
	front := newFront(t, Config{}).URL
	putAdminPages(t, "admin-a.example", 250)
	putAdminPages(t, "admin-b.example", 5)

	t.Run("search pages by 200 with a total", func(t *testing.T) {
		first := decode[api.SearchResponse](t, post(t, front, "/search", `{"query":"admin-a.example/item"}`))
		second := decode[api.SearchResponse](t, post(t, front, "/search", `{"query":"admin-a.example/item","start":200}`))
		if first.Total != 250 || len(first.Results) != 200 || second.Total != 250 || len(second.Results) != 50 {
			t.Fatalf("pages of %d and %d, totals %d and %d", len(first.Results), len(second.Results), first.Total, second.Total)
		}
		if second.Results[0].URL != "https://admin-a.example/item/200" || second.Results[0].Variant != "desktop" ||
			second.Results[0].Status != 200 || second.Results[0].Size == 0 || second.Results[0].ExpiresAt.IsZero() {
			t.Fatalf("first result of page two: %+v", second.Results[0])
		}
	})
	t.Run("exactMatch normalizes the URL it is given", func(t *testing.T) {
		r := decode[api.SearchResponse](t, post(t, front, "/search", `{"exactMatch":"HTTPS://Admin-A.example:443/item/007?utm_source=x#top"}`))
		if r.Total != 1 || r.Results[0].URL != "https://admin-a.example/item/007" {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("a clear of one URL is done when it answers", func(t *testing.T) {
		a := post(t, front, "/cache-clear", `{"query":"https://admin-a.example/item/007"}`)
		if a.status != 200 || decode[api.ClearResponse](t, a).Deleted != 1 || stored(t, "https://admin-a.example/item/007") {
			t.Fatalf("answer %d %s", a.status, a.body)
		}
	})
	t.Run("a wildcard clear of one host runs in the background and leaves the other", func(t *testing.T) {
		a := post(t, front, "/cache-clear", `{"query":"https://admin-a.example/%"}`)
		started := decode[api.ClearResponse](t, a)
		if a.status != http.StatusAccepted || started.ID == 0 {
			t.Fatalf("answer %d %s", a.status, a.body)
		}
		var st api.ClearResponse
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			st = decode[api.ClearResponse](t, get(t, front, "cache-clear-status"))
			if st.ID == started.ID && st.Status != "running" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("still running: %+v", st)
			}
		}
		if st.Status != "done" || st.Deleted != 249 || st.FinishedAt == nil {
			t.Fatalf("status %+v", st)
		}
		if byPost := decode[api.ClearResponse](t, post(t, front, "/cache-clear-status", `{"prerenderToken":""}`)); byPost.ID != st.ID {
			t.Fatalf("POST /cache-clear-status: %+v", byPost)
		}
		if r := decode[api.SearchResponse](t, post(t, front, "/search", `{"query":"https://admin-%.example/%"}`)); r.Total != 5 {
			t.Fatalf("%d pages left, want the 5 of admin-b", r.Total)
		}
	})
}

func TestSitemapsAddedThroughTheAPI(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{Policy: loopbackOrigins}).URL
	// Its URLs are on another host: they are read and skipped, so this test leaves
	// no renders queued behind it for the tests that follow.
	origin.SetFile("api-sitemap.xml", []byte(`<urlset><url><loc>https://other.example/1</loc></url>`+
		`<url><loc>https://other.example/2</loc></url><url><loc>https://other.example/3</loc></url></urlset>`))
	sm := origin.URL + "/api-sitemap.xml"

	a := post(t, front, "/sitemap", `{"url":"`+sm+`"}`)
	if a.status != 200 {
		t.Fatalf("POST /sitemap: %d %s", a.status, a.body)
	}
	st, err := testStore.GetSitemap(sm)
	if err != nil || !st.Added {
		t.Fatalf("not persisted as added: %+v %v", st, err)
	}
	// It is polled at once, in the background.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, _ = testStore.GetSitemap(sm); st.Kind == "urlset" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not polled: %+v", st)
		}
	}
	if st.URLs != 3 || !st.Added || st.ETag == "" {
		t.Fatalf("state after the poll: %+v", st)
	}
	list := decode[struct{ Sitemaps []api.SitemapItem }](t, get(t, front, "sitemap"))
	found := false
	for _, it := range list.Sitemaps {
		found = found || (it.URL == sm && it.Added && it.URLs == 3)
	}
	if !found {
		t.Fatalf("GET /sitemap does not list %s: %+v", sm, list)
	}

	for _, tc := range []struct {
		name, body string
		cfg        Config
		status     int
		reason     string
	}{
		{"no url", `{}`, Config{}, 400, "url-missing"},
		{"not a URL", `{"url":"sitemap.xml"}`, Config{}, 400, "bad-url"},
		{"a private address without allow_private", `{"url":"` + sm + `"}`, Config{}, 403, "private-address"},
		{"a host outside allow_hosts", `{"url":"https://elsewhere.example/s.xml"}`, Config{AllowHosts: []string{"shop.example"}}, 403, "host-not-allowed"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			a := post(t, newFront(t, tc.cfg).URL, "/sitemap", tc.body)
			if a.status != tc.status || a.header.Get("X-Prerender-Reject-Reason") != tc.reason {
				t.Fatalf("%d %q: %s", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
			}
		})
	}
}

// TestASitemapWarmsTheCache goes the whole way: a sitemap index added through the
// API is polled, its URLs go through the priority queue to real Chromium, and a
// crawler's first request is served from the cache.
func TestASitemapWarmsTheCache(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{Policy: loopbackOrigins}).URL
	if a := post(t, front, "/sitemap", `{"url":"`+origin.URL+`/sitemap-index.xml"}`); a.status != 200 {
		t.Fatalf("POST /sitemap: %d %s", a.status, a.body)
	}
	// Five of the six URLs render as 200 and are stored; /notfound-static is a 404.
	var r api.SearchResponse
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r = decode[api.SearchResponse](t, post(t, front, "/search", `{"query":"`+origin.URL+`/"}`))
		if r.Total == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 5 sitemap pages cached after 90s: %+v", r.Total, r.Results)
		}
	}
	docs := origin.Hits("/product")
	a := get(t, front, origin.URL+"/product")
	if a.status != 200 || a.header.Get("X-Prerender-Cache") == "MISS" || origin.Hits("/product") != docs {
		t.Fatalf("first crawler request: %d %s, origin fetched it again: %v", a.status, a.header.Get("X-Prerender-Cache"), origin.Hits("/product") != docs)
	}
	// The 404 page may still be rendering: let the queue drain while the origin
	// is up, so no render of this test runs into the next ones.
	waitQueuesIdle(t, front)
}

// waitQueuesIdle waits until the priority queue is empty and no render runs, read
// from GET /metrics.
func waitQueuesIdle(t *testing.T, front string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		m := get(t, front, "metrics").body
		if strings.Contains(m, "\nprerender_recache_queue_length{queue=\"priority\"} 0\n") && strings.Contains(m, "\nprerender_renders_in_flight 0\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("recache queue not idle after 60s")
		}
	}
}
