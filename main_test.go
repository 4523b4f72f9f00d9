package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"prerenderd/browser"
	"prerenderd/browser/fixture"
)

// These tests run the built binary as an operator would: they are the proof that
// the cache survives kill -9 and that SIGTERM leaves no Chromium behind.

var binary, chromium string

const (
	testVersion = "v0.0.0-test"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	chromium = fixture.ChromiumForTests("prerenderd", browser.FindChromium)
	dir, err := os.MkdirTemp("", "prerenderd-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "prerenderd")
	// The stamp the Makefile sets from git, with values the tests can look for.
	ldflags := "-X main.version=" + testVersion + " -X main.commit=" + testCommit
	// make test links the race binary once, with this same stamp, for every
	// package that starts one (PRERENDERD_TEST_BINARY). Started from a copy of
	// it, go build finds the target up to date and skips the link (10-50 s of
	// the suite); from anything else it links as before.
	if pre := os.Getenv("PRERENDERD_TEST_BINARY"); pre != "" {
		if err := copyExecutable(pre, binary); err != nil {
			fmt.Fprintf(os.Stderr, "cannot copy PRERENDERD_TEST_BINARY (building instead): %v\n", err)
		}
	}
	if out, err := exec.Command("go", "build", "-race", "-ldflags", ldflags, "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// copyExecutable copies the binary at src to dst, mode 0755.
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

type appliance struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	tmp    string
	home   string // HOME of the process: Chromium must write nothing there
	stderr *syncBuffer
	exited chan error
}

// syncBuffer collects the appliance's log while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// shortTemp is a temporary directory with a short path: Chromium puts a Unix socket
// under TMPDIR, and t.TempDir() paths pass the 108-byte limit of socket paths.
func shortTemp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startAppliance runs the binary on a config of the test's own (storageKeys are
// extra lines of its [storage] table), with its Chromium
// profile under tmp so the test can find every process it started.
func startAppliance(t *testing.T, dataDir, tmp, storageKeys string) *appliance {
	t.Helper()
	return startApplianceWith(t, dataDir, tmp, storageKeys, "")
}

// startApplianceWith is startAppliance with extra lines of the [render] table too.
// Its fixture origins listen on 127.0.0.1, which security.allow_addresses lets
// through; every other private address stays refused.
func startApplianceWith(t *testing.T, dataDir, tmp, storageKeys, renderKeys string) *appliance {
	t.Helper()
	return startApplianceTables(t, dataDir, tmp, storageKeys, renderKeys, "allow_addresses = [\"127.0.0.1/32\"]\n")
}

// startApplianceTables runs the binary with extra lines of its [storage],
// [render] and [security] tables.
func startApplianceTables(t *testing.T, dataDir, tmp, storageKeys, renderKeys, securityKeys string) *appliance {
	t.Helper()
	addr := freeAddr(t)
	return startApplianceAt(t, addr, tmp, writeApplianceConfig(t, addr, dataDir, storageKeys, renderKeys, securityKeys))
}

// startApplianceConfig runs the binary on the config text cfg, which must listen on addr.
func startApplianceConfig(t *testing.T, addr, tmp, cfg string) *appliance {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startApplianceAt(t, addr, tmp, cfgPath)
}

// startApplianceAt runs the binary on the config file cfgPath, which must listen
// on addr, with TMPDIR (its Chromium profiles) and HOME under tmp, so the test can
// find every process and file it leaves.
func startApplianceAt(t *testing.T, addr, tmp, cfgPath string) *appliance {
	t.Helper()
	a := &appliance{t: t, addr: addr, tmp: tmp, home: filepath.Join(tmp, "home"), stderr: &syncBuffer{}, exited: make(chan error, 1)}
	if err := os.MkdirAll(a.home, 0o700); err != nil {
		t.Fatal(err)
	}
	a.cmd = exec.Command(binary, "-config", cfgPath)
	a.cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "HOME="+a.home, "XDG_CONFIG_HOME=", "XDG_CACHE_HOME=")
	pr, pw := io.Pipe()
	a.cmd.Stderr = pw
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := false
		for sc.Scan() {
			line := sc.Text()
			a.stderr.WriteString(line + "\n")
			if !once && strings.Contains(line, "msg=ready") {
				once = true
				close(ready)
			}
		}
	}()
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.exited <- a.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			a.cmd.Process.Kill()
			<-a.exited
		}
	})
	select {
	case <-ready:
	case err := <-a.exited:
		t.Fatalf("prerenderd exited before ready: %v\n%s", err, a.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("prerenderd not ready after 60s\n%s", a.stderr)
	}
	return a
}

