package target

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"prerenderd/cachekey"
)

// formCases is the measure of issue 11: every form in which a middleware or CDN
// sends a target, and the URL Chromium must load for it.
var formCases = []struct {
	name        string
	requestURI  string
	integration string // X-Prerender-Int-Type
	load        string // the URL Chromium loads
	key         string // the URL of the cache key; "" = the same as load
}{
	// As is: prerender-node and most middlewares.
	{"a URL sent as is is loaded as is", "/https://shop.example/p/1", "Node", "https://shop.example/p/1", ""},
	{"parameters keep their order for Chromium and are sorted in the key", "/https://shop.example/s?b=2&a=1", "Node", "https://shop.example/s?b=2&a=1", "https://shop.example/s?a=1&b=2"},
	{"tracking parameters are dropped", "/https://shop.example/s?utm_source=news&id=1&gclid=x", "Node", "https://shop.example/s?id=1", ""},
	{"%20 and an escaped non-ASCII query stay escaped", "/http://shop.example/search?q=a%20b&x=%E6%97%A5", "Node", "http://shop.example/search?q=a%20b&x=%E6%97%A5", ""},
	{"a plus stays a plus in path and query", "/http://shop.example/a+b?q=a+b", "Node", "http://shop.example/a+b?q=a+b", ""},
	{"an escaped ampersand in a value is not decoded", "/http://shop.example/s?q=a%26b&c=1", "Node", "http://shop.example/s?q=a%26b&c=1", "http://shop.example/s?c=1&q=a%26b"},
	{"an escaped percent in a value is not decoded", "/http://shop.example/s?q=a%2520b", "Node", "http://shop.example/s?q=a%2520b", ""},
	{"a non-ASCII path stays escaped", "/http://shop.example/caf%C3%A9", "Node", "http://shop.example/caf%C3%A9", ""},
	{"an escaped slash in the path is kept", "/http://shop.example/a%2Fb", "Node", "http://shop.example/a%2Fb", ""},
	{"an escaped percent in the path from a named middleware is not decoded", "/http://shop.example/100%2541", "Node", "http://shop.example/100%2541", ""},
	{"an escaped percent in the path that would decode to a stray percent is kept", "/http://shop.example/100%25-cotton", "", "http://shop.example/100%25-cotton", ""},
	{"a literal question mark means the URL came as is", "/http://shop.example/caf%25C3?x=1", "", "http://shop.example/caf%25C3?x=1", ""},
	{"a double slash collapsed by a proxy is repaired", "/https:/shop.example/p", "", "https://shop.example/p", ""},
	{"extra leading slashes are ignored", "//https://shop.example/p", "", "https://shop.example/p", ""},
	{"scheme and host are lowercased, the default port dropped", "/HTTPS://Shop.Example:443/P", "", "https://shop.example/P", ""},

	// Percent-encoded as a whole: decoded once, never twice.
	{"a percent-encoded URL is decoded once", "/https%3A%2F%2Fshop.example%2Fsearch%3Fq%3Da%2520b%26x%3D%25E6%2597%25A5", "", "https://shop.example/search?q=a%20b&x=%E6%97%A5", ""},
	{"a percent-encoded URL in lower case is decoded once", "/http%3a%2f%2fshop.example%2fcaf%25C3%25A9", "", "http://shop.example/caf%C3%A9", ""},
	{"an escaped ampersand inside a percent-encoded URL stays escaped", "/http%3A%2F%2Fshop.example%2Fs%3Fq%3Da%2526b", "", "http://shop.example/s?q=a%26b", ""},
	{"a percent-encoded hash-bang URL keeps its fragment", "/http%3A%2F%2Fshop.example%2F%23!%2Fp%2F1", "", "http://shop.example/#!/p/1", ""},
	{"a percent-encoded # that is not a hash-bang stays in the path", "/http%3A%2F%2Fshop.example%2Fa%23b", "", "http://shop.example/a%23b", ""},

	// nginx: prerender.io's "rewrite .* /$scheme://$host$request_uri? break;".
	{"nginx: an escaped query is decoded once", "/http://shop.example/search%3Fq=a%2520b&x=%25E6%2597%25A5", "Nginx", "http://shop.example/search?q=a%20b&x=%E6%97%A5", ""},
	{"nginx: the escaped form is recognized without the header", "/http://shop.example/search%3Fq=a%2520b&x=%25E6%2597%25A5", "", "http://shop.example/search?q=a%20b&x=%E6%97%A5", ""},
	{"nginx: a non-ASCII path renders the path, not its escape", "/http://shop.example/caf%25C3%25A9", "Nginx", "http://shop.example/caf%C3%A9", ""},
	{"nginx: a non-ASCII path without the header too", "/http://shop.example/caf%25C3%25A9", "", "http://shop.example/caf%C3%A9", ""},
	{"nginx: a plus and escaped reserved characters survive", "/http://shop.example/search%3Fq=a+b&c=%2526%253D", "Nginx", "http://shop.example/search?q=a+b&c=%26%3D", "http://shop.example/search?c=%26%3D&q=a+b"},
	{"nginx: raw UTF-8 arguments nginx escaped once are loaded escaped", "/http://shop.example/raw%25c3%25a9%3Fq=%E6%97%A5", "Nginx", "http://shop.example/raw%c3%a9?q=%E6%97%A5", ""},
	{"nginx: arguments appended as they came (no trailing ? in the rewrite) are not decoded twice", "/http://shop.example/search%3Fq=a%2520b?q=a%20b", "", "http://shop.example/search?q=a%20b", ""},
	{"nginx: an escaped escape in the path stays one escape", "/http://shop.example/a%252Fb", "Nginx", "http://shop.example/a%2Fb", ""},
	{"nginx: a stray percent the crawler sent is kept", "/http://shop.example/p%2525zz", "Nginx", "http://shop.example/p%25zz", ""},
	{"nginx: an escaped fragment becomes its hash-bang URL", "/http://shop.example/%3F_escaped_fragment_=/p%253Fx=1", "Nginx", "http://shop.example/#!/p?x=1", ""},

	// The AJAX crawling scheme.
	{"_escaped_fragment_ loads the hash-bang URL", "/http://shop.example/?_escaped_fragment_=/products/1", "Node", "http://shop.example/#!/products/1", ""},
	{"_escaped_fragment_ keeps the other parameters", "/http://shop.example/app?lang=en&_escaped_fragment_=key%3Dvalue", "Node", "http://shop.example/app?lang=en#!key=value", ""},
	{"an empty _escaped_fragment_ loads the page without it", "/http://shop.example/?_escaped_fragment_=", "Node", "http://shop.example/", ""},
	{"Bing's ?&_escaped_fragment_= loads the page without it", "/http://shop.example/?&_escaped_fragment_=", "", "http://shop.example/", ""},

	// /render?url=
	{"render: an encoded url is decoded once", "/render?url=https%3A%2F%2Fshop.example%2Fs%3Fq%3Da%2520b", "", "https://shop.example/s?q=a%20b", ""},
	{"render: an unencoded url keeps its own parameters", "/render?url=https://shop.example/s?q=1&page=2", "", "https://shop.example/s?q=1&page=2", "https://shop.example/s?page=2&q=1"},
	{"render: render options after an unencoded url are not the page's", "/render?url=https://shop.example/s?q=1&page=2&renderType=html", "", "https://shop.example/s?q=1&page=2", "https://shop.example/s?page=2&q=1"},
	{"render: format after an unencoded url is /render's, not the page's", "/render?url=https://shop.example/s?q=1&format=markdown", "", "https://shop.example/s?q=1", ""},
	{"render: a page's own format parameter comes through in an encoded url", "/render?url=https%3A%2F%2Fshop.example%2Fs%3Fformat%3Dgrid&format=markdown", "", "https://shop.example/s?format=grid", ""},
	{"render: an encoded plus is a plus", "/render?renderType=html&url=https%3A%2F%2Fshop.example%2Fa%2Bb", "", "https://shop.example/a+b", ""},
	{"render: an unencoded plus is a plus", "/render?url=https://shop.example/a+b", "", "https://shop.example/a+b", ""},
	{"render: a plus in an encoded url is a space", "/render?url=http%3A%2F%2Fshop.example%2Fs%3Fq%3Da+b", "", "http://shop.example/s?q=a%20b", ""},
}

