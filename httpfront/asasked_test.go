package httpfront

import (
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"prerenderd/api"
	"prerenderd/browser/fixture"
)

func TestChromiumLoadsTheURLAsAskedAndTheKeyStaysNormalized(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{AllowPrivate: true}).URL

	first := get(t, front, origin.URL+"/where?b=2&a=1&utm_source=news")
	if first.status != 200 || first.header.Get("X-Prerender-Cache") != "MISS" {
		t.Fatalf("first answer %d %s", first.status, first.header.Get("X-Prerender-Cache"))
	}
	if !strings.Contains(first.body, "where=/where?b=2&amp;a=1") {
		t.Fatalf("the page saw another URL: %.300s", first.body)
	}
	var loaded []string
	for _, uri := range origin.Order() {
		if strings.HasPrefix(uri, "/where") {
			loaded = append(loaded, uri)
		}
	}
	if len(loaded) != 1 || loaded[0] != "/where?b=2&a=1" {
		t.Fatalf("Chromium asked the origin for %q, want the crawler's order without tracking parameters", loaded)
	}

	// The key is normalized: the same page asked for in another order is a hit.
	again := get(t, front, origin.URL+"/where?a=1&b=2")
	if again.header.Get("X-Prerender-Cache") != "HIT" || again.body != first.body {
		t.Fatalf("the same page in another order answered %s", again.header.Get("X-Prerender-Cache"))
	}

	// The stored page URL is the URL Chromium loaded: recaches load it again, and
	// search shows it.
	res := decode[api.SearchResponse](t, post(t, front, "/search", `{"exactMatch": "`+origin.URL+`/where?a=1&b=2"}`))
	if res.Total != 1 || res.Results[0].URL != origin.URL+"/where?b=2&a=1" {
		t.Fatalf("search: %+v, want the URL as loaded", res)
	}
}

func TestEncodedTargetsRenderTheRightPage(t *testing.T) {
	origin := fixture.New(t)
	where, err := readSite("where.html")
	if err != nil {
		t.Fatal(err)
	}
	origin.SetFile("café", where)
	origin.SetFile("search", where)
	front := newFront(t, Config{AllowPrivate: true}).URL
	host := strings.TrimPrefix(origin.URL, "http://")

	tests := []struct {
		name, requestURI, integration, want string
	}{
		{"nginx's escape of a query with %20 and UTF-8", "http://" + host + "/search%3Fq=a%2520b&x=%25E6%2597%25A5", "Nginx", "where=/search?q=a%20b&x=%E6%97%A5"},
		{"nginx's escape of a non-ASCII path", "http://" + host + "/caf%25C3%25A9", "Nginx", "where=/caf%C3%A9"},
		{"a URL sent as is with an escaped ampersand", "http://" + host + "/search?q=a%26b", "Node", "where=/search?q=a%26b"},
		{"a URL percent-encoded as a whole", "http%3A%2F%2F" + host + "%2Fsearch%3Fq%3Da%2520b", "", "where=/search?q=a%20b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, front, tc.requestURI, "X-Prerender-Int-Type", tc.integration)
			if a.status != 200 || !strings.Contains(a.body, html.EscapeString(tc.want)) || !strings.Contains(a.body, "Espresso Machine 5") {
				t.Fatalf("answered %d %q, want a page showing %q: %.300s", a.status, a.header.Get("X-Prerender-Reject-Reason"), tc.want, a.body)
			}
		})
	}
}

// readSite reads a page of the fixture site.
func readSite(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(fixture.Dir(), name))
}
