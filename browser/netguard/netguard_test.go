package netguard

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

type fakeDNS map[string][]string

func (f fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ss, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestCheck(t *testing.T) {
	dns := fakeDNS{
		"public.example":   {"93.184.216.34"},
		"mixed.example":    {"93.184.216.34", "10.0.0.7"},
		"metadata.example": {"169.254.169.254"},
		"v6local.example":  {"::1"},
		"mapped.example":   {"::ffff:127.0.0.1"},
	}
	tests := []struct {
		name   string
		guard  Guard
		url    string
		reason string // "" = allowed
	}{
		{"a public host is allowed", Guard{}, "https://public.example/", ""},
		{"a loopback literal is refused", Guard{}, "http://127.0.0.1:3000/", ReasonPrivateAddress},
		{"an RFC 1918 literal is refused", Guard{}, "http://192.168.1.1/", ReasonPrivateAddress},
		{"the metadata address is refused", Guard{}, "http://169.254.169.254/latest/meta-data/", ReasonPrivateAddress},
		{"a name resolving to metadata is refused", Guard{}, "http://metadata.example/", ReasonPrivateAddress},
		{"a name with one private address among public ones is refused", Guard{}, "http://mixed.example/", ReasonPrivateAddress},
		{"an IPv6 loopback name is refused", Guard{}, "http://v6local.example/", ReasonPrivateAddress},
		{"an IPv4-mapped loopback is refused", Guard{}, "http://mapped.example/", ReasonPrivateAddress},
		{"an IPv6 literal loopback is refused", Guard{}, "http://[::1]/", ReasonPrivateAddress},
		{"carrier-grade NAT is refused", Guard{}, "http://100.64.1.1/", ReasonPrivateAddress},
		{"the unspecified address is refused", Guard{}, "http://0.0.0.0/", ReasonPrivateAddress},
		{"an unresolvable host is a DNS failure", Guard{}, "http://nowhere.example/", ReasonDNS},
		{"allow_private lets loopback through", Guard{AllowPrivate: true}, "http://127.0.0.1/", ""},
		{"a host outside allow_hosts is refused", Guard{AllowHosts: []string{"shop.example"}}, "https://public.example/", ReasonHostNotAllowed},
		{"a wildcard allows a subdomain", Guard{AllowHosts: []string{"*.example"}}, "https://public.example/", ""},
		{"allow_hosts still refuses private addresses", Guard{AllowHosts: []string{"v6local.example"}}, "http://v6local.example/", ReasonPrivateAddress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.guard
			g.Resolver = dns
			u, _ := url.Parse(tc.url)
			err := g.Check(context.Background(), u)
			var rej *Rejection
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("Check(%s) = %v, want allowed", tc.url, err)
			case tc.reason != "" && !errors.As(err, &rej):
				t.Fatalf("Check(%s) = %v, want rejection %s", tc.url, err, tc.reason)
			case tc.reason != "" && rej.Reason != tc.reason:
				t.Fatalf("Check(%s) reason = %s, want %s", tc.url, rej.Reason, tc.reason)
			}
		})
	}
}

func TestAPrivateAddressRefusalNamesTheKeyThatAllowsIt(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:8080/")
	err := (&Guard{}).Check(context.Background(), u)
	if err == nil || !strings.Contains(err.Error(), "security.allow_private = true") {
		t.Fatalf("Check(%s) = %v; want a hint naming security.allow_private", u, err)
	}
}
