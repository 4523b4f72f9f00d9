package middleware_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"prerenderd/internal/prerenderdtest"
	"prerenderd/middleware"
)

const (
	gptBot  = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"
	chrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	googleB = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

// newSite serves the test site behind the middleware with opts (ServiceURL and Token
// default to the shared appliance's), as a user's program would.
func newSite(t *testing.T, opts middleware.Options) *httptest.Server {
	t.Helper()
	if opts.ServiceURL == "" {
		opts.ServiceURL = prerenderd(t).URL + "/"
	}
	if opts.Token == "" {
		opts.Token = token
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	srv := httptest.NewServer(middleware.New(opts)(prerenderdtest.Site()))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, ua string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", ua)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (a answer) rendered() bool {
	return strings.Contains(a.body, prerenderdtest.SiteHeading) && !strings.Contains(a.body, "<script")
}

func (a answer) app() bool {
	return strings.Contains(a.body, prerenderdtest.SiteShell) && a.header.Get("X-Prerender-Cache") == ""
}

func TestWhoGetsTheRenderedPage(t *testing.T) {
	site := newSite(t, middleware.Options{})
	tests := []struct {
		name         string
		method, path string
		ua           string
		header       http.Header
		rendered     bool
		body         string // for answers that are neither the page nor the app
	}{
		{"GPTBot gets the rendered page", "GET", "/product", gptBot, nil, true, ""},
		{"Googlebot gets the rendered page", "GET", "/product?id=2&utm_source=x", googleB, nil, true, ""},
		{"a HEAD from a crawler is prerendered too", "HEAD", "/product", gptBot, nil, true, ""},
		{"Chrome gets the app", "GET", "/product", chrome, nil, false, ""},
		{"a browser asking for _escaped_fragment_ gets the rendered page", "GET", "/product?_escaped_fragment_=", chrome, nil, true, ""},
		{"an agent asking for Markdown gets the page's Markdown", "GET", "/product?md=1", chrome, http.Header{"Accept": {"text/markdown"}}, true, ""},
		{"a crawler's request for a script gets the script", "GET", "/app.js", gptBot, nil, false, "fetch(\"/api/product\")"},
		{"a crawler's POST reaches the site", "POST", "/product", gptBot, nil, false, "posted"},
		{"a request carrying X-Prerender: 1 reaches the site", "GET", "/product", gptBot, http.Header{"X-Prerender": {"1"}}, false, ""},
		{"prerenderd's own Chromium reaches the site", "GET", "/product", chrome + " prerenderd", nil, false, ""},
		{"a request without a User-Agent reaches the site", "GET", "/product", "", nil, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, site.URL+tc.path, tc.ua, tc.header)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %.300s", a.status, a.body)
			}
			switch {
			case tc.method == "HEAD":
				if a.header.Get("X-Prerender-Cache") == "" {
					t.Fatalf("a HEAD was not answered by prerenderd: %v", a.header)
				}
			case tc.rendered:
				if !a.rendered() {
					t.Fatalf("not the rendered page: %.500s", a.body)
				}
				if a.header.Get("X-Prerender-Cache") == "" || a.header.Get("X-Prerender-Request-Id") == "" {
					t.Fatalf("prerenderd's headers are missing: %v", a.header)
				}
				if md := tc.header.Get("Accept") == "text/markdown"; md != strings.HasPrefix(a.header.Get("Content-Type"), "text/markdown") ||
					md && !strings.HasPrefix(a.body, "---\n") {
					t.Fatalf("Accept %q answered %q: %.300s", tc.header.Get("Accept"), a.header.Get("Content-Type"), a.body)
				}
			case tc.body != "":
				if !strings.Contains(a.body, tc.body) || a.header.Get("X-Prerender-Cache") != "" {
					t.Fatalf("want the site's %q, got %v %.300s", tc.body, a.header, a.body)
				}
			default:
				if !a.app() {
					t.Fatalf("not the app: %v %.500s", a.header, a.body)
				}
			}
		})
	}
}

