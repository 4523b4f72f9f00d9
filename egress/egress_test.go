package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"prerenderd/netguard"
)

// server is a loopback HTTP server that counts what it receives.
type server struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	seen []string
}

func newServer(t *testing.T, addr string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		fmt.Fprintf(w, "served %s %s", r.Method, r.URL.Path)
	}))
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) hostport() string { return strings.TrimPrefix(s.URL, "http://") }

func (s *server) port() string {
	_, p, _ := net.SplitHostPort(s.hostport())
	return p
}

func startProxy(t *testing.T, opts Options) *Proxy {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	p, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func policy(t *testing.T, addrs ...string) *netguard.Policy {
	t.Helper()
	pol, err := netguard.NewPolicy(false, addrs)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// client sends every request through p, as Chromium does.
func client(p *Proxy) *http.Client {
	u, _ := url.Parse("http://" + p.Addr())
	return &http.Client{
		Transport:     &http.Transport{Proxy: http.ProxyURL(u), DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// connect opens a CONNECT tunnel to target through p and returns the proxy's
// status and, on 200, the tunnel.
func connect(t *testing.T, p *Proxy, target string) (int, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return resp.StatusCode, nil
	}
	return resp.StatusCode, &bufConn{Conn: c, r: br}
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// getOver sends one GET over an open tunnel.
func getOver(t *testing.T, c net.Conn, host, path string) string {
	t.Helper()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s over the tunnel: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestTheRuleAppliesToForwardedRequestsAndTunnels(t *testing.T) {
	origin := newServer(t, "127.0.0.1:0")
	internal := newServer(t, "127.0.0.1:0")
	p := startProxy(t, Options{Policy: policy(t, origin.hostport())})
	c := client(p)

	t.Run("a plain request to the allowed origin is forwarded", func(t *testing.T) {
		resp, err := c.Get(origin.URL + "/page")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "served GET /page" || resp.Header.Get(Header) != "" {
			t.Fatalf("%d %q %q", resp.StatusCode, b, resp.Header.Get(Header))
		}
	})
	t.Run("a tunnel to the allowed origin carries its bytes", func(t *testing.T) {
		status, tun := connect(t, p, origin.hostport())
		if status != 200 {
			t.Fatalf("CONNECT: %d", status)
		}
		defer tun.Close()
		if got := getOver(t, tun, origin.hostport(), "/tunnelled"); got != "served GET /tunnelled" {
			t.Fatalf("over the tunnel: %q", got)
		}
	})
	for _, tc := range []struct {
		name   string
		target string // host:port asked for
	}{
		{"another loopback address on the allowed port", "127.0.0.2:" + origin.port()},
		{"the allowed address on another port", internal.hostport()},
		{"localhost on the allowed port, since ::1 is not allowed", "localhost:" + origin.port()},
		{"a name under localhost", "foo.localhost:" + internal.port()},
		{"an IPv4-mapped loopback", "[::ffff:127.0.0.1]:" + internal.port()},
		{"the metadata address", "169.254.169.254:80"},
		{"the unspecified address", "0.0.0.0:" + internal.port()},
		{"the proxy itself", p.Addr()},
	} {
		t.Run(tc.name+" is refused in a plain request", func(t *testing.T) {
			before := internal.hits.Load()
			resp, err := c.Get("http://" + tc.target + "/secret")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get(Header) != netguard.ReasonPrivateAddress || strings.Contains(string(b), "served") {
				t.Fatalf("%d %q %q", resp.StatusCode, resp.Header.Get(Header), b)
			}
			if internal.hits.Load() != before {
				t.Fatal("the internal server received the request")
			}
		})
		t.Run(tc.name+" is refused as a tunnel", func(t *testing.T) {
			before := internal.hits.Load()
			if status, _ := connect(t, p, tc.target); status != http.StatusForbidden {
				t.Fatalf("CONNECT %s: %d", tc.target, status)
			}
			if internal.hits.Load() != before {
				t.Fatal("the internal server received the request")
			}
		})
	}
	t.Run("a name that does not resolve is a DNS failure", func(t *testing.T) {
		resp, err := c.Get("http://nowhere.invalid/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(Header) != netguard.ReasonDNS {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get(Header))
		}
	})
	t.Run("an origin that refuses the connection is a connect failure", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		closed := ln.Addr().String()
		ln.Close()
		p := startProxy(t, Options{Policy: policy(t, closed)})
		resp, err := client(p).Get("http://" + closed + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(Header) != ReasonConnectFailed {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get(Header))
		}
		if err := p.Failure(closed, time.Now().Add(-time.Minute)); err == nil || errors.As(err, new(*netguard.Rejection)) {
			t.Fatalf("Failure = %v, want a dial error", err)
		}
	})
	if n := internal.hits.Load(); n != 0 {
		t.Fatalf("the internal server received %d requests", n)
	}
}

func TestAllowPrivateLetsLoopbackThroughButNeverTheProxyItself(t *testing.T) {
	internal := newServer(t, "127.0.0.1:0")
	p := startProxy(t, Options{Policy: netguard.Everything})
	resp, err := client(p).Get(internal.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || internal.hits.Load() != 1 {
		t.Fatalf("allow_private: %d, %d hits", resp.StatusCode, internal.hits.Load())
	}
	if status, _ := connect(t, p, p.Addr()); status != http.StatusForbidden {
		t.Fatalf("a tunnel to the proxy itself: %d", status)
	}
}

// rebinder answers DNS for rebind.example with the allowed address the first
// time and the internal one afterwards, as a hostile DNS server would.
type rebinder struct {
	calls           atomic.Int64
	first, rebinded netip.Addr
}

func (r *rebinder) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host != "rebind.example" {
		return nil, errors.New("no such host")
	}
	if r.calls.Add(1) == 1 {
		return []netip.Addr{r.first}, nil
	}
	return []netip.Addr{r.rebinded}, nil
}

func TestAHostIsResolvedOnceAndTheCheckedAddressIsDialled(t *testing.T) {
	origin := newServer(t, "127.0.0.1:0")
	// The internal server listens on the same port at another loopback address:
	// only the resolved address tells them apart.
	internal := newServer(t, "127.0.0.2:"+origin.port())
	allow := policy(t, origin.hostport())
	for _, tunnel := range []bool{false, true} {
		name := "a plain request"
		if tunnel {
			name = "a tunnel"
		}
		t.Run(name, func(t *testing.T) {
			dns := &rebinder{first: netip.MustParseAddr("127.0.0.1"), rebinded: netip.MustParseAddr("127.0.0.2")}
			p := startProxy(t, Options{Policy: allow, Resolver: dns})
			target := "rebind.example:" + origin.port()
			get := func() (int, string) {
				if tunnel {
					status, tun := connect(t, p, target)
					if tun == nil {
						return status, ""
					}
					defer tun.Close()
					return status, getOver(t, tun, target, "/page")
				}
				resp, err := client(p).Get("http://" + target + "/page")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			before := origin.hits.Load()
			if status, body := get(); status != 200 || body != "served GET /page" {
				t.Fatalf("first request: %d %q", status, body)
			}
			if dns.calls.Load() != 1 || origin.hits.Load() != before+1 {
				t.Fatalf("first request: %d lookups, %d origin hits; want 1 and 1", dns.calls.Load(), origin.hits.Load()-before)
			}
			// The name now points inside: checked again, refused, never dialled.
			if status, _ := get(); status != http.StatusForbidden {
				t.Fatalf("after rebinding: %d", status)
			}
			if dns.calls.Load() != 2 {
				t.Fatalf("%d lookups for two requests", dns.calls.Load())
			}
			if n := internal.hits.Load(); n != 0 {
				t.Fatalf("the internal server received %d requests", n)
			}
		})
	}
}

func TestOnlyTheDemoOfPrerenderdsOwnListenerPasses(t *testing.T) {
	self := newServer(t, "127.0.0.1:0")
	for _, pol := range []*netguard.Policy{nil, netguard.Everything} {
		p := startProxy(t, Options{Policy: pol, Self: self.hostport()})
		c := client(p)
		name := "refusing private addresses"
		if pol.AllowsPrivate() {
			name = "with allow_private"
		}
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name, method, url string
				passes            bool
			}{
				{"GET of the demo passes", "GET", self.URL + "/demo/", true},
				{"GET of a demo asset passes", "GET", self.URL + "/demo/app.js", true},
				{"HEAD of the demo passes", "HEAD", self.URL + "/demo", true},
				{"GET of the demo by localhost passes", "GET", "http://localhost:" + self.port() + "/demo/", true},
				{"POST to the demo is refused", "POST", self.URL + "/demo/", false},
				{"the admin API is refused", "POST", self.URL + "/cache-clear", false},
				{"GET of a page render is refused", "GET", self.URL + "/http://127.0.0.1:1/", false},
				{"a dot segment out of the demo is refused", "GET", self.URL + "/demo/../cache-clear", false},
				{"an escaped dot segment out of the demo is refused", "GET", self.URL + "/demo/%2e%2e/cache-clear", false},
				{"an escaped slash is refused", "GET", self.URL + "/demo%2f..%2fmetrics", false},
				{"another loopback address on the listener's port is refused", "GET", "http://127.0.0.2:" + self.port() + "/metrics", false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := self.hits.Load()
					req, _ := http.NewRequest(tc.method, tc.url, nil)
					resp, err := c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					reached := self.hits.Load() != before
					if tc.passes != (resp.StatusCode == 200 && reached) || (!tc.passes && reached) {
						t.Fatalf("%s %s: %d, reached the listener %v", tc.method, tc.url, resp.StatusCode, reached)
					}
				})
			}
			if status, _ := connect(t, p, self.hostport()); status != http.StatusForbidden {
				t.Fatalf("a tunnel to the listener: %d", status)
			}
		})
	}
}

func TestFailureRemembersTheLastOutcomeSinceAMoment(t *testing.T) {
	origin := newServer(t, "127.0.0.1:0")
	p := startProxy(t, Options{Policy: policy(t, origin.hostport())})
	c := client(p)
	key := "127.0.0.1:" + origin.port()
	other := "127.0.0.1:1"
	begin := time.Now()
	resp, _ := c.Get("http://" + other + "/")
	resp.Body.Close()
	var rej *netguard.Rejection
	if err := p.Failure(other, begin); !errors.As(err, &rej) || rej.Reason != netguard.ReasonPrivateAddress {
		t.Fatalf("Failure after a refusal = %v", err)
	}
	if err := p.Failure(other, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("a refusal before since counts: %v", err)
	}
	if err := p.Failure(key, begin); err != nil {
		t.Fatalf("an address never asked for failed: %v", err)
	}
	if err := p.Failure("localhost:"+origin.port(), begin); err != nil {
		t.Fatalf("another spelling of the address failed: %v", err)
	}
}

func TestCloseEndsOpenTunnelsAndWaits(t *testing.T) {
	// The upstream accepts and never answers: only Close can end the tunnel.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p, err := Start(Options{Policy: policy(t, ln.Addr().String()), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	status, tun := connect(t, p, ln.Addr().String())
	if status != 200 {
		t.Fatalf("CONNECT: %d", status)
	}
	defer tun.Close()
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a tunnel open")
	}
	tun.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := tun.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the tunnel is still open after Close: %v", err)
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("the proxy still accepts connections after Close")
	}
}

func TestOptionsValidateNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		opts  Options
		field string
	}{
		{Options{Self: "localhost:3000"}, "Self"},
		{Options{Self: "127.0.0.1"}, "Self"},
		{Options{Self: "127.0.0.1:0"}, "Self"},
		{Options{DialTimeout: -time.Second}, "DialTimeout"},
	} {
		tc.opts.EnsureDefaults()
		if err := tc.opts.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.opts, err, tc.field)
		}
	}
}
