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
	"net/http/httputil"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"prerenderd/netguard"
)

// Header is set on every answer the proxy makes itself (a refusal, a failed
// dial), with the reason as its value. It is a hint only: an origin can send it
// too, so the browser confirms it with Proxy.Failure.
const Header = netguard.EgressHeader

// ReasonConnectFailed is the Header value of a dial or an exchange with the
// origin that failed; refusals carry the netguard reason.
const ReasonConnectFailed = "connect-failed"

const (
	defaultDialTimeout = 10 * time.Second
	// failureTTL is how long a failure is remembered for Failure: longer than
	// any render.
	failureTTL = 5 * time.Minute
	// maxFailures bounds the memory of failures; past it the old ones go.
	maxFailures = 4096
)

// Options configure a Proxy. The zero value is usable after EnsureDefaults.
type Options struct {
	// Policy is the address rule; nil refuses every non-public address.
	Policy *netguard.Policy
	// Self is prerenderd's own listener (server.listen as bound, "127.0.0.1:3000"):
	// on its port, loopback is refused except for GET and HEAD of /demo and
	// /demo/…, whatever Policy says. "" = no demo.
	Self string
	// Resolver replaces DNS (tests); nil = the system's resolver.
	Resolver netguard.Resolver
	// Hosts sends a "host:port" a page names to another "address:port", as
	// Chromium's --host-resolver-rules MAP would without a proxy: tests put a
	// site that a middleware names by host alone ("shop.test:80") on a loopback
	// port. The address is checked by Policy like any other. Empty in production.
	Hosts       map[string]string
	DialTimeout time.Duration // default 10s, for all the addresses of one host
	Logger      *slog.Logger
	// Metrics receives prerender_egress_requests_total; nil = a set of the
	// proxy's own.
	Metrics *metrics.Set
}

// EnsureDefaults fills the zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.DialTimeout == 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
}

// Validate reports the first field that cannot work, by name.
func (o *Options) Validate() error {
	if o.DialTimeout <= 0 {
		return fmt.Errorf("invalid DialTimeout %s: must be positive", o.DialTimeout)
	}
	if o.Self != "" {
		if _, err := parseSelf(o.Self); err != nil {
			return fmt.Errorf("invalid Self %q: %w", o.Self, err)
		}
	}
	for from, to := range o.Hosts {
		if _, err := netip.ParseAddrPort(to); err != nil {
			return fmt.Errorf("invalid Hosts[%q] %q: want address:port: %w", from, to, err)
		}
	}
	return nil
}

// parseSelf reads a listen address; an empty host is the unspecified address.
func parseSelf(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", port)
	}
	a := netip.IPv4Unspecified()
	if host != "" {
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, errors.New("want an IP address and a port")
		}
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(n)), nil
}

// Proxy is a running egress proxy. Its methods are safe for concurrent use.
type Proxy struct {
	opts      Options
	log       *slog.Logger
	ln        net.Listener
	addr      netip.AddrPort // where the proxy listens
	self      netip.AddrPort // Options.Self; zero when none
	srv       *http.Server
	transport *http.Transport
	forwarder *httputil.ReverseProxy
	// ctx ends at Close: it is the base of every request, so dials and
	// exchanges in flight end with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool                  // INVARIANT: once set under mu, handlers.Add and tunnel tracking never happen again
	tunnels  map[net.Conn]struct{} // both ends of every open CONNECT tunnel
	handlers sync.WaitGroup        // running ServeHTTP calls
	serve    sync.WaitGroup        // the Serve goroutine

	failMu   sync.Mutex
	failures map[string]failure // by host:port

	requests map[string]*metrics.Counter // by result
}

type failure struct {
	at  time.Time
	err error
}

// Results of a request, the values of the metric's label.
const (
	resultAllowed = "allowed"
	resultRefused = "refused"
	resultDNS     = "dns_failure"
	resultFailed  = "failed"
)

