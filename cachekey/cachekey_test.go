package cachekey

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
		mode           StripMode
	}{
		{"scheme and host are lowercased", "HTTPS://Shop.Example/P/1", "https://shop.example/P/1", StripTracking},
		{"default https port is dropped", "https://shop.example:443/", "https://shop.example/", StripTracking},
		{"default http port is dropped", "http://shop.example:80/a", "http://shop.example/a", StripTracking},
		{"other ports stay", "http://shop.example:8080/a", "http://shop.example:8080/a", StripTracking},
		{"fragment is dropped", "https://shop.example/a#top", "https://shop.example/a", StripTracking},
		{"empty path becomes slash", "https://shop.example", "https://shop.example/", StripTracking},
		{"tracking parameters are dropped", "https://s.example/?utm_source=x&id=1&gclid=2&fbclid=3&mc_eid=4&_ga=5", "https://s.example/?id=1", StripTracking},
		{"remaining parameters are sorted", "https://s.example/?b=2&a=1&c=3", "https://s.example/?a=1&b=2&c=3", StripTracking},
		{"strip all drops the query", "https://s.example/products?page=2", "https://s.example/products", StripAll},
		{"strip none keeps tracking parameters", "https://s.example/?utm_source=x", "https://s.example/?utm_source=x", StripNone},
		{"a lone question mark is dropped", "https://s.example/a?", "https://s.example/a", StripTracking},
		{"ipv6 host keeps brackets", "http://[::1]:3000/a", "http://[::1]:3000/a", StripTracking},
		{"a hash-bang fragment is kept", "https://s.example/#!/p/1", "https://s.example/#!/p/1", StripTracking},
		{"an escaped fragment becomes the hash-bang it stands for", "https://s.example/?_escaped_fragment_=/p%3Fx%3D1", "https://s.example/#!/p?x=1", StripTracking},
		{"an escaped fragment beside other parameters keeps them sorted", "https://s.example/list?b=2&_escaped_fragment_=k%3Dv&a=1", "https://s.example/list?a=1&b=2#!k=v", StripTracking},
		{"an empty escaped fragment is dropped", "https://s.example/?&_escaped_fragment_=", "https://s.example/", StripTracking},
		{"a repeated escaped fragment is dropped", "https://s.example/?_escaped_fragment_=a&_escaped_fragment_=b", "https://s.example/", StripTracking},
		{"strip all keeps the page an escaped fragment names", "https://s.example/?q=1&_escaped_fragment_=/p", "https://s.example/#!/p", StripAll},
		{"raw UTF-8 in a query is escaped as a browser sends it", "https://s.example/s?x=\u65e5 b", "https://s.example/s?x=%E6%97%A5%20b", StripTracking},
		{"escapes in the path are kept", "https://s.example/caf%C3%A9/a%2Fb", "https://s.example/caf%C3%A9/a%2Fb", StripTracking},
		{"a plus stays a plus", "https://s.example/a+b?q=a+b", "https://s.example/a+b?q=a+b", StripTracking},
		{"a decimal IPv4 host is a dotted quad", "http://2130706433/", "http://127.0.0.1/", StripTracking},
		{"an octal IPv4 part is read as octal", "http://0177.0.0.1/", "http://127.0.0.1/", StripTracking},
		{"a hex IPv4 part fills the bytes left", "http://0x7f.1/", "http://127.0.0.1/", StripTracking},
		{"a short IPv4 host fills the bytes left", "http://127.1:8080/", "http://127.0.0.1:8080/", StripTracking},
		{"mixed IPv4 parts are read each in its base", "http://0xC0.0250.1.1/", "http://192.168.1.1/", StripTracking},
		{"an IPv4 host loses its trailing dot", "http://127.0.0.1./", "http://127.0.0.1/", StripTracking},
		{"a bare 0 is the unspecified address", "http://0/", "http://0.0.0.0/", StripTracking},
		{"a name keeps its trailing dot", "http://localhost./", "http://localhost./", StripTracking},
		{"a name with a numeric label that is not last stays a name", "http://1.example/", "http://1.example/", StripTracking},
		{"an IPv4-compatible IPv6 host is written in hex", "http://[::127.0.0.1]/", "http://[::7f00:1]/", StripTracking},
		{"an IPv4-mapped IPv6 host is written in hex", "http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/", StripTracking},
		{"an IPv6 host is compressed", "http://[2002:7f00:0001:0:0:0:0:0]/", "http://[2002:7f00:1::]/", StripTracking},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Normalize(tc.in, tc.mode)
			if err != nil {
				t.Fatalf("Normalize(%q): %v", tc.in, err)
			}
			if got := u.String(); got != tc.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLoadKeepsTheURLAsAsked(t *testing.T) {
	tests := []struct {
		name, in, want string
		mode           StripMode
	}{
		{"parameters keep their order", "https://s.example/?b=2&a=1&c=3", "https://s.example/?b=2&a=1&c=3", StripTracking},
		{"tracking parameters are dropped in place", "https://s.example/p?z=1&utm_source=x&a=2", "https://s.example/p?z=1&a=2", StripTracking},
		{"strip none keeps tracking parameters", "https://s.example/?utm_source=x&b=1", "https://s.example/?utm_source=x&b=1", StripNone},
		{"strip all loads the page without its query", "https://s.example/products?page=2", "https://s.example/products", StripAll},
		{"scheme, host and default port are canonical", "HTTPS://Shop.Example:443/P?B=1", "https://shop.example/P?B=1", StripTracking},
		{"an escaped fragment loads its hash-bang URL", "https://s.example/app?b=1&_escaped_fragment_=/p&a=2", "https://s.example/app?b=1&a=2#!/p", StripTracking},
		{"a plain fragment is dropped", "https://s.example/a#top", "https://s.example/a", StripTracking},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Load(tc.in, tc.mode)
			if err != nil {
				t.Fatalf("Load(%q): %v", tc.in, err)
			}
			if got := u.String(); got != tc.want {
				t.Fatalf("Load(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizeRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"an empty string":                  "",
		"a relative path":                  "/just/a/path",
		"a javascript URL":                 "javascript:alert(1)",
		"a file URL":                       "file:///etc/passwd",
		"a URL without a host":             "http:///nohost",
		"credentials":                      "https://user:pw@shop.example/",
		"an unparsable escape":             "https://shop.example/%zz",
		"an opaque http URL":               "http:shop.example",
		"a ftp URL":                        "ftp://shop.example/",
		"a control character":              "https://shop.example/\x7f",
		"a missing scheme":                 "shop.example/a",
		"a data URL":                       "data:text/html,hi",
		"a chrome internal URL":            "chrome://crash",
		"a port out of range":              "http://shop.example:99999999/",
		"port zero":                        "http://shop.example:0/",
		"a space in the host":              "http://shop%20example/",
		"an empty label":                   "http://shop..example/",
		"a bad IPv6 literal":               "http://[::zz]/",
		"an IPv4 part past 255":            "http://256.0.0.1/",
		"an IPv4 number past 32 bits":      "http://4294967296/",
		"five IPv4 parts":                  "http://1.2.3.4.5/",
		"a last part too big for its room": "http://127.0.65536/",
		"an octal part with a digit 9":     "http://09.0.0.1/",
		"an IPv6 zone":                     "http://[fe80::1%25eth0]/",
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			if _, err := Normalize(in, StripTracking); !errors.Is(err, ErrBadURL) {
				t.Fatalf("Normalize(%q) error = %v, want ErrBadURL", in, err)
			}
			if _, err := Load(in, StripTracking); !errors.Is(err, ErrBadURL) {
				t.Fatalf("Load(%q) error = %v, want ErrBadURL", in, err)
			}
		})
	}
}

func TestKeyIsStableAcrossEquivalentURLs(t *testing.T) {
	a, _ := Normalize("https://Shop.example:443/p?b=1&a=2&utm_medium=x#f", StripTracking)
	b, _ := Normalize("https://shop.example/p?a=2&b=1", StripTracking)
	if Key(Desktop, a) != Key(Desktop, b) {
		t.Fatalf("keys differ: %q vs %q", Key(Desktop, a), Key(Desktop, b))
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"https://a.example/?utm_x=1&b=2", "http://[::1]:80/", "HTTP://X:443", "https://a/%zz?&&=", "http://a.b/c?d=%", "http://a/?_escaped_fragment_=%2F%3F%23&b", "http://a/#!x", "http://a/?x=\xff\x00", "http://0x7f.1./", "http://[::ffff:1.2.3.4]/", "http://0177.1:8/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := Normalize(raw, StripTracking)
		if err != nil {
			return
		}
		// Normalizing a normalized URL must be a fixed point, or keys would drift.
		again, err := Normalize(u.String(), StripTracking)
		if err != nil {
			t.Fatalf("normalized %q → %q no longer parses: %v", raw, u, err)
		}
		if again.String() != u.String() {
			t.Fatalf("not idempotent: %q → %q → %q", raw, u, again)
		}
		// The URL Chromium loads must lead to the same key as the request did, or a
		// recache of the stored URL would store under another key.
		load, err := Load(raw, StripTracking)
		if err != nil {
			t.Fatalf("Normalize accepted %q but Load refused it: %v", raw, err)
		}
		fromLoad, err := Normalize(load.String(), StripTracking)
		if err != nil {
			t.Fatalf("loaded %q → %q no longer parses: %v", raw, load, err)
		}
		if fromLoad.String() != u.String() {
			t.Fatalf("key of the loaded URL differs: %q → load %q → key %q, want %q", raw, load, fromLoad, u)
		}
	})
}
