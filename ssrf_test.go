package main

import (
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counted is a loopback server that counts every connection it accepts (a
// tunnel that never sends a request counts too) and every request by path.
type counted struct {
	addr  string
	conns atomic.Int64
	mu    sync.Mutex
	paths map[string]int
	body  string
}

type countingListener struct {
	net.Listener
	c *counted
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err == nil {
		l.c.conns.Add(1)
	}
	return conn, err
}

func newCounted(t *testing.T, body string) *counted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counted{addr: ln.Addr().String(), paths: map[string]int{}, body: body}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.paths[r.URL.Path]++
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		fmt.Fprintf(w, "<html><body>%s</body></html>", body)
	})}
	go srv.Serve(countingListener{ln, c})
	t.Cleanup(func() { srv.Close() })
	return c
}

// hits is how many requests reached paths starting with prefix.
func (c *counted) hits(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, k := range c.paths {
		if strings.HasPrefix(p, prefix) {
			n += k
		}
	}
	return n
}

// ssrfOrigin serves the hostile pages: each one tries to reach the address in
// its "to" parameter (host:port) in one way, marking the path with its case.
func ssrfOrigin(t *testing.T, udpPort int) *counted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counted{addr: ln.Addr().String(), paths: map[string]int{}}
	page := func(w http.ResponseWriter, head, body string) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<!doctype html><html><head>%s</head><body><p>origin page</p><div id=out></div>%s</body></html>", head, body)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.paths[r.URL.Path]++
		c.mu.Unlock()
		to := r.URL.Query().Get("to")
		in := "http://" + to
		js := func(s string) string { return html.EscapeString(s) }
		out := `document.getElementById('out').append(String(x), ' ')`
		switch r.URL.Path {
		case "/jsnav":
			page(w, "", fmt.Sprintf(`<script>location = %q</script>`, in+"/jsnav"))
		case "/https-nav":
			page(w, "", fmt.Sprintf(`<script>location = %q</script>`, "https://"+to+"/https-nav"))
		case "/meta":
			page(w, fmt.Sprintf(`<meta http-equiv="refresh" content="0;url=%s">`, js(in+"/meta")), "")
		case "/form":
			page(w, "", fmt.Sprintf(`<form method="post" action="%s"><input name="secret" value="1"></form><script>document.forms[0].submit()</script>`, js(in+"/form")))
		case "/r302":
			http.Redirect(w, r, in+"/r302", http.StatusFound)
		case "/r307":
			http.Redirect(w, r, in+"/r307", http.StatusTemporaryRedirect)
		case "/fetch":
			page(w, "", fmt.Sprintf(`<script>
				const show = (x) => { %s };
				fetch(%q).then(r => r.text()).then(show, () => show('fetch failed'));
				const x = new XMLHttpRequest(); x.open('GET', %q);
				x.onload = () => show(x.responseText); x.onerror = () => show('xhr failed'); x.send();
				navigator.sendBeacon(%q, 'b');
			</script>`, out, in+"/fetch", in+"/xhr", in+"/beacon"))
		case "/subresources":
			page(w, fmt.Sprintf(`<link rel="stylesheet" href="%[1]s/subresources-css"><link rel="preconnect" href="%[1]s"><link rel="prefetch" href="%[1]s/subresources-prefetch"><script src="%[1]s/subresources-script"></script>`, in),
				fmt.Sprintf(`<iframe src="%[1]s/subresources-iframe"></iframe><object data="%[1]s/subresources-object"></object><video src="%[1]s/subresources-video"></video>`, in))
		case "/ws":
			page(w, "", fmt.Sprintf(`<script>try { const s = new WebSocket(%q); s.onmessage = (e) => { const x = e.data; %s } } catch (e) {}</script>`, "ws://"+to+"/ws", out))
		case "/worker":
			page(w, "", fmt.Sprintf(`<script>
				const show = (e) => { const x = e.data; %s };
				const src = "fetch(%s).then(r => r.text()).then(t => postMessage(t), () => postMessage('worker fetch failed'))";
				const w = new Worker(URL.createObjectURL(new Blob([src], {type: 'text/javascript'}))); w.onmessage = show;
				const w2 = new Worker('/worker.js?to=%s'); w2.onmessage = show;
			</script>`, out, fmt.Sprintf("'%s/worker-blob'", in), to))
		case "/worker.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprintf(w, `fetch(%q).then(r => r.text()).then(t => postMessage(t), () => postMessage('worker fetch failed'))`, in+"/worker-script")
		case "/sw":
			page(w, "", fmt.Sprintf(`<script>navigator.serviceWorker.register('/sw.js?to=%s').then(() => {}, () => {})</script>`, to))
		case "/sw.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprintf(w, `self.addEventListener('install', (e) => e.waitUntil(fetch(%q).catch(() => {})))`, in+"/sw")
		case "/webrtc":
			host, port, _ := net.SplitHostPort(to)
			page(w, "", fmt.Sprintf(`<script>
				window.prerenderReady = false;
				let pending = 2;
				const gather = (servers) => {
					const pc = new RTCPeerConnection({iceServers: servers});
					pc.createDataChannel('d');
					pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete' && --pending === 0) window.prerenderReady = true };
					pc.createOffer().then((o) => pc.setLocalDescription(o));
				};
				gather([{urls: 'stun:%[1]s:%[3]d'}]);
				gather([{urls: 'turn:%[1]s:%[2]s?transport=tcp', username: 'u', credential: 'p'}]);
				setTimeout(() => { window.prerenderReady = true }, 3000);
			</script>`, host, port, udpPort))
		default:
			page(w, "", "")
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

// TestAPageCannotMakePrerenderdReachAnAddressThatIsNotAllowed runs the hostile
// pages through the built binary with the guard on: the origin is allowed by
// security.allow_addresses at its exact address and port, an "internal" server
// on another loopback port is not. Every case also runs against a "control"
// server that allow_addresses lists, to show that the page does reach out when
// the address is allowed: the internal server's silence is the guard's doing,
// not a page that failed.
func TestAPageCannotMakePrerenderdReachAnAddressThatIsNotAllowed(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	var udpPackets atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
			udpPackets.Add(1)
		}
	}()
	internal := newCounted(t, "INTERNAL-SECRET")
	control := newCounted(t, "CONTROL-CONTENT")
	tlsControl := newCounted(t, "")
	origin := ssrfOrigin(t, udp.LocalAddr().(*net.UDPAddr).Port)

	data, tmp := t.TempDir(), shortTemp(t)
	a := startApplianceWithSecurity(t, data, tmp, "tabs_per_browser = 4\n",
		fmt.Sprintf("allow_addresses = [%q, %q, %q]\n", origin.addr, control.addr, tlsControl.addr))

	get := func(t *testing.T, target string) (*http.Response, string) {
		t.Helper()
		c := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get("http://" + a.addr + "/" + target)
		if err != nil {
			t.Fatalf("GET %s: %v\n%s", target, err, a.stderr)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	tests := []struct {
		name string
		path string
		// main: the page's own document goes to the address: refused, the
		// render answers 403 private-address. redirect: the answer is the
		// origin's redirect. Otherwise the page renders and what it tried is
		// just missing.
		main, redirect bool
		// controlReached: the control server sees the attempt (a service
		// worker or WebRTC may not act within a render).
		controlReached bool
		// tls: the page asks for https; the control proves the attempt by
		// the connection it accepts (its handshake fails), on a server of its
		// own.
		tls bool
		// again: render the refused page twice, to show the refusal is not
		// cached.
		again bool
	}{
		{name: "a script navigation", path: "/jsnav", main: true, controlReached: true, again: true},
		{name: "a script navigation to https", path: "/https-nav", main: true, tls: true},
		{name: "a meta refresh", path: "/meta", main: true, controlReached: true},
		{name: "an auto-submitted form POST", path: "/form", main: true, controlReached: true},
		{name: "a 302 redirect of the origin", path: "/r302", redirect: true},
		{name: "a 307 redirect of the origin", path: "/r307", redirect: true},
		{name: "fetch, XHR and sendBeacon", path: "/fetch", controlReached: true},
		{name: "a stylesheet, a script, an iframe, an object, a video, a preconnect and a prefetch", path: "/subresources", controlReached: true},
		{name: "a websocket", path: "/ws", controlReached: true},
		{name: "a dedicated worker from a blob and from a script", path: "/worker", controlReached: true},
		{name: "a service worker's install", path: "/sw"},
		{name: "WebRTC's STUN over UDP and TURN over TCP", path: "/webrtc"},
	}
	// The group returns once its parallel cases are done, so the counts below
	// come after all of them.
	t.Run("each way out", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				// Control first: the same page, pointed at an allowed address.
				ctl := control
				if tc.tls {
					ctl = tlsControl
				}
				resp, body := get(t, "http://"+origin.addr+tc.path+"?to="+ctl.addr)
				if tc.redirect {
					if resp.StatusCode/100 != 3 || !strings.Contains(resp.Header.Get("Location"), control.addr) {
						t.Fatalf("control: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
					}
				} else if resp.StatusCode != 200 && !tc.tls {
					// (An https page on a plain server is an error page, answered
					// one way or another; its connection is what counts.)
					t.Fatalf("control: %d %s\n%.300s", resp.StatusCode, resp.Header.Get("X-Prerender-Reject-Reason"), body)
				}
				if tc.main && !tc.tls && !strings.Contains(body, "CONTROL-CONTENT") {
					t.Errorf("control: the page did not navigate to the allowed address:\n%.300s", body)
				}
				if tc.tls && tlsControl.conns.Load() == 0 {
					t.Errorf("control: the allowed address accepted no connection; the case proves nothing")
				}
				if tc.controlReached && control.hits(tc.path) == 0 {
					t.Errorf("control: the allowed address saw no request from %s; the case proves nothing", tc.path)
				}

				target := "http://" + origin.addr + tc.path + "?to=" + internal.addr
				for round := range 2 {
					resp, body = get(t, target)
					switch {
					case tc.main:
						if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Prerender-Reject-Reason") != "private-address" {
							t.Fatalf("round %d: %d %q, want 403 private-address\n%.300s", round, resp.StatusCode, resp.Header.Get("X-Prerender-Reject-Reason"), body)
						}
						if c := resp.Header.Get("X-Prerender-Cache"); c == "HIT" {
							t.Fatalf("round %d: a refused render was cached", round)
						}
					case tc.redirect:
						if resp.StatusCode/100 != 3 || !strings.Contains(resp.Header.Get("Location"), internal.addr) {
							t.Fatalf("%d Location %q, want the origin's redirect", resp.StatusCode, resp.Header.Get("Location"))
						}
					default:
						if resp.StatusCode != 200 || !strings.Contains(body, "origin page") {
							t.Fatalf("%d, want the page rendered without what it could not load\n%.300s", resp.StatusCode, body)
						}
					}
					if strings.Contains(body, "INTERNAL-SECRET") {
						t.Fatalf("the answer holds the internal server's content:\n%s", body)
					}
					if !tc.again {
						break
					}
				}
			})
		}
	})

	t.Run("the metadata address is refused as a navigation", func(t *testing.T) {
		resp, body := get(t, "http://"+origin.addr+"/jsnav?to=169.254.169.254")
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Prerender-Reject-Reason") != "private-address" {
			t.Fatalf("%d %q\n%s", resp.StatusCode, resp.Header.Get("X-Prerender-Reject-Reason"), body)
		}
	})
	t.Run("a page cannot post to prerenderd's own admin API", func(t *testing.T) {
		resp, _ := get(t, "http://"+origin.addr+"/form?to="+a.addr)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(a.stderr.String(), "target="+a.addr) {
			t.Fatalf("%d, or no refusal of %s in the log\n%s", resp.StatusCode, a.addr, a.stderr)
		}
	})
	t.Run("the built-in demo renders without allow_private", func(t *testing.T) {
		resp, body := get(t, "http://"+a.addr+"/demo/")
		if resp.StatusCode != 200 || !strings.Contains(body, "Walnut desk lamp") {
			t.Fatalf("%d %s\n%s", resp.StatusCode, resp.Header.Get("X-Prerender-Reject-Reason"), body)
		}
	})

	// A service worker or a late retry would come after its render: give
	// them time before the final count.
	time.Sleep(time.Second)
	if n := internal.conns.Load(); n != 0 {
		internal.mu.Lock()
		t.Errorf("the internal server accepted %d connections: %v", n, internal.paths)
		internal.mu.Unlock()
	}
	if n := udpPackets.Load(); n != 0 {
		t.Errorf("the internal UDP port received %d packets", n)
	}
}

// startApplianceWithSecurity is startApplianceWith with a [security] table of
// the test's own instead of allow_private.
func startApplianceWithSecurity(t *testing.T, dataDir, tmp, renderKeys, securityKeys string) *appliance {
	t.Helper()
	return startApplianceTables(t, dataDir, tmp, "", renderKeys, securityKeys)
}

// writeApplianceConfig writes a config file for the appliance at addr.
func writeApplianceConfig(t *testing.T, addr, dataDir, storageKeys, renderKeys, securityKeys string) string {
	t.Helper()
	cfg := fmt.Sprintf("[server]\nlisten = %q\nlog_format = \"text\"\nshutdown_timeout = \"10s\"\n[storage]\ndir = %q\n%s[render]\nbrowsers = 1\npage_timeout = \"5s\"\nchromium = %q\n%s[security]\n%s",
		addr, dataDir, storageKeys, chromium, renderKeys, securityKeys)
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
