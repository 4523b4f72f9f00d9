package browser

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Options configure one Browser. The zero value is usable after
// EnsureDefaults.
type Options struct {
	Path        string        // Chromium binary; "" = the headless shell if installed, else chromium, chromium-browser, google-chrome on PATH (chromiumNames)
	Tabs        int           // max concurrent renders in this browser (default 2)
	IdleWindow  time.Duration // default 200ms: quiet network before the page settles (js/ready.js)
	PageTimeout time.Duration // default 15s; bounds the whole render, serialization included
	Block       []string      // resource types not downloaded: "image", "media", "font", "stylesheet"; default image, media, font
	BlockURLs   []string      // extra URL patterns blocked, on top of the built-in tracker list
	// UserAgent of a render that asks for none: "" = Chromium's own, with
	// "HeadlessChrome" written "Chrome", followed by UserAgentSuffix.
	UserAgent string
	// Egress is the proxy every connection of Chromium goes through (the egress
	// package's Proxy): Chromium is given it with --proxy-server, loopback
	// included, no UDP for WebRTC and no DNS of its own. nil = Chromium connects
	// directly, which only tests and benchmarks of this package do.
	Egress Egress
	Logger *slog.Logger

	// MaxHTMLBytes caps the serialized document (default 8 MiB): a bigger one
	// fails with ErrTooLarge, measured in the page before it is sent over.
	MaxHTMLBytes int64
}

// Egress is what the browser needs of the egress proxy.
type Egress interface {
	// Addr is the proxy's host:port.
	Addr() string
	// Failure returns why the proxy last failed to connect to hostport ("host:port",
	// an IPv6 host in brackets) at or after since: a *netguard.Rejection for a
	// refusal, another error for a failed dial; nil when it did not fail.
	Failure(hostport string, since time.Time) error
}

// UserAgentSuffix ends the User-Agent of a render: sites, the nginx
// configuration prerender.io publishes and the npm server's own middlewares
// recognize the renderer by "Prerender" in it and serve it the app, not a
// prerendered page. A User-Agent built for a render (a mobile one) ends with it
// too.
const UserAgentSuffix = " Prerender (prerenderd)"

// PrerenderHeader is the request header the npm prerender server's Chromium
// sends (value "1"), by which prerender-node, prerender.io's nginx configuration
// and other middlewares pass the renderer's request to the site instead of back
// to the renderer. prerenderd sends it on the request for the page a render
// navigates to (see markDocument), not on the page's own requests: the npm
// server sends it on every request, and on a cross-origin fetch a custom header
// makes Chromium send a CORS preflight, which an open API that does not list it
// refuses, so the page rendered there without its data. The renderer's later
// requests are told by UserAgentSuffix.
const PrerenderHeader = "X-Prerender"

const (
	defaultTabs        = 2
	defaultIdleWindow  = 200 * time.Millisecond
	defaultPageTimeout = 15 * time.Second
	defaultMaxHTML     = 8 << 20
)

// minMaxHTML is the smallest MaxHTMLBytes: below it even a plain page would
// be refused.
const minMaxHTML = 1 << 10

// defaultBlock is the Block list of EnsureDefaults: what a crawler never sees
// costs bandwidth and time, and an image never changes the DOM.
var defaultBlock = []string{"image", "media", "font"}

// blockTypes maps a resource type of Options.Block to URL patterns.
// Network.setBlockedURLs only matches URLs, so a type is approximated by the
// file extensions it is served with; images are also switched off in Blink
// (see chromiumFlags), which catches images served without an extension.
var blockTypes = map[string][]string{
	"image":      {"png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp", "tif", "tiff", "apng", "PNG", "JPG", "JPEG", "GIF", "WEBP", "SVG"},
	"media":      {"mp4", "webm", "ogg", "ogv", "oga", "mp3", "wav", "m4a", "m4v", "mov", "avi", "flac", "aac", "m3u8", "mpd", "MP4", "MP3"},
	"font":       {"woff", "woff2", "ttf", "otf", "eot", "WOFF", "WOFF2", "TTF", "OTF"},
	"stylesheet": {"css", "CSS"},
}

// trackers are blocked in every render: they never change what a crawler
// sees, and several of them keep the network busy long enough to delay the
// idle rule. An entry without "://" is a host (and its subdomains), optionally
// followed by a path; see urlPattern.
var trackers = []string{
	"google-analytics.com",
	"googletagmanager.com",
	"doubleclick.net",
	"googlesyndication.com",
	"googleadservices.com",
	"adservice.google.com",
	"connect.facebook.net",
	"facebook.com/tr",
	"hotjar.com",
	"hotjar.io",
	"cdn.segment.com",
	"api.segment.io",
	"mixpanel.com",
	"mxpnl.com",
	"amplitude.com",
	"heapanalytics.com",
	"fullstory.com",
	"clarity.ms",
	"bat.bing.com",
	"snap.licdn.com",
	"px.ads.linkedin.com",
	"analytics.tiktok.com",
	"static.ads-twitter.com",
	"analytics.twitter.com",
	"js-agent.newrelic.com",
	"bam.nr-data.net",
	"static.cloudflareinsights.com",
	"mc.yandex.ru",
	"scorecardresearch.com",
	"quantserve.com",
	"criteo.com",
	"criteo.net",
	"adroll.com",
	"taboola.com",
	"outbrain.com",
	"crazyegg.com",
	"mouseflow.com",
	"js.hs-analytics.net",
	"plausible.io",
}

