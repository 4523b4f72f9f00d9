package cachekey

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// StripMode says which query parameters do not take part in the key.
type StripMode string

const (
	// StripTracking drops tracking parameters (utm_*, gclid, …) and keeps the rest.
	StripTracking StripMode = "tracking"
	// StripAll drops the whole query string (RndrKit's rule).
	StripAll StripMode = "all"
	// StripNone keeps every parameter.
	StripNone StripMode = "none"
)

// ParseStripMode checks a configured mode.
func ParseStripMode(s string) (StripMode, error) {
	switch m := StripMode(s); m {
	case StripTracking, StripAll, StripNone:
		return m, nil
	}
	return "", fmt.Errorf("unknown strip mode %q (want tracking, all or none)", s)
}

// Variant of a rendered page; part of every key.
const (
	Desktop = "desktop"
	Mobile  = "mobile"
)

// ErrBadURL is wrapped by every error Normalize returns.
var ErrBadURL = errors.New("bad url")

// maxURLLen bounds what we accept; browsers and CDNs cut far below this anyway.
const maxURLLen = 8192

// Load returns the URL Chromium loads for raw, the URL a crawler asked for: its
// path and its parameters in their order, with the scheme and host lowercased (an IP host in the form Chromium loads it,
// CanonicalHost), no
// default port, tracking parameters dropped (or all of the query, per mode), bytes a
// browser escapes in a query escaped, and, as the npm prerender server does for the
// AJAX crawling scheme, an _escaped_fragment_ parameter turned into the #! fragment
// it stands for ("/?_escaped_fragment_=/p" loads "/#!/p"; an empty one is dropped).
// A #! fragment is kept: it names a page of a hash-bang app. Any other fragment is
// dropped: a crawler never sends one.
func Load(raw string, mode StripMode) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadURL)
	}
	if len(raw) > maxURLLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadURL, maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q is not http or https", ErrBadURL, u.Scheme)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("%w: not an absolute http(s) URL", ErrBadURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL are not accepted", ErrBadURL)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return nil, fmt.Errorf("%w: no host", ErrBadURL)
	}
	host, err = CanonicalHost(host)
	if err != nil {
		return nil, err
	}
	if err := checkHost(host); err != nil {
		return nil, err
	}
	port := u.Port()
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: port %q is not between 1 and 65535", ErrBadURL, port)
		}
	}
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	if !strings.HasPrefix(u.Fragment, "!") {
		u.Fragment = ""
	}
	u.RawFragment = ""
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	var hashbang string
	u.RawQuery, hashbang = keepQuery(u.RawQuery, mode)
	if hashbang != "" {
		u.Fragment = hashbang
	}
	u.ForceQuery = false
	return u, nil
}

// Normalize returns the canonical form of raw, the URL of its cache key: Load's
// URL with the remaining parameters sorted by name, so that one page asked for
// with its parameters in another order is one key.
func Normalize(raw string, mode StripMode) (*url.URL, error) {
	u, err := Load(raw, mode)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		sort.SliceStable(parts, func(i, j int) bool { return paramName(parts[i]) < paramName(parts[j]) })
		u.RawQuery = strings.Join(parts, "&")
	}
	return u, nil
}

// CanonicalHost writes an IP host the way Chromium and the WHATWG URL standard
// do, so that every spelling of one address is one cache key and the address
// check sees the address Chromium will load: a host whose last label is a number
// ("2130706433", "0177.0.0.1", "0x7f.1", "127.1", "127.0.0.1.") is an IPv4
// address, written as a dotted quad, or a bad URL when it is not a valid one
// ("256.1.1.1", "1.2.3.4.5"); an IPv6 host is written compressed and in
// lowercase hex, an embedded IPv4 address too ("::127.0.0.1" is "::7f00:1").
// Any other host is returned as it is. host is lowercase, without brackets.
func CanonicalHost(host string) (string, error) {
	if strings.Contains(host, ":") {
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("%w: bad IPv6 address %q", ErrBadURL, host)
		}
		if a.Is4In6() {
			b := a.As16()
			return fmt.Sprintf("::ffff:%x:%x", uint16(b[12])<<8|uint16(b[13]), uint16(b[14])<<8|uint16(b[15])), nil
		}
		return a.String(), nil
	}
	if !endsInNumber(host) {
		return host, nil
	}
	a, ok := parseIPv4(host)
	if !ok {
		return "", fmt.Errorf("%w: host %q ends in a number but is not an IPv4 address", ErrBadURL, host)
	}
	return a.String(), nil
}

