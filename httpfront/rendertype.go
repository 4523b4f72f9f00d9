package httpfront

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"prerenderd/actors"
	"prerenderd/analytics"
	"prerenderd/browser"
	"prerenderd/cachekey"
	"prerenderd/httpfront/target"
)

// renderOptions are the options of the npm prerender server's /render route,
// by its parameter names: url, renderType (html, png, jpeg, pdf, har),
// userAgent, fullpage, width, height, followRedirects; and prerenderd's
// format (html, markdown).
type renderOptions struct {
	url             string
	output          browser.Output
	userAgent       string
	fullPage        bool
	width, height   int // CSS pixels; 0 = not given
	followRedirects bool
	markdown        bool // format=markdown: the Markdown rendition, not the HTML
}

// cached: an HTML render that no option changes is the page GET /{url}
// answers, from the cache and into it. Any other is rendered for this caller
// alone: a screenshot is not HTML, and a page rendered at another width, for
// another User-Agent or past a redirect is not the page crawlers get.
func (o *renderOptions) cached() bool {
	return o.output == browser.OutputHTML && o.userAgent == "" && o.width == 0 && o.height == 0 && !o.followRedirects
}

// maxRenderBody bounds the JSON body of POST /render: a URL and a few options.
const maxRenderBody = 64 << 10

// maxUserAgent bounds the userAgent option; real ones are a few hundred bytes.
const maxUserAgent = 1024

// renderRoute is /render: GET and HEAD with the options in the query string, or
// POST with them in a JSON (or form) body, as the npm prerender server takes
// them. A plain HTML render is served like GET /{url}; anything else is a
// capture.
func (s *Server) renderRoute(w http.ResponseWriter, r *http.Request, reqID string) {
	var params map[string]string
	var err error
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		params = firstValues(r.URL.Query())
	case http.MethodPost:
		params, err = postedOptions(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		err = &clientError{status: http.StatusMethodNotAllowed, reason: "method-not-allowed", msg: "use GET or HEAD with a query string, or POST with a JSON body"}
	}
	var opts *renderOptions
	if err == nil {
		opts, err = parseRenderOptions(params)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.checkToken(r); err != nil {
		s.fail(w, r, err)
		return
	}
	// A query string names the page as middlewares send it (encoded, or not, its
	// own parameters after it: package target); a body names it as a JSON value.
	var urls target.URLs
	if r.Method == http.MethodPost {
		urls, err = targetURL(opts.url, s.cfg.StripQuery)
	} else if urls, err = target.Parse(r.RequestURI, r.Header.Get(target.IntegrationHeader), s.cfg.StripQuery); err != nil {
		err = badURL(err)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if opts.markdown && !s.app.MarkdownOn() {
		s.fail(w, r, &clientError{status: http.StatusBadRequest, reason: "bad-format",
			msg: "format=markdown is not served: Markdown renditions are turned off (render.markdown = false)"})
		return
	}
	if opts.cached() {
		s.render(w, r, reqID, newPage(urls, s.cfg.Variants), opts.markdown)
		return
	}
	s.capture(w, r, reqID, opts, urls)
}

func firstValues(q url.Values) map[string]string {
	m := make(map[string]string, len(q))
	for k, vs := range q {
		if len(vs) > 0 {
			m[k] = vs[0]
		}
	}
	return m
}

// postedOptions reads the options of POST /render: a JSON object (numbers and
// booleans may be given as such or as strings), or a form.
func postedOptions(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRenderBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &clientError{status: http.StatusRequestEntityTooLarge, reason: "body-too-large", msg: fmt.Sprintf("the body is larger than %d bytes", maxRenderBody)}
		}
		return nil, &clientError{status: http.StatusBadRequest, reason: "bad-body", msg: "cannot read the body: " + err.Error()}
	}
	// `curl -d '{…}'` sends JSON labelled as a form: a body that opens an
	// object is JSON whatever its label.
	isJSON := strings.HasPrefix(strings.TrimSpace(string(body)), "{")
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" && !isJSON {
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, &clientError{status: http.StatusBadRequest, reason: "bad-body", msg: "the form does not decode: " + err.Error()}
		}
		return firstValues(q), nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &clientError{status: http.StatusBadRequest, reason: "bad-json", msg: `the body is not a JSON object such as {"url": "https://shop.example/", "renderType": "png"}: ` + err.Error()}
	}
	params := make(map[string]string, len(raw))
	for k, v := range raw {
		var str string
		var num json.Number
		var b bool
		switch {
		case string(v) == "null":
			continue
		case json.Unmarshal(v, &str) == nil:
			params[k] = str
		case json.Unmarshal(v, &num) == nil:
			params[k] = num.String()
		case json.Unmarshal(v, &b) == nil:
			params[k] = strconv.FormatBool(b)
		default:
			return nil, &clientError{status: http.StatusBadRequest, reason: "bad-json", msg: fmt.Sprintf("%s must be a string, a number or a boolean", k)}
		}
	}
	return params, nil
}