// EnsureDefaults fills the zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Tabs == 0 {
		o.Tabs = defaultTabs
	}
	if o.IdleWindow == 0 {
		o.IdleWindow = defaultIdleWindow
	}
	if o.PageTimeout == 0 {
		o.PageTimeout = defaultPageTimeout
	}
	if o.MaxHTMLBytes == 0 {
		o.MaxHTMLBytes = defaultMaxHTML
	}
	if o.Block == nil {
		o.Block = append([]string(nil), defaultBlock...)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports the first field that cannot work, by name. Call it after
// EnsureDefaults: zero values are errors here.
func (o *Options) Validate() error {
	if o.Tabs < 1 {
		return fmt.Errorf("invalid Tabs %d: must be at least 1", o.Tabs)
	}
	if o.IdleWindow <= 0 {
		return fmt.Errorf("invalid IdleWindow %s: must be positive", o.IdleWindow)
	}
	if o.PageTimeout <= 0 {
		return fmt.Errorf("invalid PageTimeout %s: must be positive", o.PageTimeout)
	}
	if o.PageTimeout <= o.IdleWindow {
		return fmt.Errorf("invalid PageTimeout %s: must be longer than IdleWindow %s", o.PageTimeout, o.IdleWindow)
	}
	if o.MaxHTMLBytes < minMaxHTML {
		return fmt.Errorf("invalid MaxHTMLBytes %d: must be at least %d", o.MaxHTMLBytes, minMaxHTML)
	}
	for i, typ := range o.Block {
		if _, ok := blockTypes[typ]; !ok {
			return fmt.Errorf("invalid Block[%d] %q: want one of image, media, font, stylesheet", i, typ)
		}
	}
	for i, p := range o.BlockURLs {
		if err := checkPattern(p); err != nil {
			return fmt.Errorf("invalid BlockURLs[%d] %q: %w", i, p, err)
		}
	}
	if strings.ContainsAny(o.UserAgent, "\r\n\x00") {
		return fmt.Errorf("invalid UserAgent %q: must be one line", o.UserAgent)
	}
	return nil
}

func checkPattern(p string) error {
	switch {
	case strings.TrimSpace(p) == "":
		return errors.New("empty pattern")
	case strings.ContainsAny(p, " \t\r\n"):
		return errors.New("pattern contains white space")
	case strings.HasPrefix(p, "/"):
		return errors.New("pattern must name a host or be an absolute URL pattern such as *://*.example.com/*")
	}
	return nil
}

// urlPattern turns a BlockURLs entry into the URLPattern syntax that
// Network.setBlockedURLs wants. An entry with "://" is already one. Otherwise
// it is "host" or "host/path": a bare host also covers its subdomains, and any
// port, because trackers are served from both.
func urlPattern(p string) string {
	if strings.Contains(p, "://") {
		return p
	}
	host, path, ok := strings.Cut(p, "/")
	if !ok {
		path = "*"
	}
	if !strings.HasPrefix(host, "*") {
		host = "{*.}?" + host
	}
	return "*://" + host + ":*/" + path
}

// blockPatterns returns every URL pattern a render blocks.
func (o *Options) blockPatterns() []string {
	var out []string
	for _, typ := range o.Block {
		for _, ext := range blockTypes[typ] {
			out = append(out, "*://*:*/*."+ext)
		}
	}
	for _, p := range trackers {
		out = append(out, urlPattern(p))
	}
	for _, p := range o.BlockURLs {
		out = append(out, urlPattern(p))
	}
	return out
}

// blocks reports whether the resource type typ is in Block.
func (o *Options) blocks(typ string) bool {
	for _, b := range o.Block {
		if b == typ {
			return true
		}
	}
	return false
}

// chromiumNames are tried in order when Options.Path is empty: the old headless
// shell first, then a full Chromium or Chrome on PATH. The headless shell is the
// renderer that Chromium's own headless tests and chromedp's image use: it has
// no browser UI, so it starts faster and idles at about half the memory of a
// full Chromium in headless mode (README, "Renders and memory"). Debian's
// chromium-headless-shell package puts the binary in /usr/lib/chromium and, on
// PATH, a shell script that does not exec it: the script would be the process
// prerenderd watches and kills, so the binary is named by its path.
var chromiumNames = []string{
	"/usr/lib/chromium/chromium-headless-shell", "chrome-headless-shell", "headless-shell",
	"chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
}

func FindChromium(path string) (string, error) {
	if path != "" {
		found, err := exec.LookPath(path)
		if err != nil {
			return "", fmt.Errorf("cannot use chromium %q: %w", path, err)
		}
		if fi, err := os.Stat(found); err != nil {
			return "", fmt.Errorf("cannot use chromium %q: %w", path, err)
		} else if fi.IsDir() {
			return "", fmt.Errorf("cannot use chromium %q: is a directory", path)
		}
		return found, nil
	}
	for _, name := range chromiumNames {
		if found, err := exec.LookPath(name); err == nil {
			return found, nil
		}
	}
	return "", fmt.Errorf("cannot find chromium: none of %s is installed; install Chromium (Debian: apt-get install chromium-headless-shell) or set its path (render.chromium): %w",
		strings.Join(chromiumNames, ", "), exec.ErrNotFound)
}