func TestEveryFormLoadsTheURLTheCrawlerAskedFor(t *testing.T) {
	for _, tc := range formCases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Parse(tc.requestURI, tc.integration, cachekey.StripTracking)
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", tc.requestURI, tc.integration, err)
			}
			if got := u.Load.String(); got != tc.load {
				t.Errorf("Chromium loads %q, want %q", got, tc.load)
			}
			key := tc.key
			if key == "" {
				key = tc.load
			}
			if got := u.Key.String(); got != key {
				t.Errorf("key URL %q, want %q", got, key)
			}
		})
	}
}

func TestBadTargetsAreRefused(t *testing.T) {
	for name, uri := range map[string]string{
		"a path that is no URL":             "/notaurl",
		"an ftp URL":                        "/ftp://shop.example/",
		"a URL without a host":              "/https://",
		"credentials":                       "/http://user:pw@shop.example/",
		"a broken escape in an encoded URL": "/https%3A%2F%2Fshop.example%2F%zz",
		"render without a url":              "/render",
		"render with other parameters only": "/render?renderType=html",
		"render with an empty url":          "/render?url=",
		"render with a relative url":        "/render?url=/p/1",
		"render with a broken escape":       "/render?url=https%3A%2F%2Fshop%zz",
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			if _, err := Parse(uri, "", cachekey.StripTracking); !errors.Is(err, cachekey.ErrBadURL) {
				t.Fatalf("Parse(%q) error = %v, want ErrBadURL", uri, err)
			}
		})
	}
}

