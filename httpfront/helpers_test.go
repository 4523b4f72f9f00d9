package httpfront

import (
	"testing"

	"prerenderd/storage/cachekey"
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
			if u.String() != tc.want {
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
