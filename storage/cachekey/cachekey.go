// Package cachekey turns a URL a crawler asked for into the key its rendered page is
// stored under. It is pure: no I/O, no DNS, so both the HTTP front and the actors can
// use it and a fuzz test can hammer it.
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

// Normalize returns the canonical form of raw: lowercase scheme and host, no default
// port, no fragment, tracking parameters dropped (or all of the query, per mode), the
// remaining parameters sorted, an empty path written as "/".
func Normalize(raw string, mode StripMode) (*url.URL, error) {
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
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	u.RawQuery = normalizeQuery(u.RawQuery, mode)
	u.ForceQuery = false
	return u, nil
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

func normalizeQuery(raw string, mode StripMode) string {
	if raw == "" || mode == StripAll {
		return ""
	}
	// Split by hand instead of url.ParseQuery: a parameter that does not decode must
	// survive untouched rather than vanish from the key.
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		if mode == StripTracking && isTracking(p) {
			continue
		}
		kept = append(kept, p)
	}
	sort.SliceStable(kept, func(i, j int) bool { return paramName(kept[i]) < paramName(kept[j]) })
	return strings.Join(kept, "&")
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
