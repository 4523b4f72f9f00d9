package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"code.dny.dev/ssrf"
)

// Reason values a client sees in X-Prerender-Reject-Reason.
const (
	ReasonHostNotAllowed = "host-not-allowed"
	ReasonPrivateAddress = "private-address"
	ReasonDNS            = "dns-failure"
)

// EgressHeader is set, with the reason as its value, on every answer the egress
// proxy makes itself (a refusal, a failed dial), so the browser can tell the
// proxy's answer from an origin's. An origin can send it too: it is a trigger
// to ask the proxy, never a proof.
const EgressHeader = "X-Prerender-Egress"

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

// public decides what "public" means: the IANA special-purpose registries for IPv4
// and IPv6, kept in sync by the library (loopback, RFC 1918, link-local and with
// it the 169.254.169.254 metadata address, CGNAT, multicast, unspecified,
// TEST-NET, benchmarking, reserved), and every IPv6 address outside global unicast
// 2000::/3, which covers ::1, fc00::/7 (the fd00:ec2::254 metadata address),
// IPv4-mapped and IPv4-compatible forms, and NAT64 64:ff9b::/96; 6to4 2002::/16 is
// denied inside 2000::/3. A hand-kept list drifts from the registries; this one
// is generated from them.
var public = ssrf.New(ssrf.WithAnyPort(), ssrf.WithNetworks("tcp4", "tcp6"))

// Policy is the address rule: public addresses pass, others only when allowed.
// The zero value (and a nil *Policy) refuses every non-public address. It is safe
// for concurrent use.
type Policy struct {
	allowPrivate bool
	exact        []netip.AddrPort
	prefixes     []netip.Prefix
}

// Everything is the policy of security.allow_private = true.
var Everything = &Policy{allowPrivate: true}

// NewPolicy builds the policy of security.allow_private and
// security.allow_addresses. An entry of allowAddresses is an exact address and
// port ("10.1.2.3:8080", "[fd00::1]:8080"), a CIDR ("192.168.0.0/24") or a
// bare address ("10.1.2.3", every port); the error names a bad entry.
func NewPolicy(allowPrivate bool, allowAddresses []string) (*Policy, error) {
	p := &Policy{allowPrivate: allowPrivate}
	for i, s := range allowAddresses {
		s = strings.TrimSpace(s)
		if ap, err := netip.ParseAddrPort(s); err == nil {
			if ap.Addr().Zone() != "" || ap.Port() == 0 {
				return nil, fmt.Errorf("allow_addresses[%d] %q: want an address with a port other than 0 and without a zone", i, s)
			}
			p.exact = append(p.exact, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
			continue
		}
		if pf, err := netip.ParsePrefix(s); err == nil {
			if pf.Addr().Is4In6() {
				return nil, fmt.Errorf("allow_addresses[%d] %q: write an IPv4 network in its IPv4 form", i, s)
			}
			p.prefixes = append(p.prefixes, pf.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			a = a.Unmap()
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		return nil, fmt.Errorf("allow_addresses[%d] %q: want an address and port (\"10.1.2.3:8080\", \"[fd00::1]:8080\"), a CIDR (\"192.168.0.0/24\") or an address", i, s)
	}
	return p, nil
}

// AllowsPrivate reports whether the policy lets every address through
// (security.allow_private).
func (p *Policy) AllowsPrivate() bool { return p != nil && p.allowPrivate }

// Allowed returns nil when ap may be connected to, else a *Rejection with
// ReasonPrivateAddress.
func (p *Policy) Allowed(ap netip.AddrPort) error {
	if p != nil {
		if p.allowPrivate {
			return nil
		}
		a := ap.Addr().Unmap()
		for _, e := range p.exact {
			if e.Addr() == a && e.Port() == ap.Port() {
				return nil
			}
		}
		for _, pf := range p.prefixes {
			if pf.Contains(a) {
				return nil
			}
		}
	}
	if err := public.SafeAddr(ap.Addr()); err != nil {
		return &Rejection{Reason: ReasonPrivateAddress, Detail: fmt.Sprintf("%s is not a public address%s", ap, allowHint)}
	}
	return nil
}

// allowHint ends a refusal with the keys that allow an address, for the user who
// points prerenderd at a dev server on this machine or at an intranet.
const allowHint = `; to render a site on this machine or your network (local development, an intranet), list its address in security.allow_addresses (e.g. "127.0.0.1:8080", "10.0.0.0/8"), or set security.allow_private = true to allow every private address`

// AllowedAll checks every address a host resolved to: a name with one public and
// one private address is refused, since either may be dialled. host names the
// host in the refusal.
func (p *Policy) AllowedAll(host string, addrs []netip.Addr, port uint16) error {
	if len(addrs) == 0 {
		return &Rejection{Reason: ReasonDNS, Detail: fmt.Sprintf("%q has no address", host)}
	}
	for _, a := range addrs {
		if err := p.Allowed(netip.AddrPortFrom(a, port)); err != nil {
			var rej *Rejection
			if errors.As(err, &rej) && host != a.String() {
				rej.Detail = fmt.Sprintf("%q resolves to %s, a non-public address%s", host, netip.AddrPortFrom(a, port), allowHint)
			}
			return err
		}
	}
	return nil
}

// Control is a net.Dialer Control function: it refuses, at dial time, a
// connection to an address the policy does not allow, whatever name led to it.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return &Rejection{Reason: ReasonPrivateAddress, Detail: fmt.Sprintf("network %s is not allowed", network)}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &Rejection{Reason: ReasonPrivateAddress, Detail: fmt.Sprintf("cannot parse dialled address %q", address)}
	}
	return p.Allowed(ap)
}

// localhostAddrs are what Chromium and the WHATWG URL standard make of
// "localhost" and any name under it, without asking DNS.
var localhostAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}

