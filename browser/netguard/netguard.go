// Package netguard decides whether prerenderd may fetch a URL at all: it refuses hosts
// outside an allow list and, after DNS, any address on a private, loopback, link-local
// or metadata network. It never fetches anything itself.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Reason values a client sees in X-Prerender-Reject-Reason.
const (
	ReasonHostNotAllowed = "host-not-allowed"
	ReasonPrivateAddress = "private-address"
	ReasonDNS            = "dns-failure"
)

// Rejection is a typed refusal, so the HTTP layer can map it to a status in one place.
type Rejection struct {
	Reason string
	Detail string
}

func (r *Rejection) Error() string { return "url refused (" + r.Reason + "): " + r.Detail }

// Resolver is the part of net.Resolver the guard needs; tests may give their own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard holds the policy. The zero value refuses private addresses and allows any host.
type Guard struct {
	AllowPrivate bool
	// AllowHosts, when not empty, lists the only hosts that may be rendered: an exact
	// host ("shop.example") or a wildcard for subdomains ("*.shop.example").
	AllowHosts []string
	Resolver   Resolver
}

// Check returns nil when u may be fetched, or a *Rejection.
func (g *Guard) Check(ctx context.Context, u *url.URL) error {
	host := strings.ToLower(u.Hostname())
	if !g.hostAllowed(host) {
		return &Rejection{Reason: ReasonHostNotAllowed, Detail: fmt.Sprintf("host %q is not in security.allow_hosts", host)}
	}
	if g.AllowPrivate {
		return nil
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		r := g.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return &Rejection{Reason: ReasonDNS, Detail: fmt.Sprintf("cannot resolve %q: %v", host, err)}
		}
		if len(addrs) == 0 {
			return &Rejection{Reason: ReasonDNS, Detail: fmt.Sprintf("%q has no address", host)}
		}
	}
	// Every address counts: a name with one public and one private address could be
	// dialled on either.
	for _, a := range addrs {
		if IsPrivate(a) {
			return &Rejection{Reason: ReasonPrivateAddress, Detail: fmt.Sprintf("%q resolves to %s, a non-public address; to render a site on this machine or your network (local development, an intranet), set security.allow_private = true", host, a)}
		}
	}
	return nil
}

func (g *Guard) hostAllowed(host string) bool {
	if len(g.AllowHosts) == 0 {
		return true
	}
	for _, h := range g.AllowHosts {
		h = strings.ToLower(h)
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			if host == suffix || strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),         // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),     // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),       // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),    // local-use NAT64
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS metadata over IPv6 (also ULA; explicit for the reader)
}

// IsPrivate reports whether a is loopback, private, link-local (which holds the cloud
// metadata address 169.254.169.254), multicast, unspecified or otherwise not a public
// unicast address.
func IsPrivate(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