// Start listens on a loopback port of its own and serves until Close.
func Start(opts Options) (*Proxy, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("cannot start egress proxy: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot start egress proxy: %w", err)
	}
	p := &Proxy{
		opts:     opts,
		log:      opts.Logger.With("component", "egress"),
		ln:       ln,
		addr:     ln.Addr().(*net.TCPAddr).AddrPort(),
		tunnels:  make(map[net.Conn]struct{}),
		failures: make(map[string]failure),
		requests: make(map[string]*metrics.Counter),
	}
	if opts.Self != "" {
		p.self, _ = parseSelf(opts.Self) // checked by Validate
	}
	for _, r := range []string{resultAllowed, resultRefused, resultDNS, resultFailed} {
		p.requests[r] = opts.Metrics.NewCounter(`prerender_egress_requests_total{result="` + r + `"}`)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.transport = &http.Transport{
		Proxy:              nil, // never a proxy from the environment: the dial is ours
		DialContext:        p.dialPlanned,
		DisableCompression: true, // Chromium's Accept-Encoding goes through as it is
		// As many as Chromium opens to one proxy (32): fewer would close
		// and dial again the connections of a page's parallel requests.
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     30 * time.Second,
	}
	p.forwarder = &httputil.ReverseProxy{
		// Rewrite (not Director) adds no X-Forwarded-* header.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = pr.In.URL
			pr.Out.Host = pr.In.Host
		},
		Transport:     p.transport,
		FlushInterval: -1, // event streams and long polls reach the page as they come
		ErrorLog:      slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // Chromium gave up on the request (or the proxy stops): not a failure of the origin
			}
			key := r.URL.Host
			if plan, ok := r.Context().Value(planKey{}).(*dialPlan); ok {
				key = plan.key
			}
			p.refuse(w, nil, key, fmt.Errorf("cannot fetch %s: %w", r.URL.Redacted(), err))
		},
	}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return p.ctx },
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	p.serve.Go(func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("egress proxy stopped serving", "err", err)
		}
	})
	p.log.Info("egress proxy started", "addr", p.addr.String(), "allow_private", opts.Policy.AllowsPrivate(), "self", opts.Self)
	return p, nil
}

// Addr is the proxy's host:port, for Chromium's --proxy-server.
func (p *Proxy) Addr() string { return p.addr.String() }

// WritePrometheus writes the proxy's metrics when they are in a set of its own.
func (p *Proxy) WritePrometheus(w io.Writer) { p.opts.Metrics.WritePrometheus(w) }

// Failure returns why the proxy last failed to connect to hostport ("host:port"
// as Chromium asks for it, host in lowercase, an IPv6 host in brackets), if that
// happened at or after since: a *netguard.Rejection for a refusal, another error
// for a dial or an exchange that failed; nil when it did not fail since then. A
// later success does not clear a failure: the browser asks only about a
// document that failed or that the proxy answered itself (with Header), and
// then the proxy's last failure of that host:port is the one it saw.
func (p *Proxy) Failure(hostport string, since time.Time) error {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	f, ok := p.failures[hostport]
	if !ok || f.at.Before(since) {
		return nil
	}
	return f.err
}

func (p *Proxy) remember(key string, err error) {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	now := time.Now()
	if len(p.failures) >= maxFailures {
		for k, f := range p.failures {
			if now.Sub(f.at) > failureTTL {
				delete(p.failures, k)
			}
		}
		if len(p.failures) >= maxFailures {
			clear(p.failures)
		}
	}
	p.failures[key] = failure{at: now, err: err}
}

// Close stops the listener, ends every tunnel and request in flight and waits
// for them. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := make([]net.Conn, 0, len(p.tunnels))
	for c := range p.tunnels {
		conns = append(conns, c)
	}
	p.mu.Unlock()

	p.cancel()
	err := p.srv.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	p.handlers.Wait()
	p.serve.Wait()
	p.transport.CloseIdleConnections()
	p.log.Info("egress proxy stopped")
	if err != nil {
		return fmt.Errorf("cannot close egress proxy: %w", err)
	}
	return nil
}

func (p *Proxy) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.handlers.Add(1)
	return true
}

// ServeHTTP serves CONNECT tunnels and absolute-form http:// requests, the two
// things Chromium asks of an HTTP proxy.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.enter() {
		http.Error(w, "egress proxy is stopping", http.StatusServiceUnavailable)
		return
	}
	defer p.handlers.Done()
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() || r.URL.Scheme != "http" || r.URL.Host == "" {
		http.Error(w, "egress proxy: want CONNECT or an absolute http:// URL", http.StatusBadRequest)
		return
	}
	p.forward(w, r)
}