func (a *appliance) get(target string) (*http.Response, string) {
	a.t.Helper()
	resp, err := http.Get("http://" + a.addr + "/" + target)
	if err != nil {
		a.t.Fatalf("GET %s: %v\n%s", target, err, a.stderr)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// profileDirs lists the Chromium profile directories under tmp (prerenderd's
// TMPDIR).
func profileDirs(t *testing.T, tmp string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(tmp, "prerenderd-*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// filesUnder lists what is under dir, relative to it.
func filesUnder(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err == nil && p != dir {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return out
}

// chromiumUnder lists the processes whose command line mentions dir: Chromium and
// every child it forked carry the --user-data-dir made under it.
func chromiumUnder(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte("--user-data-dir="+dir)) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			// A zombie that its parent has not reaped yet has no process to leave behind.
			if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
				continue
			}
		}
		found = append(found, e.Name())
	}
	return found
}

func waitNoChromium(t *testing.T, dir string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := chromiumUnder(dir)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Chromium processes left behind: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTheCacheSurvivesKill9(t *testing.T) {
	origin := fixture.New(t)
	data, tmp := t.TempDir(), shortTemp(t)
	target := origin.URL + "/product?survive=1"

	a := startAppliance(t, data, tmp, "")
	resp, first := a.get(target)
	if resp.StatusCode != 200 || resp.Header.Get("X-Prerender-Cache") != "MISS" {
		t.Fatalf("first: %d %s\n%s", resp.StatusCode, resp.Header.Get("X-Prerender-Cache"), a.stderr)
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.exited
	// Chromium dies with its parent rather than lingering as an orphan.
	waitNoChromium(t, tmp, 10*time.Second)
	left := profileDirs(t, tmp)
	if len(left) == 0 {
		t.Fatal("kill -9 left no profile directory: the test cannot show its removal")
	}

	b := startAppliance(t, data, tmp, "")
	// The next start removes what the killed one left, and nothing else.
	now := profileDirs(t, tmp)
	for _, dir := range left {
		if slices.Contains(now, dir) {
			t.Errorf("the profile %s of the killed appliance is still there after the next start", dir)
		}
	}
	if len(now) != 1 {
		t.Errorf("profiles after the restart: %v, want the new browser's only", now)
	}
	docs := origin.Hits("/product")
	resp, again := b.get(target)
	if resp.Header.Get("X-Prerender-Cache") != "HIT" || again != first {
		t.Fatalf("after kill -9: %s, same body %v\n%s", resp.Header.Get("X-Prerender-Cache"), again == first, b.stderr)
	}
	if origin.Hits("/product") != docs {
		t.Fatal("the restarted appliance fetched the page again")
	}
	// Chromium's config, caches and crash database stay out of the user's home.
	if files := filesUnder(b.home); len(files) > 0 {
		t.Errorf("Chromium wrote under HOME: %v", files)
	}
}

// TestTheAnalyticsSurviveKill9: what was counted before the last flush is
// there after a kill -9 and a restart, which counts on from it.
func TestTheAnalyticsSurviveKill9(t *testing.T) {
	origin := fixture.New(t)
	data, tmp := t.TempDir(), shortTemp(t)
	keys := "[analytics]\nflush_interval = \"200ms\"\n"
	googlebot := "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	ask := func(a *appliance, path string) string {
		req, _ := http.NewRequest(http.MethodGet, "http://"+a.addr+"/"+origin.URL+path, nil)
		req.Header.Set("User-Agent", googlebot)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get("X-Prerender-Cache")
	}
	type total struct {
		Requests uint64            `json:"requests"`
		ByResult map[string]uint64 `json:"by_result"`
		Renders  uint64            `json:"renders"`
	}
	stats := func(a *appliance) (total, []struct {
		Name     string `json:"name"`
		Requests uint64 `json:"requests"`
	}) {
		var st struct {
			Total    total `json:"total"`
			Crawlers []struct {
				Name     string `json:"name"`
				Requests uint64 `json:"requests"`
			} `json:"crawlers"`
		}
		resp, err := http.Get("http://" + a.addr + "/api/stats?from=-1h")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.Total, st.Crawlers
	}

	a := startAppliance(t, data, tmp, keys)
	for _, want := range []string{"MISS", "HIT", "HIT"} {
		if got := ask(a, "/product?analytics=1"); got != want {
			t.Fatalf("%s, want %s\n%s", got, want, a.stderr)
		}
	}
	// A request is counted once its answer is written, so the client can hold
	// the whole answer a moment before the count moves: wait for it.
	settled := func(a *appliance, want func(total) bool) total {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, _ := stats(a)
			if want(got) || time.Now().After(deadline) {
				return got
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	before := settled(a, func(got total) bool { return got.Requests == 3 })
	if before.Requests != 3 || before.ByResult["HIT"] != 2 || before.Renders != 1 {
		t.Fatalf("before the kill: %+v", before)
	}
	time.Sleep(time.Second) // several flush intervals
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.exited
	waitNoChromium(t, tmp, 10*time.Second)

	b := startAppliance(t, data, tmp, keys)
	after, crawlers := stats(b)
	if after.Requests != before.Requests || after.ByResult["HIT"] != 2 || after.ByResult["MISS"] != 1 || after.Renders != 1 {
		t.Fatalf("after kill -9: %+v, want %+v\n%s", after, before, b.stderr)
	}
	if len(crawlers) != 1 || crawlers[0].Name != "Googlebot" || crawlers[0].Requests != 3 {
		t.Fatalf("crawlers after kill -9: %+v", crawlers)
	}
	if got := ask(b, "/product?analytics=1"); got != "HIT" {
		t.Fatalf("after the restart: %s", got)
	}
	if again := settled(b, func(got total) bool { return got.Requests == 4 }); again.Requests != 4 || again.ByResult["HIT"] != 3 {
		t.Fatalf("the restarted appliance counts on: %+v, want 4 requests, 3 hits", again)
	}
}

func TestSIGTERMLetsARenderFinishAndLeavesNoChromium(t *testing.T) {
	origin := fixture.New(t)
	data, tmp := t.TempDir(), shortTemp(t)
	a := startAppliance(t, data, tmp, "")
	if len(chromiumUnder(tmp)) == 0 {
		t.Fatal("found no Chromium process to watch; the test cannot prove anything")
	}

	type result struct {
		status int
		cache  string
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + a.addr + "/" + origin.URL + "/chain?sigterm=1")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode, cache: resp.Header.Get("X-Prerender-Cache"), body: string(b)}
	}()
	// Signal once the render is under way: the origin has served the document.
	for deadline := time.Now().Add(10 * time.Second); origin.Hits("/chain") == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the render never reached the origin\n%s", a.stderr)
		}
	}
	a.cmd.Process.Signal(syscall.SIGTERM)

	r := <-done
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, "Great coffee") {
		t.Fatalf("in-flight render: err=%v status=%d cache=%s\n%s", r.err, r.status, r.cache, a.stderr)
	}
	select {
	case err := <-a.exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, a.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("prerenderd did not exit after SIGTERM\n%s", a.stderr)
	}
	waitNoChromium(t, tmp, 2*time.Second)
	if _, err := net.Dial("tcp", a.addr); err == nil {
		t.Fatal("still accepting connections after exit")
	}
}

