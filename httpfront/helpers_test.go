package httpfront

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"prerenderd/cachekey"
)

func TestAcceptsGzip(t *testing.T) {
	for ae, want := range map[string]bool{
		"":                     false,
		"gzip":                 true,
		"GZIP":                 true,
		"br, gzip, deflate":    true,
		"gzip;q=0":             false,
		"gzip; q=0.0, br":      false,
		"gzip;q=0.5":           true,
		"*":                    true,
		"deflate, br":          false,
		"identity":             false,
		"x-gzip-nonsense, br":  false,
		" gzip ;q=1 , deflate": true,
	} {
		if got := acceptsGzip(ae); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", ae, got, want)
		}
	}
}

func TestEtagMatches(t *testing.T) {
	const tag = `"abc"`
	for inm, want := range map[string]bool{
		"":              false,
		`"abc"`:         true,
		`W/"abc"`:       true,
		`"x", "abc"`:    true,
		`*`:             true,
		`"abd"`:         false,
		`abc`:           false,
		`"x" , W/"abc"`: true,
	} {
		if got := etagMatches(inm, tag); got != want {
			t.Errorf("etagMatches(%q) = %v, want %v", inm, got, want)
		}
	}
}

func TestTargetURL(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"a plain URL is taken as it is", "https://shop.example/p?id=1", "https://shop.example/p?id=1"},
		{"a percent-encoded URL is decoded", "https%3A%2F%2Fshop.example%2Fp%3Fid%3D1", "https://shop.example/p?id=1"},
		{"a collapsed double slash is repaired", "https:/shop.example/p", "https://shop.example/p"},
		{"an upper-case scheme is accepted", "HTTP://Shop.Example/", "http://shop.example/"},
		{"a numeric IPv4 host is written as Chromium loads it", "http://2130706433:8080/p", "http://127.0.0.1:8080/p"},
		{"an encoded numeric IPv4 host is written as Chromium loads it", "http%3A%2F%2F0x7f.1%2Fp", "http://127.0.0.1/p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := targetURL(tc.raw, cachekey.StripTracking)
			if err != nil {
				t.Fatal(err)
			}
			if u.Key.String() != tc.want {
				t.Fatalf("targetURL(%q) = %q, want %q", tc.raw, u, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "https://", "https%3A%2F%2F%zz", "ftp://x/", "javascript:alert(1)", "http://user:pw@x/"} {
		if _, err := targetURL(bad, cachekey.StripTracking); err == nil {
			t.Errorf("targetURL(%q) accepted", bad)
		}
	}
}

func TestFromRendererTellsTheRenderersRequests(t *testing.T) {
	for _, tc := range []struct {
		name, xPrerender, ua string
		want                 bool
	}{
		{"the page request of a render carries X-Prerender", "1", "Mozilla/5.0 Chrome/156.0.0.0 Safari/537.36 Prerender (prerenderd)", true},
		{"a later request of a render is told by its User-Agent", "", "Mozilla/5.0 Chrome/156.0.0.0 Safari/537.36 Prerender (prerenderd)", true},
		{"the npm server's renderer is a renderer", "", "Mozilla/5.0 HeadlessChrome/120 Prerender (+https://github.com/prerender/prerender)", true},
		{"a crawler is not", "", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", false},
		{"a browser is not", "", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/https://shop.example/", nil)
			r.Header.Set("User-Agent", tc.ua)
			if tc.xPrerender != "" {
				r.Header.Set("X-Prerender", tc.xPrerender)
			}
			if got := fromRenderer(r); got != tc.want {
				t.Fatalf("fromRenderer = %v, want %v", got, tc.want)
			}
		})
	}
}