// target is one host:port a request asks for, after its check.
type target struct {
	host  string // lowercase, without brackets
	port  uint16
	key   string // host:port, the key of Failure
	addrs []netip.Addr
	own   bool // prerenderd's listener: the demo
}

func splitTarget(hostport string, defaultPort uint16) (string, uint16, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		if defaultPort == 0 {
			return "", 0, err
		}
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), strconv.Itoa(int(defaultPort))
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || host == "" {
		return "", 0, fmt.Errorf("bad target %q", hostport)
	}
	return strings.ToLower(host), uint16(n), nil
}

// check resolves the target once and applies the rule. tunnel is a CONNECT;
// r is the request, whose method and path decide whether the demo may pass.
func (p *Proxy) check(ctx context.Context, hostport string, defaultPort uint16, r *http.Request, tunnel bool) (*target, error) {
	host, port, err := splitTarget(hostport, defaultPort)
	if err != nil {
		return nil, &netguard.Rejection{Reason: netguard.ReasonPrivateAddress, Detail: err.Error()}
	}
	t := &target{host: host, port: port, key: net.JoinHostPort(host, strconv.Itoa(int(port)))}
	if to, ok := p.opts.Hosts[t.key]; ok {
		ap := netip.MustParseAddrPort(to) // checked by Validate
		t.addrs, t.port, port = []netip.Addr{ap.Addr()}, ap.Port(), ap.Port()
	} else if t.addrs, err = netguard.Resolve(ctx, p.opts.Resolver, host); err != nil {
		return t, err
	}
	if p.ownAny(t.addrs, port) {
		if !tunnel && p.ownAll(t.addrs, port) && p.isSelfPort(port) && demoRequest(r) {
			t.own = true
			return t, nil
		}
		return t, &netguard.Rejection{Reason: netguard.ReasonPrivateAddress, Detail: fmt.Sprintf("%s is prerenderd's own address", t.key)}
	}
	return t, p.opts.Policy.AllowedAll(host, t.addrs, port)
}

func (p *Proxy) isSelfPort(port uint16) bool { return p.self.IsValid() && p.self.Port() == port }

// isOwn: a on port reaches the proxy itself or prerenderd's listener. A
// listener on the unspecified address takes every loopback address.
func (p *Proxy) isOwn(a netip.Addr, port uint16) bool {
	a = a.Unmap()
	local := a.IsLoopback() || a.IsUnspecified()
	if port == p.addr.Port() && (local || a == p.addr.Addr()) {
		return true
	}
	return p.isSelfPort(port) && (local || a == p.self.Addr())
}

func (p *Proxy) ownAny(addrs []netip.Addr, port uint16) bool {
	return slices.ContainsFunc(addrs, func(a netip.Addr) bool { return p.isOwn(a, port) })
}

func (p *Proxy) ownAll(addrs []netip.Addr, port uint16) bool {
	for _, a := range addrs {
		if !p.isOwn(a, port) {
			return false
		}
	}
	return true
}

// demoRequest: GET or HEAD of /demo or a clean path under /demo/ (no dot
// segment, no escaped slash), which prerenderd's router serves from the demo
// and nothing else.
func demoRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	path := r.URL.Path
	if r.URL.RawPath != "" || strings.Contains(path, "\\") {
		return false
	}
	if path != "/demo" && !strings.HasPrefix(path, "/demo/") {
		return false
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// refuse answers a refused request and remembers why.
func (p *Proxy) refuse(w http.ResponseWriter, t *target, hostport string, err error) {
	key := hostport
	if t != nil {
		key = t.key
	}
	p.remember(key, err)
	var rej *netguard.Rejection
	reason, status, result := ReasonConnectFailed, http.StatusBadGateway, resultFailed
	if errors.As(err, &rej) {
		reason = rej.Reason
		if rej.Reason == netguard.ReasonDNS {
			result = resultDNS
		} else {
			status, result = http.StatusForbidden, resultRefused
		}
	}
	p.requests[result].Inc()
	if result == resultRefused {
		p.log.Info("egress refused", "target", key, "reason", reason, "detail", rej.Detail)
	} else {
		p.log.Debug("egress failed", "target", key, "reason", reason, "err", err)
	}
	// The page may read this answer (fetch): it names the reason only, not
	// what a name resolved to.
	h := w.Header()
	h.Set(Header, reason)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "prerenderd egress: "+reason+"\n")
}

