package crawlers

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Group is the kind of a crawler. The set is fixed (Groups), so a group can be a
// metric label.
type Group string

// The groups, in the order the list and its outputs use.
const (
	Search     Group = "search"      // search engines' crawlers
	Social     Group = "social"      // link previews (unfurlers) of social networks and chat apps
	AITraining Group = "ai_training" // crawlers that collect pages to train models
	AISearch   Group = "ai_search"   // crawlers that index pages for an AI search or answer engine
	AIUser     Group = "ai_user"     // fetches an AI assistant makes because a user asked it to
	SEO        Group = "seo"         // SEO and site-audit tools
	Other      Group = "other"       // other crawlers worth a rendered page (ads checks, validators)
)

// Groups returns every group, in list order.
func Groups() []Group {
	return []Group{Search, Social, AITraining, AISearch, AIUser, SEO, Other}
}

func (g Group) valid() bool {
	for _, k := range Groups() {
		if g == k {
			return true
		}
	}
	return false
}

// Crawler is one entry of the list.
type Crawler struct {
	Name string `json:"name"`
	// Pattern is a literal matched case-insensitively anywhere in the User-Agent.
	Pattern string `json:"pattern"`
	Group   Group  `json:"group"`
	Vendor  string `json:"vendor"`
	// Source is the vendor's page that documents the crawler (or, where the vendor
	// has none, the address its User-Agent names).
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
	// TokenOnly marks a robots.txt token no request carries (Google-Extended): listed,
	// never matched, left out of the generated matchers.
	TokenOnly bool `json:"token_only,omitempty"`
}

// List is the data file: its date and its entries.
type List struct {
	Updated  string    `json:"updated"`
	About    string    `json:"about,omitempty"`
	Crawlers []Crawler `json:"crawlers"`
}

//go:embed crawlers.json
var data []byte

// The list and its matcher are built once, at start-up: the embedded file is part of
// the binary, and a broken one fails every test of this package.
var (
	list    = mustParse(data)
	matched = matchable(list.Crawlers)
	auto    = mustBuild(matched)
)

func mustParse(b []byte) *List {
	l, err := Parse(b)
	if err != nil {
		panic(fmt.Sprintf("crawlers: the embedded crawlers.json is broken: %v", err))
	}
	return l
}

func mustBuild(cs []Crawler) *matcher {
	patterns := make([]string, len(cs))
	for i, c := range cs {
		patterns[i] = c.Pattern
	}
	m, err := newMatcher(patterns)
	if err != nil {
		panic(fmt.Sprintf("crawlers: %v", err))
	}
	return m
}

func matchable(cs []Crawler) []Crawler {
	var out []Crawler
	for _, c := range cs {
		if !c.TokenOnly {
			out = append(out, c)
		}
	}
	return out
}

// Parse reads and checks a list in the format of crawlers.json. Every entry needs a
// name, a pattern of printable ASCII without quotes or backslashes (it is pasted into
// nginx and Caddy configs), a known group, a vendor and an http(s) or mailto source;
// names and patterns are unique, case-insensitively.
func Parse(b []byte) (*List, error) {
	var l List
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("cannot parse the crawler list: %w", err)
	}
	if l.Updated == "" {
		return nil, fmt.Errorf("the crawler list has no updated date")
	}
	if len(l.Crawlers) == 0 {
		return nil, fmt.Errorf("the crawler list is empty")
	}
	names := map[string]bool{}
	patterns := map[string]string{}
	for i, c := range l.Crawlers {
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("crawler %d (%q): %w", i, c.Name, err)
		}
		n, p := strings.ToLower(c.Name), strings.ToLower(c.Pattern)
		if names[n] {
			return nil, fmt.Errorf("crawler %d: the name %q is listed twice", i, c.Name)
		}
		if other, ok := patterns[p]; ok {
			return nil, fmt.Errorf("crawler %d (%q): the pattern %q is already %q's", i, c.Name, c.Pattern, other)
		}
		names[n], patterns[p] = true, c.Name
	}
	return &l, nil
}

func (c Crawler) check() error {
	switch {
	case strings.TrimSpace(c.Name) == "":
		return fmt.Errorf("name is empty")
	case len(c.Pattern) < 3:
		return fmt.Errorf("pattern %q is shorter than 3 characters: it would match browsers", c.Pattern)
	case !c.Group.valid():
		return fmt.Errorf("group %q is not one of %v", c.Group, Groups())
	case strings.TrimSpace(c.Vendor) == "":
		return fmt.Errorf("vendor is empty")
	}
	for i := 0; i < len(c.Pattern); i++ {
		if b := c.Pattern[i]; b < 0x20 || b > 0x7e || b == '"' || b == '\\' || b == '`' || b == '\'' {
			return fmt.Errorf("pattern %q has %q: only printable ASCII without quotes or backslashes", c.Pattern, b)
		}
	}
	if strings.TrimSpace(c.Pattern) != c.Pattern {
		return fmt.Errorf("pattern %q starts or ends with a space", c.Pattern)
	}
	u, err := url.Parse(c.Source)
	if err != nil || !(u.Scheme == "https" || u.Scheme == "http" || u.Scheme == "mailto") || (u.Scheme != "mailto" && u.Host == "") {
		return fmt.Errorf("source %q is not an http(s) or mailto URL", c.Source)
	}
	return nil
}

// All returns a copy of the whole list, token-only entries included.
func All() []Crawler {
	return append([]Crawler(nil), list.Crawlers...)
}

// Updated is the date of the list (YYYY-MM-DD).
func Updated() string { return list.Updated }

// Match tells whether ua is a crawler's User-Agent, and which. Patterns match
// case-insensitively anywhere in ua; when several do, the one that starts leftmost
// wins, and of those the longest ("TelegramBot (like TwitterBot)" is TelegramBot).
// It does not allocate.
func Match(ua string) (Crawler, bool) {
	i := auto.find(ua)
	if i < 0 {
		return Crawler{}, false
	}
	return matched[i], true
}

// IsCrawler is Match without the entry.
func IsCrawler(ua string) bool { return auto.find(ua) >= 0 }
