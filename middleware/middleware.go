package middleware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"prerenderd/crawlers"
)

// Options configure New. The zero value of every field but ServiceURL is a default.
type Options struct {
	// ServiceURL is prerenderd's base URL, e.g. "http://127.0.0.1:3000/". Required.
	ServiceURL string
	// Token is sent as X-Prerender-Token (prerenderd's server.tokens, prerender.io's
	// token). Empty: no header.
	Token string
	// Timeout bounds the wait for prerenderd's answer (its status and headers); past
	// it, or when prerenderd cannot be reached, the request goes to the site's own
	// handler. Default 20s: more than prerenderd's default render.page_timeout (15s),
	// so a first render is waited for.
	Timeout time.Duration
	// TrustForwarded takes the page's scheme and host from X-Forwarded-Proto and
	// X-Forwarded-Host, as set by a proxy or load balancer in front of the site. Only
	// set it when such a proxy overwrites them: otherwise a client chooses the URL
	// prerenderd renders.
	TrustForwarded bool
	// Scheme and Host, when set, replace the request's own (prerender-node's
	// protocol and host settings).
	Scheme string
	Host   string
	// IgnoreExtensions are path endings never prerendered: assets a crawler asks for
	// as they are. Default: prerender-node's list (DefaultIgnoreExtensions).
	IgnoreExtensions []string
	// ExtraCrawlers are more User-Agent substrings (case-insensitive) treated as
	// crawlers, on top of the built-in list.
	ExtraCrawlers []string
	// Skip, when set, is asked last: true sends the request to the site (paths of an
	// admin area, a logged-in session…).
	Skip func(*http.Request) bool
	// Client sends the requests to prerenderd. Default: a client of its own with
	// keep-alive and no automatic decompression. Redirects are never followed,
	// whatever its CheckRedirect says: a redirect is the page's answer.
	Client *http.Client
	// Logger gets one warning per request that fell back to the site because
	// prerenderd failed. Default slog.Default().
	Logger *slog.Logger
}

// DefaultIgnoreExtensions is prerender-node's list of asset extensions.
var DefaultIgnoreExtensions = []string{
	".js", ".css", ".xml", ".less", ".png", ".jpg", ".jpeg", ".gif", ".pdf", ".doc", ".txt",
	".ico", ".rss", ".zip", ".mp3", ".rar", ".exe", ".wmv", ".avi", ".ppt", ".mpg", ".mpeg",
	".tif", ".wav", ".mov", ".psd", ".ai", ".xls", ".mp4", ".m4a", ".swf", ".dat", ".dmg",
	".iso", ".flv", ".m4v", ".torrent", ".woff", ".woff2", ".ttf", ".svg", ".webmanifest", ".webp",
}

// EnsureDefaults fills the zero fields.
func (o *Options) EnsureDefaults() {
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second
	}
	if o.IgnoreExtensions == nil {
		o.IgnoreExtensions = DefaultIgnoreExtensions
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate names the first bad field.
func (o *Options) Validate() error {
	u, err := url.Parse(o.ServiceURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("middleware: Options.ServiceURL %q is not an http(s) base URL such as http://127.0.0.1:3000/", o.ServiceURL)
	}
	if o.Timeout < 0 {
		return fmt.Errorf("middleware: Options.Timeout %s is negative", o.Timeout)
	}
	if o.Scheme != "" && o.Scheme != "http" && o.Scheme != "https" {
		return fmt.Errorf("middleware: Options.Scheme %q is neither http nor https", o.Scheme)
	}
	if o.Host != "" && !validHost(o.Host) {
		return fmt.Errorf("middleware: Options.Host %q is not a host[:port]", o.Host)
	}
	for _, e := range o.IgnoreExtensions {
		if !strings.HasPrefix(e, ".") || len(e) < 2 {
			return fmt.Errorf("middleware: Options.IgnoreExtensions has %q: each starts with a dot", e)
		}
	}
	for _, c := range o.ExtraCrawlers {
		if len(c) < 3 {
			return fmt.Errorf("middleware: Options.ExtraCrawlers has %q: shorter than 3 characters, it would match browsers", c)
		}
	}
	return nil
}

// New returns the middleware. It panics when opts do not Validate, as
// regexp.MustCompile does: options are fixed when a program starts.
func New(opts Options) func(http.Handler) http.Handler {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	p := &prerenderer{opts: opts, extensions: map[string]struct{}{}}
	p.service, _ = url.Parse(strings.TrimSuffix(opts.ServiceURL, "/"))
	for _, e := range opts.IgnoreExtensions {
		p.extensions[strings.ToLower(e)] = struct{}{}
		p.maxExt = max(p.maxExt, len(e))
	}
	for _, c := range opts.ExtraCrawlers {
		p.extra = append(p.extra, strings.ToLower(c))
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        100,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
			// The crawler's Accept-Encoding is forwarded and prerenderd's encoding
			// answered as it is; without one, the body comes plain.
			DisableCompression: true,
		}}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Timeout = 0 // the body streams past Options.Timeout, which bounds the headers only
	p.client = &c
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !p.wants(r) {
				next.ServeHTTP(w, r)
				return
			}
			p.serve(w, r, next)
		})
	}
}

var errTimeout = errors.New("prerender timeout")

type prerenderer struct {
	opts       Options
	service    *url.URL
	client     *http.Client
	extensions map[string]struct{}
	maxExt     int
	extra      []string
}

