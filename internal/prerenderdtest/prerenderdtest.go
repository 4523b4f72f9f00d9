// Package prerenderdtest runs the built prerenderd binary for the tests of packages
// that stand outside it and talk to it over HTTP only, as users' programs do: the Go
// middleware and the nginx and Caddy configs in deploy/. It is for tests only; no
// part of prerenderd imports it. It imports browser only to find Chromium.
package prerenderdtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Build compiles prerenderd into dir with the race detector, as main's tests do, so
// `make test` links it from packages already in the build cache. When
// PRERENDERD_TEST_BINARY names a file (`make test` links one for every package),
// that binary is used instead.
func Build(dir string) (string, error) {
	if bin := os.Getenv("PRERENDERD_TEST_BINARY"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("PRERENDERD_TEST_BINARY: %w", err)
		}
		return bin, nil
	}
	bin := filepath.Join(dir, "prerenderd")
	out, err := exec.Command("go", "build", "-race", "-o", bin, "prerenderd").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cannot build prerenderd: %w\n%s", err, out)
	}
	return bin, nil
}

// Appliance is a running prerenderd.
type Appliance struct {
	Addr string // host:port it listens on
	URL  string // http://host:port

	cmd    *exec.Cmd
	dir    string
	log    *SyncBuffer
	exited chan error
}

// Start runs bin on loopback with one Chromium, a store of its own and
// security.allow_private (the test origins are on loopback), plus serverKeys (TOML
// lines of its [server] table, such as tokens), and waits until /readyz answers 200.
// Stop it with Stop.
func Start(bin, chromium, serverKeys string) (*Appliance, error) {
	// Short: Chromium puts a Unix socket under TMPDIR, limited to 108 bytes of path.
	dir, err := os.MkdirTemp("", "pdt")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cfg := fmt.Sprintf("[server]\nlisten = %q\nlog_format = \"text\"\nlog_level = \"warn\"\nshutdown_timeout = \"10s\"\n%s\n"+
		"[storage]\ndir = %q\n[render]\nbrowsers = 1\ntabs_per_browser = 2\npage_timeout = \"5s\"\nchromium = %q\n"+
		"[security]\nallow_private = true\n", addr, serverKeys, filepath.Join(dir, "data"), chromium)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	a := &Appliance{Addr: addr, URL: "http://" + addr, dir: dir, log: &SyncBuffer{}, exited: make(chan error, 1)}
	a.cmd = exec.Command(bin, "-config", cfgPath)
	a.cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	// A test binary killed by its timeout leaves no prerenderd (and so no Chromium)
	// behind.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := a.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cannot start %s: %w", bin, err)
	}
	go func() { a.exited <- a.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(a.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a, nil
			}
		}
		select {
		case err := <-a.exited:
			a.exited <- err
			os.RemoveAll(dir)
			return nil, fmt.Errorf("prerenderd exited before it was ready: %v\n%s", err, a.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("prerenderd was not ready within 60s:\n%s", a.log.String()), a.Stop())
		}
	}
}

// Stop sends SIGTERM, waits for the process (and its Chromium) to end, kills it after
// 20 s, and removes its files.
func (a *Appliance) Stop() error {
	defer os.RemoveAll(a.dir)
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.exited:
		if err != nil {
			return fmt.Errorf("prerenderd stopped with %v:\n%s", err, a.log.String())
		}
		return nil
	case <-time.After(20 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
		return fmt.Errorf("prerenderd did not stop within 20s of SIGTERM:\n%s", a.log.String())
	}
}

// Log is what prerenderd wrote so far.
func (a *Appliance) Log() string { return a.log.String() }

// FreeAddr is a loopback address with a port nothing listens on right now.
func FreeAddr() (string, error) { return freeAddr() }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// SyncBuffer collects a process's output while a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
