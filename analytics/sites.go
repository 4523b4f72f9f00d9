package analytics

import (
	"fmt"
	"net/url"
	"strings"
)

// Row names of the stored counters: one row per configured site, one for the
// rest, one for everything.
const (
	rowTotal = "*"
	rowOther = "-"
)

// API names of the two rows that are not a configured host.
const (
	SiteAll   = "all"
	SiteOther = "other"
)

// siteTable maps a request's URL to its site: 0 is "other", 1… the configured
// [[sites]] hosts in config order.
type siteTable struct {
	names      []string       // by index; names[0] is rowOther
	authority  map[string]int // "host[:port]" → index
	hostOnly   map[string]int // sites given without a port, by host name
	configured bool
}

// newSiteTable reads [[sites]] host values: "shop.example", "shop.example:8080"
// or "http://shop.example:8080". A site given without a port also takes its
// host on any port.
func newSiteTable(hosts []string) (siteTable, error) {
	t := siteTable{names: []string{rowOther}, authority: map[string]int{}, hostOnly: map[string]int{}}
	for _, h := range hosts {
		a, err := siteAuthority(h)
		if err != nil {
			return siteTable{}, err
		}
		if _, dup := t.authority[a]; dup {
			continue
		}
		i := len(t.names)
		t.names = append(t.names, a)
		t.authority[a] = i
		if !strings.Contains(strings.TrimPrefix(a, "["), ":") || strings.HasSuffix(a, "]") {
			t.hostOnly[a] = i
		}
	}
	t.configured = len(t.names) > 1
	return t, nil
}

func siteAuthority(h string) (string, error) {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "/"))
	if h == "" {
		return "", fmt.Errorf("a site host is empty")
	}
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("site %q is not a host or scheme://host[:port]", h)
	}
	host, port := u.Hostname(), u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return host + ":" + port, nil
	}
	return host, nil
}

// of returns the site index of a normalized URL (lower-case host, no default
// port). It does not allocate.
func (t *siteTable) of(u string) int {
	if !t.configured {
		return 0
	}
	a := authorityOf(u)
	if a == "" {
		return 0
	}
	if i, ok := t.authority[a]; ok {
		return i
	}
	if colon := strings.LastIndexByte(a, ':'); colon > 0 && a[colon-1] != ':' && !strings.HasSuffix(a, "]") {
		if i, ok := t.hostOnly[a[:colon]]; ok {
			return i
		}
	}
	return 0
}

// authorityOf is the host[:port] of an absolute URL, "" when it has none.
func authorityOf(u string) string {
	var rest string
	switch {
	case strings.HasPrefix(u, "https://"):
		rest = u[len("https://"):]
	case strings.HasPrefix(u, "http://"):
		rest = u[len("http://"):]
	default:
		i := strings.Index(u, "://")
		if i < 0 {
			return ""
		}
		rest = u[i+3:]
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c == '/' || c == '?' || c == '#' {
			return rest[:i]
		}
	}
	return rest
}

// rowName is the stored row name of a site query: "" or "all" is the total,
// "other" the rest; else a configured host. ok is false for a host that is not
// configured.
func (t *siteTable) rowName(site string) (string, bool) {
	switch strings.ToLower(site) {
	case "", SiteAll, rowTotal:
		return rowTotal, true
	case SiteOther:
		if !t.configured {
			return rowTotal, true
		}
		return rowOther, true
	}
	a, err := siteAuthority(site)
	if err != nil {
		return "", false
	}
	if _, ok := t.authority[a]; ok {
		return a, true
	}
	return "", false
}

// apiNames are the sites a query may name: the configured hosts, then "other".
func (t *siteTable) apiNames() []string {
	out := append([]string(nil), t.names[1:]...)
	return append(out, SiteOther)
}
