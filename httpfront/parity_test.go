package httpfront

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

// docsToken is the token of prerender.io's examples: the front is configured with
// it, so the documented bodies are sent as they are printed.
const docsToken = "YOUR_TOKEN"

// TestPrerenderIODocumentedBodiesAreAccepted sends every admin route the README
// lists with the JSON of prerender.io's API documentation. The recache bodies are
// byte for byte the documentation's (tabs and all); the others use the
// documented fields. Only the example host www.example.com is replaced by the
// test's origin, which serves the URLs.
func TestPrerenderIODocumentedBodiesAreAccepted(t *testing.T) {
	origin := fixture.New(t)
	origin.SetFile("sitemap.xml", []byte(`<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{{ORIGIN}}/product?id=41</loc></url></urlset>`))
	front := newFront(t, Config{AllowPrivate: true, Tokens: []string{docsToken}}).URL
	site := func(body string) string { return strings.ReplaceAll(body, "http://www.example.com", origin.URL) }
	t.Cleanup(func() {
		post(t, front, "/change-recache-speed", `{"prerenderToken": "YOUR_TOKEN", "urlsPerHour": 0}`)
		waitQueuesIdle(t, front)
	})

	tests := []struct {
		name, path, body string
		status           int
		answer           []string // fragments of the JSON answer
	}{
		{"recache one URL", "/recache", "{\n\t\"prerenderToken\": \"YOUR_TOKEN\",\n\t\"url\": \"http://www.example.com/url/to/recache\"\n}",
			200, []string{`"queued":1`}},
		{"recache several URLs", "/recache", "{ \t\n\t\"prerenderToken\": \"YOUR_TOKEN\", \t\n\t\"urls\": [\n        \"http://www.example.com/url/to/recache\", \n        \"http://www.example.com/url/to/recache2\"\n    ] \n}",
			200, []string{`"queued":`, `"duplicate":`}},
		{"search the cache", "/search", "{\n    \"prerenderToken\": \"YOUR_TOKEN\",\n    \"query\": \"www.example.com\",\n    \"start\": 0\n}",
			200, []string{`"total":`, `"results":`}},
		{"search one URL exactly", "/search", "{\n    \"prerenderToken\": \"YOUR_TOKEN\",\n    \"exactMatch\": \"http://www.example.com/url/to/recache\",\n    \"adaptiveType\": \"desktop\"\n}",
			200, []string{`"total":`}},
		{"add a sitemap", "/sitemap", "{\n    \"prerenderToken\": \"YOUR_TOKEN\",\n    \"url\": \"http://www.example.com/sitemap.xml\"\n}",
			200, []string{`"status":"added"`}},
		{"change the recache speed", "/change-recache-speed", "{\n    \"prerenderToken\": \"YOUR_TOKEN\",\n    \"urlsPerHour\": 36000\n}",
			200, []string{`"isAutomaticDelay":false`, `"recacheMetrics":{"delayBetweenURLs":100,"num1Hour":36000,"num1Day":864000}`}},
		{"change the recache speed back to automatic", "/change-recache-speed", "{\n    \"prerenderToken\": \"YOUR_TOKEN\",\n    \"urlsPerHour\": 0\n}",
			200, []string{`"isAutomaticDelay":true`, `"recacheMetrics":{"delayBetweenURLs":0,"num1Hour":0,"num1Day":0}`}},
		{"clear the cache of a site", "/cache-clear", "{\n    \"prerenderToken\": \"YOUR_TOKEN\",\n    \"query\": \"http://www.example.com/%\"\n}",
			202, []string{`"status":"running"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, front, tc.path, site(tc.body), "Content-Type", "application/json")
			if a.status != tc.status {
				t.Fatalf("%d %q: %s", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
			}
			for _, f := range tc.answer {
				if !strings.Contains(a.body, f) {
					t.Errorf("answer %s lacks %s", a.body, f)
				}
			}
		})
	}

	t.Run("the cache clear status with the token in the path", func(t *testing.T) {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			a := getAdmin(t, front+"/cache-clear-status/"+docsToken)
			if a.status != 200 {
				t.Fatalf("%d %q: %s", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
			}
			if strings.Contains(a.body, `"status":"done"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the clear did not finish: %s", a.body)
			}
		}
	})
}

func TestCacheClearStatusInThePathFollowsTheTokenRules(t *testing.T) {
	front := newFront(t, Config{Tokens: []string{docsToken}}).URL
	for _, tc := range []struct {
		name, path string
		status     int
		reason     string
	}{
		{"the right token answers the status", "/cache-clear-status/YOUR_TOKEN", 200, ""},
		{"a wrong token is refused", "/cache-clear-status/nope", 403, "token-invalid"},
		{"an empty token is refused", "/cache-clear-status/", 401, "token-missing"},
		{"no token at all is refused", "/cache-clear-status", 401, "token-missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := getAdmin(t, front+tc.path)
			if a.status != tc.status || a.header.Get("X-Prerender-Reject-Reason") != tc.reason {
				t.Fatalf("%d %q, want %d %q: %s", a.status, a.header.Get("X-Prerender-Reject-Reason"), tc.status, tc.reason, a.body)
			}
			if tc.status == 200 && !strings.Contains(a.body, `"status":`) {
				t.Fatalf("answer %s", a.body)
			}
		})
	}
}

func getAdmin(t *testing.T, url string) answer {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	_, _ = io.Copy(b, resp.Body)
	return answer{resp.StatusCode, resp.Header, b.String()}
}