// wants is the decision, cheapest test first: a browser's request costs a method
// check, three header reads, one pass of the crawler automaton and a scan of the
// query.
func (p *prerenderer) wants(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	ua := first(r.Header["User-Agent"])
	if ua == "" {
		return false
	}
	// A request of prerenderd's own Chromium: answering it with a render would loop.
	if first(r.Header["X-Prerender"]) != "" {
		return false
	}
	if !crawlers.IsCrawler(ua) && !p.isExtra(ua) &&
		!strings.Contains(r.URL.RawQuery, "_escaped_fragment_") && first(r.Header["X-Bufferbot"]) == "" &&
		!asksMarkdown(first(r.Header["Accept"])) {
		return false
	}
	// prerenderd's and prerender.io's Chromium say so in their User-Agent; checked
	// after the crawler match, since a browser never gets here.
	if containsFold(ua, "prerender") {
		return false
	}
	if p.isAsset(r.URL.Path) {
		return false
	}
	return p.opts.Skip == nil || !p.opts.Skip(r)
}

// asksMarkdown: an AI agent that names text/markdown in its Accept gets the
// page's Markdown from prerenderd whatever its User-Agent (many agents send a
// browser's). prerenderd weighs the q-values; a browser never names it. Media
// types are sent in lower case, and a case-sensitive search keeps a browser's
// request at one pass over its Accept.
func asksMarkdown(accept string) bool {
	return strings.Contains(accept, "markdown")
}

func (p *prerenderer) isExtra(ua string) bool {
	for _, c := range p.extra {
		if containsFold(ua, c) {
			return true
		}
	}
	return false
}

func (p *prerenderer) isAsset(path string) bool {
	dot := strings.LastIndexByte(path, '.')
	if dot < 0 || strings.IndexByte(path[dot:], '/') >= 0 || len(path)-dot > p.maxExt {
		return false
	}
	_, ok := p.extensions[strings.ToLower(path[dot:])]
	return ok
}

// pageURL is the absolute URL of the page the request asks for, its path and query
// exactly as the client sent them.
func (p *prerenderer) pageURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if p.opts.TrustForwarded {
		if v := firstToken(first(r.Header["X-Forwarded-Proto"])); v == "http" || v == "https" {
			scheme = v
		}
		if v := firstToken(first(r.Header["X-Forwarded-Host"])); validHost(v) {
			host = v
		}
	}
	if p.opts.Scheme != "" {
		scheme = p.opts.Scheme
	}
	if p.opts.Host != "" {
		host = p.opts.Host
	}
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		// A handler called directly (RequestURI empty) or an absolute-form request.
		uri = r.URL.RequestURI()
	}
	return scheme + "://" + host + uri
}

// forwarded are the request headers prerenderd gets from the crawler's request:
// the User-Agent (desktop or mobile render), what the crawler accepts (encodings,
// and media types for a Markdown answer), and its validators (a 304 stays a 304).
var forwarded = []string{"User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "If-None-Match", "If-Modified-Since"}

// hopByHop are the response headers that belong to the connection to prerenderd.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

func (p *prerenderer) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	page := p.pageURL(r)
	target := *p.service
	// Opaque sends the page URL byte for byte, as prerender-node does: no
	// re-escaping of its path or query.
	target.Opaque = p.service.EscapedPath() + "/" + page
	target.Path, target.RawPath = "", ""

	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://placeholder/", nil)
	if err != nil {
		p.fallBack(w, r, next, page, err)
		return
	}
	req.URL = &target
	req.Host = target.Host
	for _, k := range forwarded {
		if v := r.Header[k]; len(v) > 0 {
			req.Header[k] = v
		}
	}
	if p.opts.Token != "" {
		req.Header.Set("X-Prerender-Token", p.opts.Token)
	}

	// The timeout covers connecting and waiting for the status line and headers; a
	// body that has started streams at the crawler's pace.
	timer := time.AfterFunc(p.opts.Timeout, func() { cancel(errTimeout) })
	resp, err := p.client.Do(req)
	if !timer.Stop() && err == nil {
		// The timer fired as the answer arrived: its body is being cancelled.
		resp.Body.Close()
		err = errTimeout
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), errTimeout) {
			err = fmt.Errorf("no answer within %s: %w", p.opts.Timeout, err)
		}
		p.fallBack(w, r, next, page, err)
		return
	}
	defer resp.Body.Close()
	// prerenderd says why it refused in X-Prerender-Reject-Reason (overloaded, a bad
	// token, a loop…); a page's own 404 or 301 carries none and is answered as is.
	if reason := resp.Header.Get("X-Prerender-Reject-Reason"); reason != "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		p.fallBack(w, r, next, page, fmt.Errorf("prerenderd refused with %d %s", resp.StatusCode, reason))
		return
	}
	h := w.Header()
	for k, v := range resp.Header {
		if !hopByHop[k] {
			h[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.Copy(w, resp.Body)
}

func (p *prerenderer) fallBack(w http.ResponseWriter, r *http.Request, next http.Handler, page string, err error) {
	if errors.Is(r.Context().Err(), context.Canceled) {
		return // the crawler went away
	}
	p.opts.Logger.Warn("prerender failed, serving the site", "url", page, "err", err)
	next.ServeHTTP(w, r)
}

// validHost accepts a host[:port] that can be put in a URL as it is.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("/?#@\\\"<>`{}|^%", c) >= 0 {
			return false
		}
	}
	return true
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// firstToken is the first element of a comma-separated header value.
func firstToken(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(strings.ToLower(v))
}

// containsFold reports whether s contains the lower-case ASCII substr, ignoring case.
func containsFold(s, substr string) bool {
	n := len(substr)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], substr) {
			return true
		}
	}
	return false
}