func TestPrerenderdStatusesAreAnsweredAsTheyAre(t *testing.T) {
	site := newSite(t, middleware.Options{})
	t.Run("a page that declares a 404 is a 404", func(t *testing.T) {
		a := do(t, "GET", site.URL+"/gone", gptBot, nil)
		if a.status != http.StatusNotFound || !strings.Contains(a.body, "No such page") {
			t.Fatalf("%d %.300s", a.status, a.body)
		}
	})
	t.Run("a page that declares a 301 is a 301, not followed", func(t *testing.T) {
		a := do(t, "GET", site.URL+"/moved", gptBot, nil)
		if a.status != http.StatusMovedPermanently || !strings.HasSuffix(a.header.Get("Location"), "/product") {
			t.Fatalf("%d Location %q", a.status, a.header.Get("Location"))
		}
	})
	t.Run("a redirect of the site's server is a 301, not followed", func(t *testing.T) {
		a := do(t, "GET", site.URL+"/old", gptBot, nil)
		if a.status != http.StatusMovedPermanently || !strings.HasSuffix(a.header.Get("Location"), "/product") {
			t.Fatalf("%d Location %q", a.status, a.header.Get("Location"))
		}
	})
	t.Run("gzip is answered as prerenderd gives it", func(t *testing.T) {
		a := do(t, "GET", site.URL+"/product", gptBot, http.Header{"Accept-Encoding": {"gzip"}})
		if a.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q", a.header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(strings.NewReader(a.body))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !strings.Contains(string(plain), prerenderdtest.SiteHeading) {
			t.Fatalf("%v %.300s", err, plain)
		}
	})
	t.Run("an ETag from prerenderd gets its 304", func(t *testing.T) {
		first := do(t, "GET", site.URL+"/product", gptBot, nil)
		etag := first.header.Get("ETag")
		if etag == "" {
			t.Fatalf("no ETag: %v", first.header)
		}
		a := do(t, "GET", site.URL+"/product", gptBot, http.Header{"If-None-Match": {etag}})
		if a.status != http.StatusNotModified {
			t.Fatalf("status %d", a.status)
		}
	})
}

func TestCrawlersGetTheSiteWhenPrerenderdFails(t *testing.T) {
	t.Run("prerenderd down: the site answers at once", func(t *testing.T) {
		addr := closedAddr(t)
		site := newSite(t, middleware.Options{ServiceURL: "http://" + addr + "/", Timeout: 2 * time.Second})
		start := time.Now()
		a := do(t, "GET", site.URL+"/product", gptBot, nil)
		if !a.app() || a.status != http.StatusOK {
			t.Fatalf("%d %.300s", a.status, a.body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("the fallback took %s, more than the 2s timeout", d)
		}
	})
	t.Run("prerenderd slower than the timeout: the site answers at the timeout", func(t *testing.T) {
		// The page never goes idle: prerenderd renders it up to page_timeout (5s).
		site := newSite(t, middleware.Options{Timeout: 700 * time.Millisecond})
		start := time.Now()
		a := do(t, "GET", site.URL+"/never-idle", gptBot, nil)
		d := time.Since(start)
		if !a.app() || a.status != http.StatusOK {
			t.Fatalf("%d %.300s", a.status, a.body)
		}
		if d < 700*time.Millisecond || d > 4*time.Second {
			t.Fatalf("the fallback came after %s, want just past the 700ms timeout", d)
		}
	})
	t.Run("a wrong token is refused by prerenderd: the site answers", func(t *testing.T) {
		var logged bytes.Buffer
		var mu sync.Mutex
		site := newSite(t, middleware.Options{Token: "wrong", Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil))})
		a := do(t, "GET", site.URL+"/product", gptBot, nil)
		if !a.app() || a.status != http.StatusOK {
			t.Fatalf("%d %.300s", a.status, a.body)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logged.String(), "token-invalid") {
			t.Fatalf("the refusal was not logged: %q", logged.String())
		}
	})
}

