package target

import (
	"fmt"
	"net/url"
	"strings"

	"prerenderd/cachekey"
)

// IntegrationHeader names the middleware that sent a render request;
// prerender.io's middlewares set it ("Node" for prerender-node, "Nginx" for its
// nginx configuration).
const IntegrationHeader = "X-Prerender-Int-Type"

// URLs is a recovered target: the URL Chromium loads (as the crawler asked for
// it, see cachekey.Load) and the URL of its cache key (cachekey.Normalize).
type URLs struct {
	Load *url.URL
	Key  *url.URL
}

// Parse recovers the target of a render request from its request URI (r.RequestURI:
// "/https://…", "/https%3A%2F%2F…" or "/render?url=…") and the value of its
// IntegrationHeader. Every error wraps cachekey.ErrBadURL.
func Parse(requestURI, integration string, mode cachekey.StripMode) (URLs, error) {
	raw, err := Recover(requestURI, integration)
	if err != nil {
		return URLs{}, err
	}
	return Resolve(raw, mode)
}

// Resolve turns an absolute URL (recovered, or given in an admin API's JSON) into
// the URL Chromium loads and its key URL.
func Resolve(raw string, mode cachekey.StripMode) (URLs, error) {
	load, err := cachekey.Load(raw, mode)
	if err != nil {
		return URLs{}, err
	}
	key, err := cachekey.Normalize(load.String(), mode)
	if err != nil {
		return URLs{}, err
	}
	return URLs{Load: load, Key: key}, nil
}

// Recover returns the absolute URL a render request names, decoded as its form
// needs (see the package doc), not yet validated: Resolve does that.
func Recover(requestURI, integration string) (string, error) {
	if path, query, ok := strings.Cut(requestURI, "?"); ok && path == "/render" || requestURI == "/render" {
		return fromRender(query)
	}
	s := strings.TrimLeft(requestURI, "/")
	switch {
	case hasFoldPrefix(s, "http%3a") || hasFoldPrefix(s, "https%3a"):
		dec, err := url.PathUnescape(s)
		if err != nil {
			return "", fmt.Errorf("%w: cannot decode the percent-encoded URL: %v", cachekey.ErrBadURL, err)
		}
		s = dec
	case hasFoldPrefix(s, "http:") || hasFoldPrefix(s, "https:"):
		s = unescapeNginx(s, strings.EqualFold(integration, "nginx"), integration == "")
	default:
		return "", fmt.Errorf("%w: the path is not an absolute http(s) URL: ask for GET /{absolute URL}, e.g. /https://example.com/", cachekey.ErrBadURL)
	}
	return encodeHash(repairSlashes(s)), nil
}

// unescapeNginx undoes the escaping of nginx's "rewrite .* /$scheme://$host$request_uri?":
// nginx escapes "%" as %25 and "?" as %3F in $request_uri, so decoding once gives
// the request URI the crawler sent. Without the trailing "?" in the rewrite,
// nginx also appends the arguments as they came ("…/s%3Fq=a%2520b?q=a%20b"); that
// copy is dropped, never decoded. nginx says it is nginx when its configuration
// sets X-Prerender-Int-Type; guess says whether to tell the form from the URL
// alone (no middleware named itself). A middleware that names itself otherwise
// sends the URL as is.
func unescapeNginx(s string, nginx, guess bool) string {
	if !nginx && !guess {
		return s
	}
	head, tail, hasTail := strings.Cut(s, "?")
	dec, err := url.PathUnescape(head)
	if err != nil {
		return s
	}
	if hasTail {
		// The escaped request URI followed by its own arguments as they came.
		if _, q, ok := strings.Cut(dec, "?"); ok && q == tail {
			return dec
		}
		if nginx {
			return dec + "?" + tail
		}
		// A literal "?" and no escaped copy of it: sent as is.
		return s
	}
	if nginx {
		return dec
	}
	// Only nginx's escaping produces %25 or %3F with no literal "?" in a URL that
	// still reads as a URL once decoded; a URL sent as is with an escaped "%" in
	// its path ("/100%25-cotton") decodes to a stray "%" and is kept.
	if !containsFold(head, "%25") && !containsFold(head, "%3f") || !wellEscaped(dec) {
		return s
	}
	return dec
}

// renderOptions are the parameters of /render that are not the page's (the npm
// prerender server's): an unencoded url=… is followed by its own parameters up
// to the first of these.
var renderOptions = map[string]bool{
	"renderType": true, "userAgent": true, "fullpage": true, "width": true, "height": true,
	"followRedirects": true, "javascript": true, "format": true,
}

// fromRender reads the url parameter of /render. Encoded
// (url=https%3A%2F%2F…), it is decoded once, as a query value ("+" is a space).
// Sent as is (url=https://shop/s?q=1&page=2), it is taken as is, and the
// parameters after it that /render does not know belong to it: a client that did
// not encode the URL did not encode its "&" either.
func fromRender(rawQuery string) (string, error) {
	params := strings.Split(rawQuery, "&")
	for i, p := range params {
		name, v, _ := strings.Cut(p, "=")
		if name != "url" {
			continue
		}
		switch {
		case hasFoldPrefix(v, "http%3a") || hasFoldPrefix(v, "https%3a"):
			dec, err := url.QueryUnescape(v)
			if err != nil {
				return "", fmt.Errorf("%w: cannot decode the url parameter: %v", cachekey.ErrBadURL, err)
			}
			return encodeHash(dec), nil
		case hasFoldPrefix(v, "http:") || hasFoldPrefix(v, "https:"):
			for _, rest := range params[i+1:] {
				n, _, _ := strings.Cut(rest, "=")
				if renderOptions[n] {
					break
				}
				v += "&" + rest
			}
			return encodeHash(repairSlashes(v)), nil
		case v == "":
			return "", fmt.Errorf("%w: the url parameter is empty", cachekey.ErrBadURL)
		}
		return "", fmt.Errorf("%w: the url parameter is not an absolute http(s) URL", cachekey.ErrBadURL)
	}
	return "", fmt.Errorf("%w: /render needs a url parameter: /render?url=https%%3A%%2F%%2Fexample.com%%2F", cachekey.ErrBadURL)
}

// repairSlashes restores the double slash that a proxy collapsed ("https:/shop").
func repairSlashes(s string) string {
	for _, scheme := range []string{"http:/", "https:/"} {
		if hasFoldPrefix(s, scheme) && !hasFoldPrefix(s, scheme+"/") {
			return s[:len(scheme)] + "/" + s[len(scheme):]
		}
	}
	return s
}

// encodeHash keeps a "#" that is not a hash-bang in the path or query ("%23"), as
// the npm server does: a crawler never sends a fragment, so a "#" that decoding
// brought out was part of the page's URL.
func encodeHash(s string) string {
	if strings.Contains(s, "#") && !strings.Contains(s, "#!") {
		return strings.ReplaceAll(s, "#", "%23")
	}
	return s
}

// wellEscaped reports whether every "%" in s starts an escape.
func wellEscaped(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), sub)
}

// Given resolves a URL given in an admin API's JSON (recache, search,
// cache-clear, sitemap): as is, or percent-encoded as a whole.
func Given(raw string, mode cachekey.StripMode) (URLs, error) {
	if hasFoldPrefix(raw, "http%3a") || hasFoldPrefix(raw, "https%3a") {
		dec, err := url.PathUnescape(raw)
		if err != nil {
			return URLs{}, fmt.Errorf("%w: cannot decode the percent-encoded URL: %v", cachekey.ErrBadURL, err)
		}
		raw = dec
	}
	return Resolve(repairSlashes(raw), mode)
}
