package hitbench

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"prerenderd/cachekey"
	"prerenderd/internal/prerenderdtest"
	"prerenderd/storage"
)

// googlebot is the User-Agent of every request: the hits of a crawler, which is
// what prerenderd answers (its analytics and crawler matcher are on the path).
const googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

// spreadPages is how many pages the "spread" figures cycle through.
const spreadPages = 50

// scenario is one row of the table: which pages wrk asks for, and how.
type scenario struct {
	name   string
	gzip   bool
	spread bool
}

var scenarios = []scenario{
	{"one page, plain", false, false},
	{"one page, gzip", true, false},
	{"50 pages, plain", false, true},
	{"50 pages, gzip", true, true},
}

// server is one of the three servers measured, by the base URL wrk asks.
type server struct {
	name string
	url  string
}

// BenchmarkHitsThroughBinary is make bench-hits: every scenario against the
// three servers, in rounds whose order rotates, for BENCH_HITS_ROUNDS (3) rounds
// of BENCH_HITS_DURATION (10s) per run of wrk -t2 -c32; it prints the medians
// and their ratios.
func BenchmarkHitsThroughBinary(b *testing.B) {
	for _, tool := range []string{"wrk", "nginx"} {
		if _, err := lookPath(tool); err != nil {
			b.Fatalf("%s is not installed: make bench-hits installs it from Debian when root (apt-get install -y %s)", tool, tool)
		}
	}
	bin := os.Getenv("PRERENDERD_BIN")
	if bin == "" {
		b.Fatal("PRERENDERD_BIN is not set: run make bench-hits, which builds bin/prerenderd and passes it")
	}
	duration := envOr("BENCH_HITS_DURATION", "10s")
	rounds, err := strconv.Atoi(envOr("BENCH_HITS_ROUNDS", "3"))
	if err != nil || rounds < 1 {
		b.Fatalf("BENCH_HITS_ROUNDS = %q: want a number of rounds, 1 or more", os.Getenv("BENCH_HITS_ROUNDS"))
	}
	// Short: Chromium puts a Unix socket under TMPDIR, limited to 108 bytes of path.
	dir, err := os.MkdirTemp("", "hb")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	paths := fillStore(b, filepath.Join(dir, "data"))

	app := startPrerenderd(b, bin, dir)
	files := filepath.Join(dir, "files")
	manifest := writeAnswers(b, app, paths, files)
	bare := startBare(b, dir, manifest)
	nginx := startNginx(b, dir, filepath.Join(files, "root"))
	servers := []server{{"prerenderd", app}, {"net/http", bare}, {"nginx", nginx}}

	script := filepath.Join(dir, "spread.lua")
	writeSpreadScript(b, script, paths)
	// Warm-up: connections, the page cache, each server's first allocations.
	for _, s := range servers {
		for _, sc := range scenarios {
			runWrk(b, s.url, paths[0], script, sc, "2s")
		}
	}
	got := map[string]map[string][]float64{}
	// ratios[scenario][baseline]: prerenderd's rate over the baseline's in each
	// round, the two measured back to back. On a shared machine whose load
	// drifts, the median of these paired ratios moves less than the ratio of
	// the medians; both are printed.
	ratios := map[string]map[string][]float64{}
	for r := range rounds {
		load := loadAverage()
		fmt.Printf("round %d of %d (load average %s)\n", r+1, rounds, load)
		for i, sc := range scenarios {
			if got[sc.name] == nil {
				got[sc.name] = map[string][]float64{}
			}
			for k := range servers {
				s := servers[(r+i+k)%len(servers)]
				rps := runWrk(b, s.url, paths[0], script, sc, duration)
				got[sc.name][s.name] = append(got[sc.name][s.name], rps)
				fmt.Printf("  %-16s %-10s %9.0f req/s\n", sc.name, s.name, rps)
			}
			if ratios[sc.name] == nil {
				ratios[sc.name] = map[string][]float64{}
			}
			for _, base := range []string{"net/http", "nginx"} {
				ratios[sc.name][base] = append(ratios[sc.name][base], got[sc.name]["prerenderd"][r]/got[sc.name][base][r])
			}
		}
	}
	fmt.Printf("\ncache hits of a 30 KB page through %s, wrk -t2 -c32 -d%s, medians of %d interleaved rounds (load average at the end %s):\n",
		filepath.Base(bin), duration, rounds, loadAverage())
	fmt.Printf("| hits | prerenderd | net/http | nginx | prerenderd / net/http, per round |\n| --- | --- | --- | --- | --- |\n")
	for _, sc := range scenarios {
		p, n, x := median(got[sc.name]["prerenderd"]), median(got[sc.name]["net/http"]), median(got[sc.name]["nginx"])
		pn := ratios[sc.name]["net/http"]
		fmt.Printf("| %s | %.0f req/s | %.0f (prerenderd %.2fx) | %.0f (prerenderd %.2fx) | median %.2fx of %s |\n",
			sc.name, p, n, p/n, x, p/x, median(pn), fmtRatios(pn))
		b.ReportMetric(median(pn), strings.NewReplacer(" ", "", ",", "-").Replace(sc.name)+"/net-http")
	}
}

