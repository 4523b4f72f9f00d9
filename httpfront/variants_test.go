package httpfront

import (
	"regexp"
	"testing"
	"time"

	"prerenderd/api"
	"prerenderd/browser/fixture"
	"prerenderd/cachekey"
	"prerenderd/storage/storetest"
)

const (
	googlebotSmartphone = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	googlebotDesktop    = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

// screen is what the fixture page /device printed: its viewport width and
// the class of the User-Agent it saw.
func screen(t testing.TB, body string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<span id="width">(\d+)</span>.*<span id="class">(\w+)</span>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no screen in the page:\n%.1500s", body)
	}
	return m[1] + " " + m[2]
}

func storedIn(t testing.TB, variant, target string) bool {
	t.Helper()
	u, err := cachekey.Normalize(target, cachekey.StripTracking)
	if err != nil {
		t.Fatal(err)
	}
	_, err = storetest.Page(testStore, cachekey.Key(variant, u))
	return err == nil
}

func TestMobileCrawlersGetTheMobileVariant(t *testing.T) {
	origin := fixture.New(t)
	both := newFront(t, Config{AllowPrivate: true, Variants: []string{"desktop", "mobile"}}).URL
	desktopOnly := newFront(t, Config{AllowPrivate: true}).URL
	page := origin.URL + "/device?variants=1"
	tests := []struct {
		name, front, ua string
		cache, screen   string
		vary            string
	}{
		{"Googlebot smartphone gets a render as a phone", both, googlebotSmartphone, "MISS", "412 mobile", "Accept, Accept-Encoding, User-Agent"},
		{"Googlebot desktop gets a render of its own", both, googlebotDesktop, "MISS", "1366 desktop", "Accept, Accept-Encoding, User-Agent"},
		{"the phone's page is then a hit of its own", both, googlebotSmartphone, "HIT", "412 mobile", "Accept, Accept-Encoding, User-Agent"},
		{"any UA with iPhone is mobile", both, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) some-bot", "HIT", "412 mobile", "Accept, Accept-Encoding, User-Agent"},
		{"with only desktop rendered a phone gets the desktop page and no Vary on User-Agent", desktopOnly, googlebotSmartphone, "HIT", "1366 desktop", "Accept, Accept-Encoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, tc.front, page, "User-Agent", tc.ua)
			if a.status != 200 || a.header.Get("X-Prerender-Cache") != tc.cache || a.header.Get("Vary") != tc.vary {
				t.Fatalf("got %d %s, Vary %q; want 200 %s, Vary %q", a.status, a.header.Get("X-Prerender-Cache"), a.header.Get("Vary"), tc.cache, tc.vary)
			}
			if got := screen(t, a.body); got != tc.screen {
				t.Fatalf("the page saw %s, want %s", got, tc.screen)
			}
		})
	}
	if !storedIn(t, "desktop", page) || !storedIn(t, "mobile", page) {
		t.Fatal("the two variants are not two cache entries")
	}
}

func TestAdaptiveTypeMobileWorksInEveryAdminRoute(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{AllowPrivate: true, Variants: []string{"desktop", "mobile"}}).URL
	page := origin.URL + "/device?adaptive=1"

	a := post(t, front, "/recache", `{"url":"`+page+`","adaptiveType":"mobile"}`)
	if a.status != 200 || decode[api.RecacheAnswer](t, a).Queued != 1 {
		t.Fatalf("recache: %d %s", a.status, a.body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !storedIn(t, "mobile", page) {
		if time.Now().After(deadline) {
			t.Fatal("the mobile recache was not stored within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if storedIn(t, "desktop", page) {
		t.Fatal("a mobile recache stored a desktop page")
	}
	if got := screen(t, get(t, front, page, "User-Agent", googlebotSmartphone).body); got != "412 mobile" {
		t.Fatalf("the recached mobile page was rendered at %s", got)
	}
	// Now a desktop entry beside it.
	get(t, front, page, "User-Agent", googlebotDesktop)

	q := `"` + page + `"`
	if r := decode[api.SearchResponse](t, post(t, front, "/search", `{"exactMatch":`+q+`,"adaptiveType":"mobile"}`)); r.Total != 1 || r.Results[0].Variant != "mobile" {
		t.Fatalf("search of the mobile variant: %+v", r)
	}
	if r := decode[api.SearchResponse](t, post(t, front, "/search", `{"exactMatch":`+q+`}`)); r.Total != 2 {
		t.Fatalf("search of every variant: %+v, want both entries", r)
	}
	if a := post(t, front, "/cache-clear", `{"query":`+q+`,"adaptiveType":"mobile"}`); a.status != 200 || decode[api.ClearResponse](t, a).Deleted != 1 {
		t.Fatalf("cache-clear of the mobile variant: %d %s", a.status, a.body)
	}
	if storedIn(t, "mobile", page) || !storedIn(t, "desktop", page) {
		t.Fatal("the mobile clear did not remove exactly the mobile entry")
	}
}
