package appliancebench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"prerenderd/browser"
	"prerenderd/browser/fixture"
	"prerenderd/browser/naive"
	"prerenderd/internal/prerenderdtest"
)

// treeEnv marks every process of one server's tree: each server is started with
// it in its environment, and Chromium hands its environment down to every process
// it starts, the crashpad handlers that detach to init included. The value is
// unique to the server, so a tree is found by it alone, whoever reparented it.
const treeEnv = "PRERENDERD_BENCH_TREE"

// naiveEnv makes the test binary a naive renderer server (see TestMain); its value
// is the Chromium to run.
const naiveEnv = "PRERENDERD_BENCH_NAIVE_CHROMIUM"

var chromium string

func TestMain(m *testing.M) {
	if path := os.Getenv(naiveEnv); path != "" {
		os.Exit(serveNaive(path))
	}
	chromium = fixture.ChromiumForTests("appliancebench", browser.FindChromium)
	os.Exit(m.Run())
}

// serveNaive runs the naive renderer behind HTTP on a free loopback port, prints
// "listening ADDR" once it serves, and stops at SIGTERM.
func serveNaive(path string) int {
	r, err := naive.Start(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: r.Handler()}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// server is one renderer under measurement, run as its own process tree.
type server struct {
	name   string
	base   string // base + a page's absolute URL asks for its render
	tag    string // value of treeEnv in its tree
	dir    string // its files, removed by stop
	cmd    *exec.Cmd
	log    *prerenderdtest.SyncBuffer
	exited chan error
}

func newTag(name string) string {
	var b [6]byte
	rand.Read(b[:])
	return name + "-" + hex.EncodeToString(b[:])
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// launch starts cmd as s's process, tagged with env on top of this process's
// environment, its stderr in s.log. It returns its stdout, which the caller must
// read.
func (s *server) launch(tb testing.TB, cmd *exec.Cmd, env ...string) io.Reader {
	tb.Helper()
	s.tag = newTag(s.name)
	s.log = &prerenderdtest.SyncBuffer{}
	s.exited = make(chan error, 1)
	cmd.Env = append(append(os.Environ(), treeEnv+"="+s.tag), env...)
	cmd.Stderr = s.log
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("cannot start %s: %v", s.name, err)
	}
	s.cmd = cmd
	tb.Cleanup(s.stop)
	return out
}

// prerenderdShape is render.browsers and render.tabs_per_browser as config.toml
// takes them: a number or "auto".
type prerenderdShape struct{ browsers, tabs string }

func (p prerenderdShape) String() string {
	if p.browsers == p.tabs && p.browsers == "auto" {
		return "auto"
	}
	return p.browsers + "x" + p.tabs
}

func parseShape(s string) (prerenderdShape, error) {
	if s == "auto" {
		return prerenderdShape{"auto", "auto"}, nil
	}
	b, t, ok := strings.Cut(s, "x")
	if !ok {
		return prerenderdShape{}, fmt.Errorf("bad shape %q: want BROWSERSxTABS or auto", s)
	}
	for _, n := range []string{b, t} {
		if v, err := strconv.Atoi(n); err != nil || v < 1 {
			return prerenderdShape{}, fmt.Errorf("bad shape %q: want BROWSERSxTABS or auto", s)
		}
	}
	return prerenderdShape{b, t}, nil
}

// startPrerenderd runs the binary bin on its embedded default config, but for a
// free port, a store of its own, the fixture origin allowed (it is on loopback) and
// the pool shape, and waits until every browser is up.
func startPrerenderd(tb testing.TB, bin string, origin string, shape prerenderdShape) *server {
	tb.Helper()
	dir, err := os.MkdirTemp("", "pdb")
	if err != nil {
		tb.Fatal(err)
	}
	s := &server{name: "prerenderd", dir: dir}
	port := freePort(tb)
	s.base = fmt.Sprintf("http://127.0.0.1:%d/", port)
	value := func(v string) string {
		if v == "auto" {
			return `"auto"`
		}
		return v
	}
	cfg := fmt.Sprintf("[server]\nlisten = \"127.0.0.1:%d\"\nlog_format = \"text\"\nlog_level = \"warn\"\n"+
		"[storage]\ndir = %q\n[render]\nbrowsers = %s\ntabs_per_browser = %s\nchromium = %q\n"+
		"[security]\nallow_addresses = [%q]\n",
		port, filepath.Join(dir, "data"), value(shape.browsers), value(shape.tabs), chromium, strings.TrimPrefix(origin, "http://"))
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	go io.Copy(io.Discard, s.launch(tb, exec.Command(bin, "-config", cfgPath)))
	go func() { s.exited <- s.cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if m, err := get(s.base + "metrics"); err == nil && strings.Contains(m, "prerender_browsers{state=\"starting\"} 0\n") &&
			!strings.Contains(m, "prerender_browsers{state=\"up\"} 0\n") {
			return s
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			tb.Fatalf("prerenderd exited before it was ready: %v\n%s", err, s.log)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("prerenderd was not ready within 90s:\n%s", s.log)
		}
	}
}

// npmDir is where the npm prerender server is installed (npm ci).
const npmDir = "testdata/npm-prerender"

// startNPM runs the npm prerender server (testdata/npm-prerender/server.js: its
// own server.js with its plugins) on the same Chromium, and waits until it has
// connected to it. It returns nil, having said why, when npm is not installed.
func startNPM(tb testing.TB) *server {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(npmDir, "node_modules", "prerender", "package.json")); err != nil {
		if _, err := exec.LookPath("npm"); err != nil {
			if os.Getenv("CI") != "" {
				tb.Fatalf("npm is missing: %v", err)
			}
			tb.Logf("npm is missing: the npm prerender baseline is left out (Debian: apt-get install -y npm)")
			return nil
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = npmDir
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("cannot install the npm prerender server: %v\n%s", err, out)
		}
	}
	dir, err := os.MkdirTemp("", "pdb-npm")
	if err != nil {
		tb.Fatal(err)
	}
	s := &server{name: "npm-prerender", dir: dir}
	port := freePort(tb)
	s.base = fmt.Sprintf("http://127.0.0.1:%d/", port)
	cmd := exec.Command("node", "server.js")
	cmd.Dir = npmDir
	// HOME: Chromium's default profile goes there, not into the user's home.
	out := s.launch(tb, cmd, "PORT="+strconv.Itoa(port), "BROWSER_DEBUGGING_PORT="+strconv.Itoa(freePort(tb)),
		"CHROME_LOCATION="+chromium, "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, ".config"))
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.OnceFunc(func() { close(started) })
		for sc.Scan() {
			s.log.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), "Started Chrome") {
				once()
			}
		}
	}()
	go func() { s.exited <- s.cmd.Wait() }()
	select {
	case <-started:
		return s
	case err := <-s.exited:
		s.exited <- err
		tb.Fatalf("the npm prerender server exited before it was ready: %v\n%s", err, s.log)
	case <-time.After(90 * time.Second):
		tb.Fatalf("the npm prerender server was not ready within 90s:\n%s", s.log)
	}
	return nil
}

