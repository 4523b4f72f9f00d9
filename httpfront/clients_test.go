package httpfront

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The real clients that users run in front of prerenderd: prerender-node 3.8.3 in
// an Express 5 app, and nginx with prerender.io's nginx configuration. Both serve
// the single-page app of testdata/clients/site and send crawlers to one
// prerenderd (the shared appliance of this test binary).

// shopHost is the site's name behind nginx. nginx's configuration names the
// target "$scheme://$host$request_uri", and $host has no port, so Chromium must
// find http://shop.test on port 80: its host resolver rules send it to
// shopForward, which forwards to the nginx of the test, on a random port.
const shopHost = "shop.test"

// shopForward is the TCP forwarder Chromium's "MAP shop.test …" rule points at;
// it is started by TestMain, before Chromium, and aimed at nginx by the test.
var shopForward *forwarder

const (
	uaGooglebot       = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaGooglebotMobile = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaGPTBot          = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
	uaBrowser         = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// clientPages are the URLs a crawler asks the site for, and what the rendered
// page must say it was loaded at.
var clientPages = []struct{ name, uri, where string }{
	{"an encoded query with %20 and UTF-8", "/search?q=a%20b&x=%E6%97%A5", "where=/search?q=a%20b&x=%E6%97%A5"},
	{"a plus in the query", "/search?q=a+b", "where=/search?q=a+b"},
	{"a non-ASCII path", "/caf%C3%A9", "where=/caf%C3%A9"},
	{"an escaped fragment", "/?_escaped_fragment_=/products/1", "where=/#!/products/1"},
}

func clientsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "clients")
}

// needTool returns the path of a tool the test runs, or skips the test where it
// is missing outside CI (in CI a missing tool fails: make testdeps installs it).
func needTool(t *testing.T, name string, alt ...string) string {
	t.Helper()
	for _, n := range append([]string{name}, alt...) {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; make testdeps installs it", name)
	}
	t.Skipf("%s is not installed (make testdeps installs it); skipping the real-client test", name)
	return ""
}

// checkClientAnswers asks the site for every client page as each user agent and
// checks that crawlers get the rendered page and a browser the app.
func checkClientAnswers(t *testing.T, site, host string, crawlers, notCrawlers []string) {
	t.Helper()
	for _, p := range clientPages {
		for _, ua := range crawlers {
			t.Run(p.name+" is rendered for "+uaName(ua), func(t *testing.T) {
				a := getAs(t, site, p.uri, ua, host)
				if a.status != 200 || !strings.Contains(a.body, "Walnut desk lamp") || !strings.Contains(a.body, html.EscapeString(p.where)) {
					t.Fatalf("answered %d (%s) without %q: %.500s", a.status, a.header.Get("X-Prerender-Reject-Reason"), p.where, a.body)
				}
				if strings.Contains(a.body, "<script") {
					t.Fatalf("the rendered page still has its scripts: %.300s", a.body)
				}
			})
		}
		if strings.Contains(p.uri, "_escaped_fragment_") {
			continue // asks for the rendered page whoever asks
		}
		for _, ua := range notCrawlers {
			t.Run(p.name+" is the app for "+uaName(ua), func(t *testing.T) {
				a := getAs(t, site, p.uri, ua, host)
				if a.status != 200 || !strings.Contains(a.body, "Loading…") || !strings.Contains(a.body, "<script") || strings.Contains(a.body, "Walnut desk lamp") {
					t.Fatalf("answered %d, not the app: %.300s", a.status, a.body)
				}
			})
		}
	}
}

// getAs asks the site for uri as a client with user agent ua, naming host.
func getAs(t *testing.T, site, uri, ua, host string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, site, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = uri // byte for byte, as a crawler sends it
	req.Host = host
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func uaName(ua string) string {
	switch ua {
	case uaGooglebot:
		return "Googlebot"
	case uaGooglebotMobile:
		return "Googlebot smartphone"
	case uaGPTBot:
		return "GPTBot"
	case uaBrowser:
		return "a browser"
	}
	return ua
}

func TestPrerenderNodeInExpressInFrontOfPrerenderd(t *testing.T) {
	npm := needTool(t, "npm")
	node := needTool(t, "node", "nodejs")
	installClients(t, npm)
	front := newFront(t, Config{AllowPrivate: true}).URL

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, filepath.Join(clientsDir(), "express-app.js"))
	cmd.Env = append(os.Environ(), "PRERENDER_SERVICE_URL="+front+"/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		// Owned by cmd: it ends when the app's stdout closes, at its exit.
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
	}()
	var site string
	select {
	case p := <-port:
		site = "http://127.0.0.1:" + p
	case <-time.After(20 * time.Second):
		t.Fatal("the Express app did not listen within 20s")
	}
	host := strings.TrimPrefix(site, "http://")
	checkClientAnswers(t, site, host, []string{uaGooglebot, uaGPTBot, uaGooglebotMobile}, []string{uaBrowser})
}

