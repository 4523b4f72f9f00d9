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

func mustPolicy(t *testing.T, allowPrivate bool, addrs ...string) *Policy {
	t.Helper()
	p, err := NewPolicy(allowPrivate, addrs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyAllowed(t *testing.T) {
	intranet := mustPolicy(t, false, "10.1.2.3:8080", "192.168.0.0/24", "fd00::7", "[fd00::8]:443")
	tests := []struct {
		name    string
		policy  *Policy
		addr    string
		allowed bool
	}{
		{"a public IPv4 address is allowed", nil, "93.184.216.34:443", true},
		{"a public IPv6 address is allowed", nil, "[2606:2800:220:1:248:1893:25c8:1946]:443", true},
		{"loopback is refused", nil, "127.0.0.1:80", false},
		{"all of 127/8 is loopback", nil, "127.0.0.2:80", false},
		{"IPv6 loopback is refused", nil, "[::1]:80", false},
		{"RFC 1918 10/8 is refused", nil, "10.0.0.1:80", false},
		{"RFC 1918 172.16/12 is refused", nil, "172.31.255.255:80", false},
		{"RFC 1918 192.168/16 is refused", nil, "192.168.1.1:80", false},
		{"link-local is refused", nil, "169.254.1.1:80", false},
		{"the metadata address is refused", nil, "169.254.169.254:80", false},
		{"AWS's IPv6 metadata address is refused", nil, "[fd00:ec2::254]:80", false},
		{"carrier-grade NAT (Alibaba's metadata) is refused", nil, "100.100.100.200:80", false},
		{"multicast is refused", nil, "224.0.0.1:80", false},
		{"IPv6 multicast is refused", nil, "[ff02::1]:80", false},
		{"the unspecified address is refused", nil, "0.0.0.0:80", false},
		{"the IPv6 unspecified address is refused", nil, "[::]:80", false},
		{"'this network' is refused", nil, "0.1.2.3:80", false},
		{"TEST-NET-1 is refused", nil, "192.0.2.1:80", false},
		{"TEST-NET-2 is refused", nil, "198.51.100.7:80", false},
		{"TEST-NET-3 is refused", nil, "203.0.113.9:80", false},
		{"benchmarking space is refused", nil, "198.18.0.1:80", false},
		{"the broadcast address is refused", nil, "255.255.255.255:80", false},
		{"unique-local IPv6 is refused", nil, "[fd12:3456::1]:80", false},
		{"IPv6 link-local is refused", nil, "[fe80::1]:80", false},
		{"an IPv4-mapped loopback is refused", nil, "[::ffff:127.0.0.1]:80", false},
		{"an IPv4-mapped public address is refused (Chromium never dials one)", nil, "[::ffff:93.184.216.34]:80", false},
		{"an IPv4-compatible loopback is refused", nil, "[::127.0.0.1]:80", false},
		{"NAT64 of loopback is refused", nil, "[64:ff9b::7f00:1]:80", false},
		{"local-use NAT64 is refused", nil, "[64:ff9b:1::a00:1]:80", false},
		{"6to4 of loopback is refused", nil, "[2002:7f00:1::]:80", false},
		{"IPv6 documentation space is refused", nil, "[2001:db8::1]:80", false},
		{"an allowed address and port passes", intranet, "10.1.2.3:8080", true},
		{"an allowed address on another port is refused", intranet, "10.1.2.3:8081", false},
		{"an address in an allowed CIDR passes on any port", intranet, "192.168.0.77:22", true},
		{"an address next to the allowed CIDR is refused", intranet, "192.168.1.1:80", false},
		{"an IPv4-mapped form of an allowed address passes", intranet, "[::ffff:192.168.0.5]:80", true},
		{"a bare allowed IPv6 address passes on any port", intranet, "[fd00::7]:9000", true},
		{"an allowed IPv6 address and port passes", intranet, "[fd00::8]:443", true},
		{"an allowed IPv6 address on another port is refused", intranet, "[fd00::8]:80", false},
		{"allow_addresses leaves loopback refused", intranet, "127.0.0.1:8080", false},
		{"allow_addresses leaves the metadata address refused", intranet, "169.254.169.254:80", false},
		{"allow_private allows loopback", Everything, "127.0.0.1:80", true},
		{"allow_private allows the metadata address", Everything, "169.254.169.254:80", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Allowed(netip.MustParseAddrPort(tc.addr))
			var rej *Rejection
			switch {
			case tc.allowed && err != nil:
				t.Fatalf("Allowed(%s) = %v, want allowed", tc.addr, err)
			case !tc.allowed && !errors.As(err, &rej):
				t.Fatalf("Allowed(%s) = %v, want a rejection", tc.addr, err)
			case !tc.allowed && rej.Reason != ReasonPrivateAddress:
				t.Fatalf("Allowed(%s) reason = %s", tc.addr, rej.Reason)
			}
			// The dial-time control applies the same rule.
			ap := netip.MustParseAddrPort(tc.addr)
			network := "tcp4"
			if ap.Addr().Is6() {
				network = "tcp6"
			}
			if cerr := tc.policy.Control(network, tc.addr, nil); (cerr == nil) != (err == nil) {
				t.Fatalf("Control(%s) = %v, Allowed = %v", tc.addr, cerr, err)
			}
		})
	}
}

func TestControlRefusesUDP(t *testing.T) {
	if err := (*Policy)(nil).Control("udp4", "93.184.216.34:53", nil); err == nil {
		t.Fatal("a UDP dial passed")
	}
}

func TestNewPolicyRefusesBadEntries(t *testing.T) {
	for _, bad := range []string{"", "10.1.2.3:0", "host.example:80", "10.0.0.0/33", "10.1.2.3:99999", "[fe80::1%eth0]:80", "::ffff:10.0.0.0/104", "10.1.2.3:8080:1"} {
		t.Run(bad+" is refused", func(t *testing.T) {
			_, err := NewPolicy(false, []string{"10.9.9.9:1", bad})
			if err == nil || !strings.Contains(err.Error(), "allow_addresses[1]") {
				t.Fatalf("NewPolicy(%q) = %v, want an error naming allow_addresses[1]", bad, err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	dns := fakeDNS{
		"public.example":   {"93.184.216.34"},
		"mixed.example":    {"93.184.216.34", "10.0.0.7"},
		"metadata.example": {"169.254.169.254"},
		"v6local.example":  {"::1"},
		"mapped.example":   {"::ffff:127.0.0.1"},
		"intranet.example": {"10.1.2.3"},
		"empty.example":    {},
	}
	intranet := mustPolicy(t, false, "10.1.2.3:8080")
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
		{"localhost is refused without DNS", Guard{}, "http://localhost/", ReasonPrivateAddress},
		{"localhost with a trailing dot is refused without DNS", Guard{}, "http://localhost./", ReasonPrivateAddress},
		{"a name under localhost is refused without DNS", Guard{}, "http://foo.localhost/", ReasonPrivateAddress},
		{"an upper-case name under localhost is refused", Guard{}, "http://A.LocalHost./", ReasonPrivateAddress},
		{"an unresolvable host is a DNS failure", Guard{}, "http://nowhere.example/", ReasonDNS},
		{"a host without addresses is a DNS failure", Guard{}, "http://empty.example/", ReasonDNS},
		{"allow_private lets loopback through", Guard{Policy: Everything}, "http://127.0.0.1/", ""},
		{"allow_addresses lets its address and port through", Guard{Policy: intranet}, "http://10.1.2.3:8080/", ""},
		{"allow_addresses lets a name of its address through", Guard{Policy: intranet}, "http://intranet.example:8080/", ""},
		{"allow_addresses refuses its address on the default port", Guard{Policy: intranet}, "http://intranet.example/", ReasonPrivateAddress},
		{"allow_addresses refuses other private addresses", Guard{Policy: intranet}, "http://10.1.2.4:8080/", ReasonPrivateAddress},
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

func TestPort(t *testing.T) {
	for raw, want := range map[string]uint16{"http://a/": 80, "https://a/": 443, "ws://a/": 80, "wss://a/": 443, "http://a:8080/": 8080, "https://[::1]:9/": 9} {
		u, _ := url.Parse(raw)
		if got := Port(u); got != want {
			t.Errorf("Port(%s) = %d, want %d", raw, got, want)
		}
	}
}

// FuzzNewPolicy: an allow_addresses entry from a config file either is refused
// with an error naming it, or allows at least the address it names.
func FuzzNewPolicy(f *testing.F) {
	for _, s := range []string{"10.1.2.3:8080", "192.168.0.0/24", "fd00::7", "[fd00::8]:443", "::ffff:10.0.0.0/104", "10.1.2.3:0", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		p, err := NewPolicy(false, []string{entry})
		if err != nil {
			if !strings.Contains(err.Error(), "allow_addresses[0]") {
				t.Fatalf("error does not name the entry: %v", err)
			}
			return
		}
		var ap netip.AddrPort
		if exact, err := netip.ParseAddrPort(strings.TrimSpace(entry)); err == nil {
			ap = exact
		} else if pf, err := netip.ParsePrefix(strings.TrimSpace(entry)); err == nil {
			ap = netip.AddrPortFrom(pf.Masked().Addr(), 80)
		} else if a, err := netip.ParseAddr(strings.TrimSpace(entry)); err == nil {
			ap = netip.AddrPortFrom(a, 80)
		} else {
			t.Fatalf("NewPolicy accepted %q, which is no address", entry)
		}
		if err := p.Allowed(ap); err != nil {
			t.Fatalf("the policy of %q refuses %s: %v", entry, ap, err)
		}
	})
}