// endsInNumber is the WHATWG "ends in a number" test: the last label (after a
// trailing dot is dropped) is all digits or a 0x hex number.
func endsInNumber(host string) bool {
	parts := strings.Split(host, ".")
	if parts[len(parts)-1] == "" {
		if len(parts) == 1 {
			return false
		}
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := ipv4Number(last)
	return ok
}

// parseIPv4 is the WHATWG IPv4 parser: one to four numbers, each decimal, octal
// (leading 0) or hex (0x); all but the last at most 255, the last filling the
// bytes left.
func parseIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if parts[len(parts)-1] == "" && len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := ipv4Number(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		v += n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// ipv4Number parses one part of an IPv4 host; a value past 64 bits fails,
// which no address can be anyway.
func ipv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" {
		return 0, true
	}
	// ParseUint would take a sign or underscores; the standard takes digits only.
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(s[i] >= '0' && s[i] <= '9' || base == 16 && c >= 'a' && c <= 'f') {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, base, 64)
	return n, err == nil
}

// checkHost refuses hosts a browser would refuse, so they fail here with a 400 and
// not later as a failed render.
func checkHost(host string) error {
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%w: bad IPv6 address %q", ErrBadURL, host)
		}
		return nil
	}
	if len(host) > 253 {
		return fmt.Errorf("%w: host longer than 253 bytes", ErrBadURL)
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%w: bad host %q", ErrBadURL, host)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
				return fmt.Errorf("%w: bad character %q in host %q", ErrBadURL, c, host)
			}
		}
	}
	return nil
}

// escapedFragment is the parameter of Google's AJAX crawling scheme that carries
// a #! fragment.
const escapedFragment = "_escaped_fragment_"

// keepQuery returns the parameters of raw that take part in the URL, in their
// order, and the #! fragment an _escaped_fragment_ parameter stands for ("" when
// there is none, it is empty, or it is repeated, as the npm server has it).
// It splits by hand instead of url.ParseQuery: a parameter that does not decode
// must survive untouched rather than vanish.
func keepQuery(raw string, mode StripMode) (query, hashbang string) {
	if raw == "" {
		return "", ""
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	fragments := 0
	for _, p := range parts {
		if p == "" {
			continue
		}
		if paramName(p) == escapedFragment {
			fragments++
			_, v, _ := strings.Cut(p, "=")
			if dec, err := url.QueryUnescape(v); err == nil {
				v = dec
			}
			hashbang = v
			continue
		}
		if mode == StripAll || (mode == StripTracking && isTracking(p)) {
			continue
		}
		kept = append(kept, escapeQuery(p))
	}
	if fragments != 1 || hashbang == "" {
		hashbang = ""
	} else {
		hashbang = "!" + hashbang
	}
	return strings.Join(kept, "&"), hashbang
}

// escapeQuery escapes the bytes that a browser escapes in a query before it
// sends it (controls, space, quotes, angle brackets, non-ASCII), so that the
// query written with raw UTF-8 and the one written with escapes are one key.
func escapeQuery(p string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(p); i++ {
		if queryEscapes(p[i]) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	b := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if queryEscapes(c) {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func queryEscapes(c byte) bool {
	return c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '<' || c == '>'
}

func paramName(p string) string {
	name, _, _ := strings.Cut(p, "=")
	if n, err := url.QueryUnescape(name); err == nil {
		return n
	}
	return name
}

func isTracking(p string) bool {
	name := strings.ToLower(paramName(p))
	switch name {
	case "gclid", "fbclid", "msclkid", "_ga", "_gl", "dclid", "yclid", "_hsenc", "_hsmi":
		return true
	}
	return strings.HasPrefix(name, "utm_") || strings.HasPrefix(name, "mc_")
}

// Key is the storage key of a page: variant, a bar, the normalized URL.
func Key(variant string, u *url.URL) string {
	return variant + "|" + u.String()
}