func TestNginxWithPrerenderIOsConfigurationInFrontOfPrerenderd(t *testing.T) {
	nginx := needTool(t, "nginx", "/usr/sbin/nginx")
	front := newFront(t, Config{AllowPrivate: true}).URL
	site := startNginx(t, nginx, strings.TrimPrefix(front, "http://"))
	shopForward.aim(strings.TrimPrefix(site, "http://"))
	t.Cleanup(func() { shopForward.aim("") })

	// prerender.io's configuration lists no AI crawler: GPTBot gets the app, as
	// it does behind prerender.io with that configuration.
	checkClientAnswers(t, site, shopHost, []string{uaGooglebot, uaGooglebotMobile}, []string{uaBrowser, uaGPTBot})
}

var clientsInstall struct {
	once sync.Once
	err  error
}

// installClients installs testdata/clients from its package-lock.json (npm ci)
// unless the pinned prerender-node is there already.
func installClients(t *testing.T, npm string) {
	t.Helper()
	clientsInstall.once.Do(func() {
		b, err := os.ReadFile(filepath.Join(clientsDir(), "node_modules", "prerender-node", "package.json"))
		if err == nil && strings.Contains(string(b), `"version": "3.8.3"`) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = clientsDir()
		if out, err := cmd.CombinedOutput(); err != nil {
			clientsInstall.err = fmt.Errorf("npm ci in %s: %w\n%s", cmd.Dir, err, out)
		}
	})
	if clientsInstall.err != nil {
		t.Fatal(clientsInstall.err)
	}
}

// startNginx runs nginx in the foreground on a free loopback port with
// testdata/clients/nginx.conf, as nobody when the test runs as root, and
// returns its URL.
func startNginx(t *testing.T, nginx, upstream string) string {
	t.Helper()
	conf, err := os.ReadFile(filepath.Join(clientsDir(), "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "prerenderd-nginx-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// nginx runs as nobody: it writes its pid, logs and buffers here.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "site"), os.DirFS(filepath.Join(clientsDir(), "site"))); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		text := strings.NewReplacer("{{DIR}}", dir, "{{PORT}}", port, "{{UPSTREAM}}", upstream).Replace(string(conf))
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(nginx, "-e", "stderr", "-p", dir, "-c", path)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if os.Geteuid() == 0 {
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := "127.0.0.1:" + port
		if err := waitListening(addr, exited); err != nil {
			if attempt < 3 {
				continue // the port was taken meanwhile: try another
			}
			t.Fatalf("nginx did not start: %v", err)
		}
		t.Cleanup(func() {
			// SIGQUIT: nginx's graceful stop, for the master and its worker.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGQUIT)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		})
		return "http://" + addr
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// waitListening waits until addr accepts a connection, or the process ended.
func waitListening(addr string, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("nginx exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("not listening after 10s")
		}
	}
}

// forwarder copies TCP connections to the address it is aimed at; with none, it
// closes them.
type forwarder struct {
	ln     net.Listener
	target atomic.Pointer[string]
	wg     sync.WaitGroup
}

func startForwarder() (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln}
	f.wg.Go(f.serve)
	return f, nil
}

func (f *forwarder) addr() string { return f.ln.Addr().String() }

func (f *forwarder) aim(addr string) { f.target.Store(&addr) }

func (f *forwarder) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() {
			defer c.Close()
			to := f.target.Load()
			if to == nil || *to == "" {
				return
			}
			up, err := net.DialTimeout("tcp", *to, 5*time.Second)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(up, c)
				_ = up.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			_, _ = io.Copy(c, up)
			_ = c.(*net.TCPConn).CloseWrite()
			<-done
		})
	}
}

// close stops accepting and waits for the connections being copied.
func (f *forwarder) close() {
	f.ln.Close()
	f.wg.Wait()
}