// startNaive runs the naive renderer (package naive) in a process of its own: this
// test binary again, as a server.
func startNaive(tb testing.TB) *server {
	tb.Helper()
	dir, err := os.MkdirTemp("", "pdb-naive")
	if err != nil {
		tb.Fatal(err)
	}
	s := &server{name: "naive", dir: dir}
	out := s.launch(tb, exec.Command(os.Args[0]), naiveEnv+"="+chromium, "TMPDIR="+dir)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addr <- a
			}
		}
	}()
	go func() { s.exited <- s.cmd.Wait() }()
	select {
	case a := <-addr:
		s.base = "http://" + a + "/"
		return s
	case err := <-s.exited:
		s.exited <- err
		tb.Fatalf("the naive renderer exited before it was ready: %v\n%s", err, s.log)
	case <-time.After(90 * time.Second):
		tb.Fatalf("the naive renderer was not ready within 90s:\n%s", s.log)
	}
	return nil
}

// stop sends SIGTERM, waits for the process, kills it after 20 s, then kills
// whatever is left of its tree (the npm server leaves its Chromium running) and
// removes its files.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.exited <- err
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		pids := s.tree()
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	os.RemoveAll(s.dir)
	s.cmd = nil
}

// tree returns the pids of every live process of s: the descendants of its
// process (Chromium's zygotes start with an empty environment, so neither they
// nor the renderers they fork carry treeEnv), and every process with treeEnv in
// its environment (the crashpad handlers, which detach to init, and whatever
// is left once s's process exited).
func (s *server) tree() []int {
	want := []byte(treeEnv + "=" + s.tag + "\x00")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	root := 0
	if s.cmd != nil && s.cmd.Process != nil {
		root = s.cmd.Process.Pid
	}
	parent := map[int]int{}
	var tagged []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		parent[pid], _ = strconv.Atoi(f[1])
		if env, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil && bytes.Contains(env, want) {
			tagged = append(tagged, pid)
		}
	}
	in := map[int]bool{}
	for _, pid := range tagged {
		in[pid] = true
	}
	for pid := range parent {
		for p, hops := pid, 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if p == root {
				in[pid] = true
				break
			}
		}
	}
	pids := make([]int, 0, len(in))
	for pid := range in {
		pids = append(pids, pid)
	}
	return pids
}

// usage is the PSS of the whole tree of s, in bytes, and how many processes it
// has.
func (s *server) usage() (int64, int) {
	var total int64
	var n int
	for _, pid := range s.tree() {
		if p, ok := pss("/proc/" + strconv.Itoa(pid) + "/smaps_rollup"); ok {
			total += p
			n++
		}
	}
	return total, n
}

// pss reads the Pss line of an smaps_rollup file, in bytes.
func pss(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err == nil
			}
		}
	}
	return 0, false
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}