func TestTheRequestPrerenderdGets(t *testing.T) {
	// A stand-in prerender service that records what reaches it: the one way to see
	// the bytes of the request line and the headers the middleware sends.
	var mu sync.Mutex
	var got *http.Request
	var uri string
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got, uri = r.Clone(r.Context()), r.RequestURI
		mu.Unlock()
		w.Header().Set("X-Prerender-Cache", "MISS")
		_, _ = io.WriteString(w, "<html>"+prerenderdtest.SiteHeading+"</html>")
	}))
	t.Cleanup(svc.Close)
	tests := []struct {
		name    string
		opts    middleware.Options
		path    string
		header  http.Header
		wantURI string
	}{
		{"the page URL goes byte for byte after the service's path", middleware.Options{},
			"/p/caf%C3%A9?q=a%20b&x=%2F", nil, "/render-svc/http://HOST/p/caf%C3%A9?q=a%20b&x=%2F"},
		{"forwarded scheme and host are used when trusted", middleware.Options{TrustForwarded: true},
			"/p", http.Header{"X-Forwarded-Proto": {"https, http"}, "X-Forwarded-Host": {"shop.example, proxy"}}, "/render-svc/https://shop.example/p"},
		{"forwarded scheme and host are ignored when not trusted", middleware.Options{},
			"/p", http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"shop.example"}}, "/render-svc/http://HOST/p"},
		{"a forwarded host that is no host is ignored", middleware.Options{TrustForwarded: true},
			"/p", http.Header{"X-Forwarded-Host": {"evil.example/x?"}}, "/render-svc/http://HOST/p"},
		{"Scheme and Host options win", middleware.Options{TrustForwarded: true, Scheme: "https", Host: "www.shop.example"},
			"/p", http.Header{"X-Forwarded-Host": {"shop.example"}}, "/render-svc/https://www.shop.example/p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ServiceURL = svc.URL + "/render-svc/"
			tc.opts.Token = "tok"
			site := newSite(t, tc.opts)
			h := http.Header{"Accept": {"text/markdown"}, "Accept-Language": {"fr"}, "Cookie": {"session=secret"}}
			for k, v := range tc.header {
				h[k] = v
			}
			a := do(t, "GET", site.URL+tc.path, gptBot, h)
			if !strings.Contains(a.body, prerenderdtest.SiteHeading) {
				t.Fatalf("%d %.200s", a.status, a.body)
			}
			mu.Lock()
			defer mu.Unlock()
			want := strings.ReplaceAll(tc.wantURI, "HOST", strings.TrimPrefix(site.URL, "http://"))
			if uri != want {
				t.Errorf("request URI %q, want %q", uri, want)
			}
			for k, v := range map[string]string{"User-Agent": gptBot, "Accept": "text/markdown", "Accept-Language": "fr", "X-Prerender-Token": "tok", "Cookie": ""} {
				if got.Header.Get(k) != v {
					t.Errorf("%s %q, want %q", k, got.Header.Get(k), v)
				}
			}
		})
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts middleware.Options
		want string
	}{
		{"no service URL", middleware.Options{}, "ServiceURL"},
		{"a service URL without scheme", middleware.Options{ServiceURL: "127.0.0.1:3000"}, "ServiceURL"},
		{"a negative timeout", middleware.Options{ServiceURL: "http://127.0.0.1:3000/", Timeout: -time.Second}, "Timeout"},
		{"an unknown scheme", middleware.Options{ServiceURL: "http://127.0.0.1:3000/", Scheme: "ftp"}, "Scheme"},
		{"a host with a path", middleware.Options{ServiceURL: "http://127.0.0.1:3000/", Host: "shop.example/x"}, "Host"},
		{"an extension without a dot", middleware.Options{ServiceURL: "http://127.0.0.1:3000/", IgnoreExtensions: []string{"js"}}, "IgnoreExtensions"},
		{"a two-letter crawler", middleware.Options{ServiceURL: "http://127.0.0.1:3000/", ExtraCrawlers: []string{"ab"}}, "ExtraCrawlers"},
	}
	for _, tc := range tests {
		t.Run("options with "+tc.name+" are refused", func(t *testing.T) {
			o := tc.opts
			o.EnsureDefaults()
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.want)
			}
			defer func() {
				if recover() == nil {
					t.Fatal("New did not panic")
				}
			}()
			middleware.New(tc.opts)
		})
	}
}

func TestExtraCrawlersAndSkip(t *testing.T) {
	site := newSite(t, middleware.Options{
		ExtraCrawlers: []string{"MyInternalBot"},
		Skip:          func(r *http.Request) bool { return r.URL.Query().Get("admin") == "1" },
	})
	if a := do(t, "GET", site.URL+"/product", "myinternalbot/2.0", nil); !a.rendered() {
		t.Fatalf("an extra crawler got %.300s", a.body)
	}
	if a := do(t, "GET", site.URL+"/product?admin=1", gptBot, nil); !a.app() {
		t.Fatalf("a skipped request got %.300s", a.body)
	}
}

func TestTheMiddlewareDependsOnTheStandardLibraryAndTheCrawlerListOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "prerenderd/middleware").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "prerenderd/middleware" && dep != "prerenderd/crawlers" {
			t.Errorf("the middleware depends on %s", dep)
		}
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