// parseRenderOptions checks every option, naming the bad one.
func parseRenderOptions(p map[string]string) (*renderOptions, error) {
	bad := func(reason, format string, args ...any) error {
		return &clientError{status: http.StatusBadRequest, reason: reason, msg: fmt.Sprintf(format, args...)}
	}
	o := &renderOptions{url: p["url"], userAgent: p["userAgent"]}
	if o.url == "" {
		return nil, bad("bad-url", "url is required: the page's absolute URL")
	}
	var err error
	if o.output, err = browser.ParseOutput(p["renderType"]); err != nil {
		return nil, bad("bad-render-type", "%v", err)
	}
	for _, d := range []struct {
		name, reason string
		into         *int
	}{{"width", "bad-width", &o.width}, {"height", "bad-height", &o.height}} {
		v, ok := p[d.name]
		if !ok || v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > browser.MaxViewport {
			return nil, bad(d.reason, "%s %q is not a whole number of CSS pixels between 1 and %d", d.name, v, browser.MaxViewport)
		}
		*d.into = n
	}
	for _, f := range []struct {
		name, reason string
		into         *bool
	}{{"fullpage", "bad-fullpage", &o.fullPage}, {"followRedirects", "bad-follow-redirects", &o.followRedirects}} {
		v, ok := p[f.name]
		if !ok || v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, bad(f.reason, "%s %q is not true or false", f.name, v)
		}
		*f.into = b
	}
	switch f := p["format"]; strings.ToLower(f) {
	case "", "html":
	case "markdown", "md":
		if o.output != browser.OutputHTML {
			return nil, bad("bad-format", "format=%s needs renderType html (the default), not %s", f, o.output)
		}
		o.markdown = true
	default:
		return nil, bad("bad-format", "format %q is not html or markdown (a page URL with its own format parameter must be percent-encoded: url=https%%3A%%2F%%2F…)", f)
	}
	if len(o.userAgent) > maxUserAgent || strings.ContainsFunc(o.userAgent, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, bad("bad-user-agent", "userAgent must be at most %d bytes without control characters", maxUserAgent)
	}
	if _, ok := p["javascript"]; ok {
		// Running a caller's script in the page is not something prerenderd
		// does; answering as if it had would mislead.
		return nil, bad("unsupported-option", "javascript is not supported: prerenderd does not run a caller's script in the page")
	}
	return o, nil
}

// capture renders the page for this caller alone (Appliance.Capture): a
// screenshot, a PDF, a HAR, or HTML with options. Nothing of it is read from
// or written to the cache.
func (s *Server) capture(w http.ResponseWriter, r *http.Request, reqID string, o *renderOptions, urls target.URLs) {
	start := s.cfg.Clock()
	load := urls.Load.String()
	if !s.isDemo(urls.Key) {
		if err := s.guard.Check(r.Context(), urls.Key); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	req := browser.Request{URL: load, UserAgent: o.userAgent, Output: o.output, FullPage: o.fullPage, FollowRedirects: o.followRedirects}
	ua := o.userAgent
	if ua == "" {
		ua = r.Header.Get("User-Agent")
	}
	var device *browser.Device
	if cachekey.VariantFor(ua, s.cfg.Variants) == cachekey.Mobile {
		d := s.app.MobileDevice()
		device = &d
	}
	if o.width > 0 || o.height > 0 {
		d := browser.DesktopDevice
		if device != nil {
			d = *device
		}
		if o.width > 0 {
			d.Width = o.width
		}
		if o.height > 0 {
			d.Height = o.height
		}
		device = &d
	}
	req.Device = device
	res, err := s.app.Capture(r.Context(), req)
	if r.Context().Err() != nil {
		return // the client left; the capture was abandoned with it
	}
	if err != nil {
		s.log.Warn("capture failed", "req", reqID, "url", load, "render_type", string(o.output), "err", err, "ms", time.Since(start).Milliseconds())
		s.fail(w, r, err)
		return
	}
	if res.Body == nil {
		// HTML, or the redirect or bare status that answered the document.
		s.writeRendered(w, r, &actors.Rendered{Result: res}, cacheBypass, load, "", start, o.markdown)
	} else {
		s.writeCapture(w, r, res)
	}
	s.log.Info("capture", "req", reqID, "url", load, "render_type", string(o.output), "status", res.Status,
		"bytes", len(res.Body)+len(res.HTML), "ms", time.Since(start).Milliseconds())
}

func (s *Server) writeCapture(w http.ResponseWriter, r *http.Request, res *browser.Result) {
	h := w.Header()
	h["Content-Type"] = []string{res.ContentType}
	h["X-Prerender-Cache"] = []string{cacheBypass}
	h["Content-Length"] = []string{strconv.Itoa(len(res.Body))}
	if res.Incomplete {
		h.Set("X-Prerender-Incomplete", "timeout")
	}
	status := res.Status
	if status < 100 || status > 999 {
		status = http.StatusBadGateway
	}
	s.metrics.count(cacheBypass, status, analytics.Classify(r.Header.Get("User-Agent")))
	w.WriteHeader(status)
	if r.Method != http.MethodHead && bodyAllowed(status) {
		s.writeBody(w, res.Body)
	}
}