func TestPrintConfigPrintsTheEmbeddedDefault(t *testing.T) {
	out, err := exec.Command(binary, "-print-config").Output()
	if err != nil || string(out) != defaultConfigTOML {
		t.Fatalf("-print-config: err=%v, %d bytes", err, len(out))
	}
}

func TestAnUnknownConfigKeyStopsTheStart(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte("[render]\ntabs = 4\n"), 0o600)
	out, err := exec.Command(binary, "-config", p).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "render.tabs") {
		t.Fatalf("err=%v output=%s", err, out)
	}
}

func TestAFullDiskRefusesWritesButKeepsServingTheCache(t *testing.T) {
	origin := fixture.New(t)
	data, tmp := t.TempDir(), shortTemp(t)
	cached := origin.URL + "/product?disk=cached"

	a := startAppliance(t, data, tmp, "")
	if resp, _ := a.get(cached); resp.Header.Get("X-Prerender-Cache") != "MISS" {
		t.Fatalf("first render: %s", resp.Header.Get("X-Prerender-Cache"))
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	<-a.exited

	// The guard refuses a write when less than min_free would stay free: asking for
	// more than any disk has is a disk that is full from prerenderd's point of view.
	b := startAppliance(t, data, tmp, "min_free = \"1000TiB\"\n")
	resp, body := b.get(cached)
	if resp.Header.Get("X-Prerender-Cache") != "HIT" || !strings.Contains(body, "Espresso Machine 42") {
		t.Fatalf("a cached page on a full disk: %s", resp.Header.Get("X-Prerender-Cache"))
	}
	fresh := origin.URL + "/product?disk=new"
	resp, body = b.get(fresh)
	if resp.StatusCode != 200 || resp.Header.Get("X-Prerender-Cache") != "BYPASS" || !strings.Contains(body, "Espresso Machine 42") {
		t.Fatalf("a new page on a full disk: %d %s", resp.StatusCode, resp.Header.Get("X-Prerender-Cache"))
	}
	// The log line is written before the answer, but reaches the test through a pipe.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		log := b.stderr.String()
		if strings.Contains(log, "cannot store page") && strings.Contains(log, "disk full") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no clear log line about the full disk:\n%s", log)
		}
	}
	// Served again from a render, not from a half-written entry.
	if resp, _ := b.get(fresh); resp.Header.Get("X-Prerender-Cache") != "BYPASS" {
		t.Fatalf("second request on a full disk: %s", resp.Header.Get("X-Prerender-Cache"))
	}
}