// encodeAll escapes every byte but the unreserved ones, as encodeURIComponent does.
func encodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
	}
	return b.String()
}

// nginxEscape escapes a request URI as nginx's rewrite does for $request_uri: "%"
// and "?" and what is not printable ASCII.
func nginxEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c == '?' || c <= ' ' || c >= 0x7f || c == '"' || c == '#' {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func FuzzParse(f *testing.F) {
	for _, tc := range formCases {
		f.Add(tc.requestURI, tc.integration)
	}
	f.Add("/http://a/%", "")
	f.Add("/http://a/%3F%25%", "nginx")
	f.Add("/render?url=http://a/?&&url=", "")
	f.Fuzz(func(t *testing.T, requestURI, integration string) {
		u, err := Parse(requestURI, integration, cachekey.StripTracking)
		if err != nil {
			if !errors.Is(err, cachekey.ErrBadURL) {
				t.Fatalf("Parse(%q, %q) error %v does not wrap ErrBadURL", requestURI, integration, err)
			}
		} else {
			// Loading the loaded URL again (a recache) must load it unchanged and
			// land on the same key.
			again, err := Resolve(u.Load.String(), cachekey.StripTracking)
			if err != nil {
				t.Fatalf("loaded URL %q of %q does not resolve: %v", u.Load, requestURI, err)
			}
			if again.Load.String() != u.Load.String() || again.Key.String() != u.Key.String() {
				t.Fatalf("%q: load %q key %q, reloaded: load %q key %q", requestURI, u.Load, u.Key, again.Load, again.Key)
			}
		}
		// A page URI as a crawler sent it, sent in each form, loads one URL.
		if !strings.HasPrefix(requestURI, "/") || strings.ContainsAny(requestURI, "#") {
			return
		}
		target := "http://shop.example" + requestURI
		direct, err := Parse("/"+target, "Node", cachekey.StripTracking)
		if err != nil {
			return
		}
		encoded, err := Parse("/"+encodeAll(target), "", cachekey.StripTracking)
		if err != nil || encoded.Load.String() != direct.Load.String() {
			t.Fatalf("%q percent-encoded loads %v (%v), as is %q", target, encoded.Load, err, direct.Load)
		}
		nginx, err := Parse("/"+nginxEscape(target), "Nginx", cachekey.StripTracking)
		if err != nil || nginx.Load.String() != direct.Load.String() && !sameEscaped(nginx.Load.String(), direct.Load.String()) {
			t.Fatalf("%q escaped by nginx loads %v (%v), as is %q", target, nginx.Load, err, direct.Load)
		}
		if wellEscaped(target) {
			guessed, err := Parse("/"+nginxEscape(target), "", cachekey.StripTracking)
			if err != nil || guessed.Load.String() != nginx.Load.String() && !sameEscaped(guessed.Load.String(), nginx.Load.String()) {
				t.Fatalf("%q escaped by nginx, without the header, loads %v (%v), with it %q", target, guessed.Load, err, nginx.Load)
			}
		}
	})
}

// sameEscaped: nginx escapes raw bytes that a crawler may send unescaped (a
// space, "!" after one), and Go's URL writer escapes a path in its own way; the
// two URLs name one page when they decode alike.
func sameEscaped(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return false
	}
	qa, errA := url.PathUnescape(ua.RawQuery)
	qb, errB := url.PathUnescape(ub.RawQuery)
	return errA == nil && errB == nil && ua.Path == ub.Path && qa == qb && ua.Fragment == ub.Fragment
}