// IsLocalhost reports whether host is localhost or a name under it, with or
// without a trailing dot.
func IsLocalhost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// Resolve returns the addresses host stands for: itself when it is an IP literal
// (brackets allowed), loopback for localhost names, else what r (nil = the
// system's resolver) answers. An error is a *Rejection with ReasonDNS.
func Resolve(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return nil, &Rejection{Reason: ReasonPrivateAddress, Detail: fmt.Sprintf("%q names a link-local zone", host)}
		}
		return []netip.Addr{a}, nil
	}
	if IsLocalhost(h) {
		return localhostAddrs, nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", h)
	if err != nil {
		return nil, &Rejection{Reason: ReasonDNS, Detail: fmt.Sprintf("cannot resolve %q: %v", h, err)}
	}
	if len(addrs) == 0 {
		return nil, &Rejection{Reason: ReasonDNS, Detail: fmt.Sprintf("%q has no address", h)}
	}
	return addrs, nil
}

// Guard is the request-time check of a page URL: the host list, then the address
// rule after DNS. It answers fast, before a tab is taken; the egress proxy applies
// the same Policy again to every address Chromium dials.
type Guard struct {
	// Policy is the address rule; nil refuses every non-public address.
	Policy *Policy
	// AllowHosts, when not empty, lists the only hosts that may be rendered: an exact
	// host ("shop.example") or a wildcard for subdomains ("*.shop.example").
	AllowHosts []string
	Resolver   Resolver
}

// Check returns nil when u may be fetched, or a *Rejection. u should be
// normalized (cachekey.Normalize): its host is then in the canonical form
// Chromium loads, every numeric IPv4 form written as a dotted quad.
func (g *Guard) Check(ctx context.Context, u *url.URL) error {
	host := strings.ToLower(u.Hostname())
	if !g.hostAllowed(host) {
		return &Rejection{Reason: ReasonHostNotAllowed, Detail: fmt.Sprintf("host %q is not in security.allow_hosts", host)}
	}
	if g.Policy.AllowsPrivate() {
		return nil
	}
	addrs, err := Resolve(ctx, g.Resolver, host)
	if err != nil {
		return err
	}
	return g.Policy.AllowedAll(host, addrs, Port(u))
}

// Port is the port u connects to: its own, or its scheme's default.
func Port(u *url.URL) uint16 {
	if p := u.Port(); p != "" {
		n, _ := strconv.ParseUint(p, 10, 16)
		return uint16(n)
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "wss":
		return 443
	}
	return 80
}

func (g *Guard) hostAllowed(host string) bool {
	if len(g.AllowHosts) == 0 {
		return true
	}
	host = strings.TrimSuffix(host, ".")
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