// fillStore writes spreadPages pages of 30 KB into a store at dir, as renders
// would, and returns the request path of each.
func fillStore(b *testing.B, dir string) []string {
	st, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	paths := make([]string, spreadPages)
	for i := range paths {
		target := fmt.Sprintf("https://bench.example/p/%d", i)
		u, err := cachekey.Normalize(target, cachekey.StripTracking)
		if err != nil {
			b.Fatal(err)
		}
		err = st.PutPage(&storage.Page{
			Key: cachekey.Key(cachekey.Desktop, u), URL: u.String(), Status: http.StatusOK,
			RenderedAt: now, ExpiresAt: now.Add(24 * time.Hour), Plain: page(i),
		})
		if err != nil {
			b.Fatal(err)
		}
		paths[i] = "/" + target
	}
	return paths
}

// page is a 30 KB page of ordinary HTML, different for each n: repetitive
// enough to compress the way real pages do (to about a fifth).
func page(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!DOCTYPE html><html><head><title>Product %d</title></head><body>", n)
	for i := 0; b.Len() < 30<<10; i++ {
		fmt.Fprintf(&b, `<div class="item" id="i%d"><h2>Item %d</h2><p>Price $%d.99, in stock, ships in %d days.</p></div>`, i, i+n, (i+n)%97, i%5+1)
	}
	b.WriteString("</body></html>")
	return b.Bytes()
}

