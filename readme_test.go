package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock is one fenced ```sh block of README.md.
type readmeBlock struct {
	line int    // the line of its opening fence
	text string // its commands
	skip string // why the README test does not run it; "" = it runs
}

// skipMarker opens the first line of a block the README test cannot run (one that
// stays in the foreground, or that is the test suite itself). It is a visible
// comment, so a reader knows which commands the tests do not vouch for.
const skipMarker = "# (not run by the README test:"

// readmeBlocks reads the ```sh blocks of the README. Other shell dialect names are
// refused: a block the test would silently pass over could drift.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []readmeBlock
	var cur *readmeBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			lang := strings.TrimSpace(strings.TrimPrefix(line, "```"))
			switch lang {
			case "sh":
				cur = &readmeBlock{line: n}
			case "bash", "shell", "console", "shell-session", "zsh":
				t.Errorf("README.md:%d: a ```%s block; write shell commands as ```sh so the README test runs them", n, lang)
			}
			if lang != "sh" && lang != "" {
				// Another language (toml, text, nginx…): skip to its closing fence.
				for sc.Scan() {
					n++
					if strings.HasPrefix(sc.Text(), "```") {
						break
					}
				}
			}
		case cur != nil && strings.HasPrefix(line, "```"):
			if first, _, _ := strings.Cut(cur.text, "\n"); strings.HasPrefix(first, skipMarker) {
				cur.skip = strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(first, skipMarker)), ")")
			}
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a ```sh block is never closed", cur.line)
	}
	return blocks
}

// readmePrelude runs before each block: bash stops at the first command that fails
// (in a pipeline too), make runs in the repository whatever the working directory,
// and curl reports the status of every answer on stderr, so a 5xx fails the test
// though curl itself exits 0 on it. Exit 23 is curl's "the reader went away" (as in
// `curl … | head`), the reader's choice rather than a failure.
const readmePrelude = `set -eo pipefail
make() { command make -C "$README_TEST_REPO" "$@"; }
curl() {
	local rc=0
	command curl "$@" -w '%{stderr}readme-test: HTTP %{http_code}\n' || rc=$?
	if [ "$rc" = 23 ]; then rc=0; fi
	return "$rc"
}
`

// goFlags is the GOFLAGS every go command here runs with, the environment's or
// else go env's (its config file), which a GOFLAGS in the environment would hide:
// the README's build must match the one that built the binary under test.
func goFlags(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOFLAGS").Output()
	if err != nil {
		t.Fatalf("go env GOFLAGS: %v", err)
	}
	return strings.TrimSpace(string(out))
}

var fiveXX = regexp.MustCompile(`readme-test: HTTP 5\d\d`)

// TestTheFirstHour runs what a new user runs, against the built binary on a config
// of its own: every shell block of the README, then the checks of what the user
// sees when something is off (a second appliance on the same storage or port).
func TestTheFirstHour(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README test needs %s on PATH (Debian: apt-get install -y %s)", tool, tool)
		}
	}
	repo, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tmp := shortTemp(t)
	addr := freeAddr(t)
	data := filepath.Join(tmp, "data")
	// The README's commands assume the embedded default; only what a test must
	// change is changed: the port, the storage directory, one browser.
	cfg := fmt.Sprintf("[server]\nlisten = %q\nlog_format = \"text\"\n[storage]\ndir = %q\n[render]\nbrowsers = 1\nchromium = %q\n", addr, data, chromium)
	a := startApplianceConfig(t, addr, tmp, cfg)

	t.Run("every sh block of the README runs as written", func(t *testing.T) {
		// The commands run in an empty directory holding ./bin/prerenderd, with the
		// binary under test on PATH as prerenderd; `make install` installs into a
		// temporary PREFIX (first on PATH) and builds into a temporary BIN, with -race
		// and the test's version stamp so that it reuses the packages this test
		// binary's build compiled; BIN starts as a copy of the binary under test, so
		// make's go build finds it up to date and links nothing.
		work := t.TempDir()
		bin := filepath.Join(t.TempDir(), "prerenderd")
		if err := copyExecutable(binary, bin); err != nil {
			t.Fatal(err)
		}
		pathDir, prefix := filepath.Join(work, ".path"), t.TempDir()
		for _, dir := range []string{pathDir, filepath.Join(work, "bin")} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(binary, filepath.Join(dir, "prerenderd")); err != nil {
				t.Fatal(err)
			}
		}
		env := append(os.Environ(),
			"PATH="+filepath.Join(prefix, "bin")+string(os.PathListSeparator)+pathDir+string(os.PathListSeparator)+os.Getenv("PATH"),
			"PRERENDERD_ADDR="+addr,
			"README_TEST_REPO="+repo,
			"PREFIX="+prefix,
			"BIN="+bin,
			"VERSION="+testVersion,
			"COMMIT="+testCommit,
			"GOFLAGS="+strings.TrimSpace(goFlags(t)+" -race"),
		)
		ran := 0
		for _, b := range readmeBlocks(t, "README.md") {
			if b.skip != "" {
				t.Logf("README.md:%d: not run: %s", b.line, b.skip)
				continue
			}
			script := strings.ReplaceAll(b.text, "127.0.0.1:3000", addr)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			cmd := exec.CommandContext(ctx, "bash", "-c", readmePrelude+script)
			cmd.Dir, cmd.Env = work, env
			started := time.Now()
			out, err := cmd.CombinedOutput()
			cancel()
			ran++
			t.Logf("README.md:%d: ran in %s", b.line, time.Since(started).Round(10*time.Millisecond))
			if err != nil {
				t.Errorf("README.md:%d: the block failed (%v):\n%s\n--- output:\n%s", b.line, err, b.text, out)
				continue
			}
			if m := fiveXX.Find(out); m != nil {
				t.Errorf("README.md:%d: a command was answered %s:\n%s\n--- output:\n%s", b.line, m, b.text, out)
			}
		}
		if ran < 5 {
			t.Fatalf("ran %d blocks of the README; its commands are not under test", ran)
		}
		if _, err := os.Stat(filepath.Join(prefix, "bin", "prerenderd")); err != nil {
			t.Errorf("make install put nothing in PREFIX/bin: %v", err)
		}
	})

	t.Run("the start-up log line names the version and commit", func(t *testing.T) {
		log := a.stderr.String()
		for _, want := range []string{`msg="starting prerenderd"`, "version=" + testVersion, "commit=" + testCommit, "go=go1."} {
			if !strings.Contains(log, want) {
				t.Errorf("the log lacks %s:\n%.2000s", want, log)
			}
		}
	})

	t.Run("metrics carry prerender_build_info", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf(`prerender_build_info{version=%q,commit=%q,goversion="go1.`, testVersion, testCommit)
		if !strings.Contains(string(b), want) {
			t.Fatalf("/metrics lacks %s…", want)
		}
	})

	// A second appliance fails at start; what it prints must name the next step.
	second := func(t *testing.T, cfg string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, "-config", p)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("a second appliance: %v, want exit 1:\n%s", err, out)
		}
		return string(out)
	}
	t.Run("a second appliance on the same storage.dir names the process that holds it", func(t *testing.T) {
		out := second(t, fmt.Sprintf("[server]\nlisten = %q\nlog_format = \"text\"\n[storage]\ndir = %q\n[render]\nchromium = %q\n", freeAddr(t), data, chromium))
		for _, want := range []string{"process " + strconv.Itoa(a.cmd.Process.Pid), binary, filepath.Join(data, "LOCK"), "storage.dir"} {
			if !strings.Contains(out, want) {
				t.Errorf("the error does not name %q:\n%s", want, out)
			}
		}
	})
	t.Run("a second appliance on the same server.listen names the key", func(t *testing.T) {
		out := second(t, fmt.Sprintf("[server]\nlisten = %q\nlog_format = \"text\"\n[storage]\ndir = %q\n[render]\nchromium = %q\n", addr, t.TempDir(), chromium))
		if !strings.Contains(out, "server.listen") || !strings.Contains(out, "another process listens there") {
			t.Errorf("the error does not say the port is taken, naming server.listen:\n%s", out)
		}
	})
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err == nil {
		<-a.exited
	}
}
