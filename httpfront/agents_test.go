package httpfront

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"prerenderd/analytics"
	"prerenderd/cachekey"
	"prerenderd/storage"
)

func TestAgentCacheAnswersWhatTheScansAnswer(t *testing.T) {
	both := []string{cachekey.Desktop, cachekey.Mobile}
	uas := []string{
		"",
		uaGooglebot,
		"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
		"curl/8.5.0",
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) " + strings.Repeat("x", maxCachedUALen),
	}
	tests := []struct {
		name     string
		variants []string
		rounds   int
	}{
		{"the first request of each User-Agent is scanned", both, 1},
		{"a User-Agent asked again is answered from its slot", both, 3},
		{"with one variant every User-Agent gets it", []string{cachekey.Mobile}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newAgentCache(tt.variants)
			for range tt.rounds {
				for _, ua := range uas {
					v, class := c.of(ua)
					if want := cachekey.VariantFor(ua, tt.variants); v != want {
						t.Errorf("variant of %.40q = %q, want %q", ua, v, want)
					}
					if want := analytics.Classify(ua); class != want {
						t.Errorf("class of %.40q = %v, want %v", ua, class, want)
					}
				}
			}
		})
	}
}

func TestAgentCacheStaysRightWhenUserAgentsShareSlots(t *testing.T) {
	both := []string{cachekey.Desktop, cachekey.Mobile}
	c := newAgentCache(both)
	// Many more User-Agents than slots: each slot is taken in turn.
	var uas []string
	for i := range 4 * agentSlots {
		if i%2 == 0 {
			uas = append(uas, fmt.Sprintf("Mozilla/5.0 (iPhone; build %d) Mobile", i))
		} else {
			uas = append(uas, fmt.Sprintf("Mozilla/5.0 (compatible; Googlebot/2.1; build %d)", i))
		}
	}
	for round := range 2 {
		for _, ua := range uas {
			v, class := c.of(ua)
			if v != cachekey.VariantFor(ua, both) || class != analytics.Classify(ua) {
				t.Fatalf("round %d: %q got %q/%v, want %q/%v", round, ua, v, class, cachekey.VariantFor(ua, both), analytics.Classify(ua))
			}
		}
	}
}

func TestAgentCacheAllocatesNothingForAUserAgentItHolds(t *testing.T) {
	c := newAgentCache([]string{cachekey.Desktop, cachekey.Mobile})
	ua := strings.Clone(uaGooglebot)
	c.of(ua)
	if n := testing.AllocsPerRun(100, func() { c.of(ua) }); n != 0 {
		t.Fatalf("%v allocations per lookup, want 0", n)
	}
}

// TestHitHeadersMadeOncePerPageFollowThePage checks the header values a hit
// reuses from the hot cache (answerMemo): each encoding keeps its own ETag and
// length, Age still counts, a conditional request matches the reused tag, and
// a page written again is answered with its new values.
func TestHitHeadersMadeOncePerPageFollowThePage(t *testing.T) {
	target := "https://bench.example/memo"
	u, _ := cachekey.Normalize(target, cachekey.StripTracking)
	key := cachekey.Key(cachekey.Desktop, u)
	put := func(body []byte, at time.Time) {
		err := testStore.PutPage(&storage.Page{Key: key, URL: u.String(), Status: 200,
			RenderedAt: at, ExpiresAt: at.Add(time.Hour), Plain: body, Gzip: gzipBytes(t, body)})
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	clock := &now
	s := New(Config{Clock: func() time.Time { return *clock }}, testApp)
	get := func(gz bool, inm string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/"+target, nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w
	}
	first := []byte("<html><body>first version of the page</body></html>")
	put(first, now.Add(-150*time.Second))
	var etags [2]string
	for round := range 4 { // the cache admits a page on its second read: rounds 2+ reuse
		for i, gz := range []bool{false, true} {
			w := get(gz, "")
			body := first
			if gz {
				body = gzipBytes(t, first)
			}
			if w.Code != 200 || w.Header().Get("X-Prerender-Cache") != "HIT" {
				t.Fatalf("round %d gzip %v: %d %q", round, gz, w.Code, w.Header().Get("X-Prerender-Cache"))
			}
			if got, want := w.Header().Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want || (!gz && w.Body.String() != string(body)) {
				t.Fatalf("round %d gzip %v: Content-Length %s for %d bytes", round, gz, got, w.Body.Len())
			}
			if got, want := w.Header().Get("Age"), strconv.Itoa(150+round); got != want {
				t.Fatalf("round %d gzip %v: Age %s, want %s", round, gz, got, want)
			}
			if etags[i] == "" {
				etags[i] = w.Header().Get("Etag")
			} else if got := w.Header().Get("Etag"); got != etags[i] {
				t.Fatalf("round %d gzip %v: ETag %s, then %s", round, gz, etags[i], got)
			}
			if c := get(gz, etags[i]).Code; c != http.StatusNotModified {
				t.Fatalf("round %d gzip %v: If-None-Match its own ETag got %d, want 304", round, gz, c)
			}
		}
		now = now.Add(time.Second)
	}
	if etags[0] == etags[1] || etags[1] != gzipETag(etags[0]) {
		t.Fatalf("plain ETag %s, gzip ETag %s: want the gzip one derived from the plain one", etags[0], etags[1])
	}
	second := []byte("<html><body>the second version, longer than the first one</body></html>")
	put(second, now)
	for i, gz := range []bool{false, true} {
		w := get(gz, "")
		if got := w.Header().Get("Etag"); got == etags[i] {
			t.Fatalf("gzip %v: the page written again is answered with its old ETag %s", gz, got)
		}
		if got, want := w.Header().Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want || w.Header().Get("Age") != "0" {
			t.Fatalf("gzip %v: Content-Length %s for %d bytes, Age %s", gz, got, w.Body.Len(), w.Header().Get("Age"))
		}
		if !gz && w.Body.String() != string(second) {
			t.Fatalf("the page written again answers %q", w.Body.String())
		}
	}
}
