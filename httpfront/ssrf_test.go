package httpfront

import (
	"net"
	"testing"

	"prerenderd/browser/fixture"
)

// TestEveryFormOfAPrivateAddressIsRefusedBeforeARender: the request-time check
// sees the host as Chromium would load it, so every spelling of a private
// address is a 403 private-address, not a DNS failure and not a render.
func TestEveryFormOfAPrivateAddressIsRefusedBeforeARender(t *testing.T) {
	guarded := newFront(t, Config{}).URL
	for _, tc := range []struct{ name, url string }{
		{"a decimal IPv4 loopback", "http://2130706433/"},
		{"an octal IPv4 loopback", "http://0177.0.0.1/"},
		{"a hex IPv4 loopback with a short form", "http://0x7f.1/"},
		{"a short IPv4 loopback", "http://127.1/"},
		{"a loopback with a trailing dot", "http://127.0.0.1./"},
		{"another address of 127/8", "http://127.0.0.2:8080/"},
		{"localhost with a trailing dot", "http://localhost./"},
		{"a name under localhost", "http://foo.localhost/"},
		{"a name under localhost with a trailing dot", "http://foo.localhost./"},
		{"the unspecified address as 0", "http://0/"},
		{"the unspecified address", "http://0.0.0.0:8080/"},
		{"an IPv4-compatible IPv6 loopback", "http://[::127.0.0.1]/"},
		{"an IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]/"},
		{"an IPv4-mapped IPv6 loopback in hex", "http://[::ffff:7f00:1]/"},
		{"NAT64 of loopback", "http://[64:ff9b::7f00:1]/"},
		{"6to4 of loopback", "http://[2002:7f00:1::]/"},
		{"the IPv6 unspecified address", "http://[::]/"},
		{"the metadata address in decimal", "http://2852039166/latest/meta-data/"},
		{"the metadata address in hex", "http://0xa9fea9fe/latest/meta-data/"},
		{"AWS's IPv6 metadata address", "http://[fd00:ec2::254]/"},
		{"carrier-grade NAT", "http://100.64.0.1/"},
		{"TEST-NET-2", "http://198.51.100.7/"},
		{"an RFC 1918 address in octal", "http://012.0.0.1/"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			a := get(t, guarded, tc.url)
			if a.status != 403 || a.header.Get("X-Prerender-Reject-Reason") != "private-address" {
				t.Fatalf("%s: %d %q, want 403 private-address (%s)", tc.url, a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
			}
		})
	}
}

// TestEverySpellingOfAnAllowedAddressIsOnePage: security.allow_addresses lets
// an origin through in any form, and all forms share one cache key.
func TestEverySpellingOfAnAllowedAddressIsOnePage(t *testing.T) {
	origin := fixture.New(t)
	_, port, _ := net.SplitHostPort(origin.URL[len("http://"):])
	front := newFront(t, Config{Policy: loopbackOrigins}).URL
	first := get(t, front, "http://0x7f.1:"+port+"/product?spelling=1")
	if first.status != 200 || first.header.Get("X-Prerender-Cache") != "MISS" {
		t.Fatalf("first: %d %s %s", first.status, first.header.Get("X-Prerender-Cache"), first.header.Get("X-Prerender-Reject-Reason"))
	}
	for _, u := range []string{"http://127.0.0.1:" + port + "/product?spelling=1", "http://2130706433:" + port + "/product?spelling=1", "http://127.1:" + port + "/product?spelling=1"} {
		if a := get(t, front, u); a.status != 200 || a.header.Get("X-Prerender-Cache") != "HIT" || a.body != first.body {
			t.Fatalf("%s: %d %s, same body %v", u, a.status, a.header.Get("X-Prerender-Cache"), a.body == first.body)
		}
	}
	if n := origin.Hits("/product"); n != 1 {
		t.Fatalf("the origin served the page %d times, want once", n)
	}
}

// TestAnOriginTheEgressCannotReachIsANavigationFailure: a dial that fails in
// the proxy is the origin's failure (504 navigation-failed), not a page of the
// proxy's and not a refusal.
func TestAnOriginTheEgressCannotReachIsANavigationFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	front := newFront(t, Config{Policy: loopbackOrigins}).URL
	for _, u := range []string{"http://" + closed + "/", "https://" + closed + "/"} {
		a := get(t, front, u)
		if a.status != 504 || a.header.Get("X-Prerender-Reject-Reason") != "navigation-failed" {
			t.Errorf("%s: %d %q, want 504 navigation-failed (%.200s)", u, a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
		}
	}
}