// dial connects to the first of t's addresses that answers. The dialer's
// control applies the rule once more to the address actually dialled, and
// only an address that was checked may be dialled: no name is resolved here.
func (p *Proxy) dial(ctx context.Context, t *target) (net.Conn, error) {
	d := net.Dialer{
		Timeout: p.opts.DialTimeout,
		ControlContext: func(_ context.Context, network, address string, c syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !slices.Contains(t.addrs, ap.Addr()) {
				return &netguard.Rejection{Reason: netguard.ReasonPrivateAddress, Detail: fmt.Sprintf("%s was not checked", address)}
			}
			if t.own {
				return nil // the demo: matched against prerenderd's listener by check
			}
			return p.opts.Policy.Control(network, address, c)
		},
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.DialTimeout)
	defer cancel()
	// The transport may dial on a context that outlives the request: Close
	// must still end the dial.
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()
	var errs []error
	for _, a := range t.addrs {
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, t.port).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("cannot connect to %s: %w", t.key, errors.Join(errs...))
}

// tunnel serves CONNECT: https, ws and wss.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	t, err := p.check(r.Context(), r.Host, 0, r, true)
	if err != nil {
		p.refuse(w, t, r.Host, err)
		return
	}
	upstream, err := p.dial(r.Context(), t)
	if err != nil {
		p.refuse(w, t, r.Host, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "egress proxy: cannot tunnel over this connection", http.StatusInternalServerError)
		return
	}
	client, rw, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	if !p.track(client, upstream) {
		client.Close()
		upstream.Close()
		return
	}
	defer p.untrack(client, upstream)
	p.requests[resultAllowed].Inc()
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	splice(client, rw.Reader, upstream)
}

// splice copies both ways until both are done; an error on either side ends
// both.
func splice(client net.Conn, buffered *bufio.Reader, upstream net.Conn) {
	var wg sync.WaitGroup
	wg.Go(func() {
		// Bytes the client sent right after CONNECT sit in the server's buffer.
		_, err := io.Copy(upstream, io.MultiReader(io.LimitReader(buffered, int64(buffered.Buffered())), client))
		halfClose(upstream, client, err)
	})
	_, err := io.Copy(client, upstream)
	halfClose(client, upstream, err)
	wg.Wait()
}

// halfClose ends the writing side of to after a copy into it ended; a failed
// copy closes both connections, which ends the other copy too.
func halfClose(to, from net.Conn, err error) {
	if cw, ok := to.(interface{ CloseWrite() error }); ok && err == nil {
		if cw.CloseWrite() == nil {
			return
		}
	}
	_ = to.Close()
	_ = from.Close()
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range conns {
		p.tunnels[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	for _, c := range conns {
		delete(p.tunnels, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// planKey carries a forwarded request's checked target to the transport's dial.
type planKey struct{}

type dialPlan struct {
	*target
}

// forward serves an absolute-form http:// request through the shared
// transport; its dial is dialPlanned, with the addresses this request checked.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	t, err := p.check(r.Context(), r.URL.Host, 80, r, false)
	if err != nil {
		p.refuse(w, t, r.URL.Host, err)
		return
	}
	p.requests[resultAllowed].Inc()
	ctx := context.WithValue(r.Context(), planKey{}, &dialPlan{t})
	p.forwarder.ServeHTTP(w, r.WithContext(ctx))
}

// dialPlanned is the transport's only way to connect: to the addresses the
// request checked. A pooled connection skips it; it was dialled by this rule
// for an earlier request to the same host and port.
func (p *Proxy) dialPlanned(ctx context.Context, _, _ string) (net.Conn, error) {
	plan, ok := ctx.Value(planKey{}).(*dialPlan)
	if !ok {
		return nil, errors.New("egress: a dial without a checked target")
	}
	return p.dial(ctx, plan.target)
}
