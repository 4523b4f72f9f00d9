package deploy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"prerenderd/internal/prerenderdtest"
)

const (
	gptBot = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"
	chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// need finds a server the test runs; without it the test is skipped, unless CI is
// set: `make deps` installs nginx and Caddy.
func need(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
			if _, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
				return filepath.Join(dir, name)
			}
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s is not installed (make deps installs it): %v", name, err)
		}
		t.Skipf("%s is not installed (make deps installs it)", name)
	}
	return path
}

// proxyDir is a directory the proxy can use when the test runs as root and the
// proxy runs as nobody.
func proxyDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdproxy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Getuid() == 0 {
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const nobody = 65534

// startProxy runs cmd in the foreground, unprivileged (as nobody when the test runs
// as root), until the test ends, and waits until addr accepts connections.
func startProxy(t *testing.T, cmd *exec.Cmd, addr string) {
	t.Helper()
	// Pdeathsig: a test binary killed by its timeout leaves no proxy behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if os.Getuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	var out prerenderdtest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %v\n%s", cmd.Path, waitErr, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s after 15s:\n%s", cmd.Path, addr, out.String())
		}
	}
}

// startNginx serves deploy/nginx-prerenderd.conf, as committed, with its listen
// address and upstreams pointed at the test's.
func startNginx(t *testing.T, site, prerenderdAddr string) string {
	t.Helper()
	bin := need(t, "nginx")
	conf, err := os.ReadFile("nginx-prerenderd.conf")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := prerenderdtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := replaceOnce(t, string(conf), "listen 80;", "listen "+addr+";")
	s = replaceOnce(t, s, "server 127.0.0.1:8080;", "server "+site+";")
	s = replaceOnce(t, s, "server 127.0.0.1:3000;", "server "+prerenderdAddr+";")
	dir := proxyDir(t)
	main := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/prerenderd.conf;
}
`, dir)
	writeFile(t, filepath.Join(dir, "prerenderd.conf"), s)
	writeFile(t, filepath.Join(dir, "nginx.conf"), main)
	startProxy(t, exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf")), addr)
	return "http://" + addr
}

// startCaddy serves deploy/Caddyfile, as committed, with its site address and
// upstreams pointed at the test's, no admin endpoint and no automatic HTTPS.
func startCaddy(t *testing.T, site, prerenderdAddr string) string {
	t.Helper()
	bin := need(t, "caddy")
	conf, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := prerenderdtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := replaceOnce(t, string(conf), "example.com {", "http://"+addr+" {")
	s = strings.ReplaceAll(s, "reverse_proxy 127.0.0.1:8080", "reverse_proxy "+site)
	s = replaceOnce(t, s, "reverse_proxy 127.0.0.1:3000", "reverse_proxy "+prerenderdAddr)
	dir := proxyDir(t)
	s = "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n\tstorage file_system " + dir + "\n}\n\n" + s
	path := filepath.Join(dir, "Caddyfile")
	writeFile(t, path, s)
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	startProxy(t, cmd, addr)
	return "http://" + addr
}

func TestProxiesSendCrawlersToPrerenderdAndBrowsersToTheSite(t *testing.T) {
	// The site notes the pages prerenderd's Chromium asked for.
	var mu sync.Mutex
	rendered := map[string]bool{}
	app := prerenderdtest.Site()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.UserAgent(), " Prerender (prerenderd)") {
			mu.Lock()
			rendered[r.RequestURI] = true
			mu.Unlock()
		}
		app.ServeHTTP(w, r)
	}))
	t.Cleanup(site.Close)
	siteAddr := strings.TrimPrefix(site.URL, "http://")
	for _, proxy := range []struct {
		name  string
		start func(*testing.T, string, string) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(proxy.name, func(t *testing.T) {
			need(t, proxy.name)
			front := proxy.start(t, siteAddr, prerenderd(t).Addr)
			tests := []struct {
				name         string
				method, path string
				ua           string
				header       http.Header
				want         string // rendered, app, or a body the site answers
				status       int
			}{
				{"GPTBot gets the rendered page", "GET", "/product", gptBot, nil, "rendered", 200},
				{"a crawler's query string reaches prerenderd whole", "GET", "/product?color=oak&id=2", gptBot, nil, "rendered", 200}, // sorted: prerenderd sorts parameters
				{"Chrome gets the app", "GET", "/product", chrome, nil, "app", 200},
				// prerenderd turns ?_escaped_fragment_= back into the #! URL: Chromium loads /product.
				{"a browser asking for _escaped_fragment_ gets the rendered page", "GET", "/product?_escaped_fragment_=", chrome, nil, "rendered", 200},
				{"a crawler's request for a script gets the script", "GET", "/app.js", gptBot, nil, `fetch("/api/product")`, 200},
				{"a crawler's POST reaches the site", "POST", "/product", gptBot, nil, "posted", 200},
				{"a request with X-Prerender: 1 reaches the site", "GET", "/product", gptBot, http.Header{"X-Prerender": {"1"}}, "app", 200},
				{"prerenderd's own Chromium reaches the site", "GET", "/product", chrome + " prerenderd", nil, "app", 200},
				{"a page that declares a 301 is a 301, not followed", "GET", "/moved", gptBot, nil, "", 301},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					status, h, body := fetch(t, tc.method, front+tc.path, tc.ua, tc.header)
					if status != tc.status {
						t.Fatalf("status %d, want %d: %v %.300s", status, tc.status, h, body)
					}
					if tc.want == "rendered" {
						mu.Lock()
						loaded := tc.path
						if p, ok := strings.CutSuffix(loaded, "?_escaped_fragment_="); ok {
							loaded = p
						}
						saw := rendered[loaded]
						mu.Unlock()
						if !saw {
							t.Errorf("prerenderd's Chromium never asked the site for %s (it asked for %v)", loaded, rendered)
						}
					}
					switch tc.want {
					case "":
						if !strings.HasSuffix(h.Get("Location"), "/product") {
							t.Fatalf("Location %q", h.Get("Location"))
						}
					case "rendered":
						if !strings.Contains(body, prerenderdtest.SiteHeading) || strings.Contains(body, "<script") || h.Get("X-Prerender-Cache") == "" {
							t.Fatalf("not the rendered page: %v %.500s", h, body)
						}
					case "app":
						if !strings.Contains(body, prerenderdtest.SiteShell) || h.Get("X-Prerender-Cache") != "" {
							t.Fatalf("not the app: %v %.500s", h, body)
						}
					default:
						if !strings.Contains(body, tc.want) || h.Get("X-Prerender-Cache") != "" {
							t.Fatalf("want the site's %q: %v %.300s", tc.want, h, body)
						}
					}
				})
			}
		})
	}
}

func TestProxiesSendCrawlersToTheSiteWhenPrerenderdIsDown(t *testing.T) {
	site := httptest.NewServer(prerenderdtest.Site())
	t.Cleanup(site.Close)
	down, err := prerenderdtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	for _, proxy := range []struct {
		name  string
		start func(*testing.T, string, string) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(proxy.name, func(t *testing.T) {
			need(t, proxy.name)
			front := proxy.start(t, strings.TrimPrefix(site.URL, "http://"), down)
			status, h, body := fetch(t, "GET", front+"/product?id=3", gptBot, nil)
			if status != http.StatusOK || !strings.Contains(body, prerenderdtest.SiteShell) {
				t.Fatalf("%d %v %.300s", status, h, body)
			}
		})
	}
}

func TestSystemdUnitVerifies(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile("prerenderd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=prerenderd", "MemoryMax=", "NoNewPrivileges=yes", "PrivateTmp=yes"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("the unit has no %s", want)
		}
	}
	// verify checks that ExecStart exists: point it at an executable that does.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prerenderd.service")
	writeFile(t, path, strings.ReplaceAll(string(unit), "/usr/local/bin/prerenderd", self))
	out, err := exec.Command(bin, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "security", "--offline=true", "--threshold=30", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: exposure above 3.0: %v\n%s", err, out)
	}
	t.Logf("%s", lastLine(out))
}

func fetch(t *testing.T, method, url, ua string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", ua)
	client := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("the committed config has %q %d times, the test expects it once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