// startPrerenderd runs bin on its default configuration but for the address,
// the store and the log, and returns its URL once /readyz answers.
func startPrerenderd(b *testing.B, bin, dir string) string {
	addr, err := prerenderdtest.FreeAddr()
	if err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	err = os.WriteFile(cfg, fmt.Appendf(nil, "[server]\nlisten = %q\nlog_format = \"text\"\nlog_level = \"warn\"\n[storage]\ndir = %q\n",
		addr, filepath.Join(dir, "data")), 0o600)
	if err != nil {
		b.Fatal(err)
	}
	log := &prerenderdtest.SyncBuffer{}
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stopOnCleanup(b, cmd)
	url := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("prerenderd was not ready within 60s:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeAnswers asks prerenderd for every page, plain and gzip, checks each is a
// HIT, and writes what it answered for the baselines: the bodies, barehttp's
// manifest (with the headers) and nginx's tree (its path, then .gz).
func writeAnswers(b *testing.B, base string, paths []string, dir string) string {
	var entries []map[string]string
	for i, p := range paths {
		plain, ph := get(b, base+p, false)
		gz, gh := get(b, base+p, true)
		if gh.Get("Content-Encoding") != "gzip" {
			b.Fatalf("%s: a gzip client got Content-Encoding %q", p, gh.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			b.Fatal(err)
		}
		if un, err := io.ReadAll(zr); err != nil || !bytes.Equal(un, plain) {
			b.Fatalf("%s: the gzip answer is not the plain one (%v)", p, err)
		}
		pf, gf := fmt.Sprintf("%d.html", i), fmt.Sprintf("%d.html.gz", i)
		write(b, filepath.Join(dir, pf), plain)
		write(b, filepath.Join(dir, gf), gz)
		// nginx merges the slashes of /https://host/…: its file is at /https:/host/….
		tree := filepath.Join(dir, "root", strings.Replace(p, "://", ":/", 1))
		write(b, tree, plain)
		write(b, tree+".gz", gz)
		entries = append(entries, map[string]string{
			"path": p, "plain_file": pf, "gzip_file": gf, "etag": ph.Get("Etag"), "gzip_etag": gh.Get("Etag"),
			"content_type": ph.Get("Content-Type"), "vary": ph.Get("Vary"),
		})
	}
	raw, err := json.Marshal(entries)
	if err != nil {
		b.Fatal(err)
	}
	manifest := filepath.Join(dir, "manifest.json")
	write(b, manifest, raw)
	return manifest
}

func get(b *testing.B, url string, gz bool) ([]byte, http.Header) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("User-Agent", googlebot)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Prerender-Cache") != "HIT" {
		b.Fatalf("%s: status %d, X-Prerender-Cache %q: want a 200 HIT", url, resp.StatusCode, resp.Header.Get("X-Prerender-Cache"))
	}
	return body, resp.Header
}

// startBare builds and runs barehttp on manifest.
func startBare(b *testing.B, dir, manifest string) string {
	bin := filepath.Join(dir, "barehttp")
	if out, err := exec.Command("go", "build", "-o", bin, "prerenderd/internal/hitbench/barehttp").CombinedOutput(); err != nil {
		b.Fatalf("cannot build barehttp: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-manifest", manifest)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	stopOnCleanup(b, cmd)
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		b.Fatalf("barehttp did not say where it listens: %q, %v", line, err)
	}
	return "http://" + addr
}

// startNginx serves root with gzip_static (the .gz beside each file), two
// workers (one per core), the access log off.
func startNginx(b *testing.B, dir, root string) string {
	bin, _ := lookPath("nginx")
	addr, err := prerenderdtest.FreeAddr()
	if err != nil {
		b.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		// Its workers would run as nobody, who cannot read a 0700 temp dir.
		user = "user root;"
	}
	conf := fmt.Sprintf(`%[3]s
worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/nginx-tmp;
    proxy_temp_path %[1]s/nginx-tmp;
    fastcgi_temp_path %[1]s/nginx-tmp;
    uwsgi_temp_path %[1]s/nginx-tmp;
    scgi_temp_path %[1]s/nginx-tmp;
    types { }
    default_type "text/html; charset=utf-8";
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {
        listen %[2]s;
        root %[4]s;
        gzip_static on;
        gzip_vary on;
    }
}
`, dir, addr, user, root)
	path := filepath.Join(dir, "nginx.conf")
	write(b, path, []byte(conf))
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "nginx-error.log"), "-c", path)
	cmd.Stderr = os.Stderr
	stopOnCleanup(b, cmd)
	url := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get(url + "/"); err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			b.Fatal("nginx did not answer within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeSpreadScript writes the wrk script that cycles through paths.
func writeSpreadScript(b *testing.B, file string, paths []string) {
	var s strings.Builder
	s.WriteString("local paths = {\n")
	for _, p := range paths {
		fmt.Fprintf(&s, "  %q,\n", p)
	}
	s.WriteString("}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend\n")
	write(b, file, []byte(s.String()))
}

var (
	rpsRe    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	errorsRe = regexp.MustCompile(`Non-2xx or 3xx responses|Socket errors`)
)

// runWrk runs wrk -t2 -c32 for d against base and returns its requests/s.
func runWrk(b *testing.B, base, path, script string, sc scenario, d string) float64 {
	args := []string{"-t2", "-c32", "-d" + d, "-H", "User-Agent: " + googlebot}
	if sc.gzip {
		args = append(args, "-H", "Accept-Encoding: gzip")
	}
	if sc.spread {
		args = append(args, "-s", script)
	}
	args = append(args, base+path)
	out, err := exec.Command("wrk", args...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if errorsRe.Match(out) {
		b.Fatalf("wrk %s: errors:\n%s", strings.Join(args, " "), out)
	}
	m := rpsRe.FindSubmatch(out)
	if m == nil {
		b.Fatalf("wrk %s: no Requests/sec in:\n%s", strings.Join(args, " "), out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	return rps
}

// stopOnCleanup starts cmd and stops it (SIGTERM, then SIGKILL after 20 s) when
// the benchmark ends.
func stopOnCleanup(b *testing.B, cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("cannot start %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
}

func write(b *testing.B, path string, data []byte) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

func lookPath(tool string) (string, error) {
	if p, err := exec.LookPath(tool); err == nil {
		return p, nil
	}
	// Debian puts nginx in /usr/sbin, which a user's PATH may lack.
	return exec.LookPath(filepath.Join("/usr/sbin", tool))
}

func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(raw))[:3], " ")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func fmtRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}