// cache runs `prerenderd cache args…` against a and returns its output and exit code.
func (a *appliance) cache(args ...string) (string, int) {
	a.t.Helper()
	cmd := exec.Command(binary, append([]string{"cache"}, args...)...)
	cmd.Env = append(os.Environ(), "PRERENDERD_ADDR="+a.addr)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		a.t.Fatal(err)
	}
	return string(out), code
}

func TestCacheSubcommandsTalkToARunningAppliance(t *testing.T) {
	origin := fixture.New(t)
	a := startAppliance(t, t.TempDir(), shortTemp(t), "")
	for _, p := range []string{"/product?id=1", "/product?id=2", "/jsonld"} {
		if resp, _ := a.get(origin.URL + p); resp.StatusCode != 200 {
			t.Fatalf("render of %s: %d\n%s", p, resp.StatusCode, a.stderr)
		}
	}
	t.Run("ls lists what is cached", func(t *testing.T) {
		out, code := a.cache("ls", "product")
		if code != 0 || !strings.Contains(out, origin.URL+"/product?id=1") || !strings.Contains(out, origin.URL+"/product?id=2") ||
			strings.Contains(out, "/jsonld") || !strings.Contains(out, "2 shown of 2") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("purge of one URL removes it at once", func(t *testing.T) {
		out, code := a.cache("purge", origin.URL+"/product?id=1")
		if code != 0 || !strings.Contains(out, "removed 1 page") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if resp, _ := a.get(origin.URL + "/product?id=1"); resp.Header.Get("X-Prerender-Cache") != "MISS" {
			t.Fatalf("after purge: %s", resp.Header.Get("X-Prerender-Cache"))
		}
	})
	t.Run("purge of a pattern waits for the clear to finish", func(t *testing.T) {
		out, code := a.cache("purge", origin.URL+"/%")
		if code != 0 || !strings.Contains(out, "removed 3 page(s)") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if out, _ := a.cache("ls"); !strings.Contains(out, "0 shown of 0") {
			t.Fatalf("after purge:\n%s", out)
		}
	})
	t.Run("recache queues URLs and they are rendered", func(t *testing.T) {
		out, code := a.cache("recache", "-json", origin.URL+"/ready", "not a url")
		// Valid URLs are queued and invalid ones reported, in a 200.
		if code != 0 || !strings.Contains(out, `"queued": 1`) || !strings.Contains(out, `"reason": "bad-url"`) {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if out, _ := a.cache("ls", "/ready"); strings.Contains(out, "1 shown of 1") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/ready not cached 30s after recache\n%s", a.stderr)
			}
		}
	})
	t.Run("recache without -json prints a summary and a table of the refused", func(t *testing.T) {
		out, code := a.cache("recache", origin.URL+"/ready", "not a url")
		if code != 0 || !strings.Contains(out, "queued ") || !strings.Contains(out, "refused 1") ||
			!strings.Contains(out, "REFUSED") || !strings.Contains(out, "not a url") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("flags after the arguments are flags", func(t *testing.T) {
		out, code := a.cache("ls", "/ready", "-json")
		if code != 0 || !strings.Contains(out, `"total":1`) || !strings.Contains(out, origin.URL+"/ready") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("purge -no-wait names the clear job it started, and status follows it", func(t *testing.T) {
		out, code := a.cache("purge", "-no-wait", "%")
		if code != 0 || !regexp.MustCompile(`^clear job \d+ of "%" started; follow it with: prerenderd cache status\n$`).MatchString(out) {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		out, code = a.cache("status")
		if code != 0 || !strings.Contains(out, "JOB") || !strings.Contains(out, "%") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("a refusal of the appliance is exit 1 with its reason", func(t *testing.T) {
		out, code := a.cache("ls", "-variant", "tablet")
		if code != 1 || !strings.Contains(out, "bad-adaptive-type") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("bad usage is exit 2", func(t *testing.T) {
		if out, code := a.cache("purge"); code != 2 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if out, code := a.cache("frobnicate"); code != 2 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

func TestOneTabAndTwentyURLsAtOnceAreAllAnsweredSomeWith503RetryAfter(t *testing.T) {
	origin := fixture.New(t)
	data, tmp := t.TempDir(), shortTemp(t)
	a := startApplianceWith(t, data, tmp, "", "tabs_per_browser = 1\nqueue_timeout = \"1s\"\n")
	const n = 20
	type answer struct {
		status     int
		retryAfter string
		reason     string
		err        error
	}
	answers := make([]answer, n)
	client := &http.Client{Timeout: 60 * time.Second} // a hang fails the test, not the run
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// /concurrent holds its tab for 500 ms: one tab serves a few of them
			// within the queue timeout, not twenty.
			resp, err := client.Get(fmt.Sprintf("http://%s/%s/concurrent?overload=%d", a.addr, origin.URL, i))
			if err != nil {
				answers[i].err = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answers[i] = answer{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-Prerender-Reject-Reason"), nil}
		})
	}
	wg.Wait()
	ok, refused := 0, 0
	for i, ans := range answers {
		switch {
		case ans.err != nil:
			t.Errorf("request %d: %v", i, ans.err)
		case ans.status == http.StatusOK:
			ok++
		case ans.status == http.StatusServiceUnavailable && ans.retryAfter != "" && ans.reason == "overloaded":
			refused++
		default:
			t.Errorf("request %d: status %d, Retry-After %q, reason %q", i, ans.status, ans.retryAfter, ans.reason)
		}
	}
	if ok == 0 || refused == 0 {
		t.Errorf("%d rendered and %d refused of %d; want some of each", ok, refused, n)
	}
	t.Logf("%d rendered, %d refused with 503 and Retry-After", ok, refused)
	// The refused ones come back: the tab is free again.
	resp, _ := a.get(origin.URL + "/concurrent?overload=again")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the burst: status %d", resp.StatusCode)
	}
}
