package prerenderdtest

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EtcdBinary is Debian's etcd-server (make testdeps installs it), or the one
// PRERENDERD_ETCD names. Without one, tb is skipped with a message, or fails
// when CI is set.
func EtcdBinary(tb testing.TB) string {
	tb.Helper()
	for _, p := range []string{os.Getenv("PRERENDERD_ETCD"), "/usr/bin/etcd"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatal("CI is set and there is no etcd: `make testdeps` installs Debian's etcd-server")
	}
	tb.Skip("needs etcd (Debian's etcd-server) and none was found; `make testdeps` installs it")
	return ""
}

// StartEtcd runs a one-member etcd on random loopback ports until the end of
// tb and returns its client endpoint (host:port).
func StartEtcd(tb testing.TB) string {
	tb.Helper()
	bin := EtcdBinary(tb)
	client, err := freeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	peer, err := freeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	// etcd fsyncs every write; on a busy disk a write can take longer than a
	// member's lease. In memory (tmpfs), when the machine has one.
	dir := tb.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "prerenderd-etcd-"); err == nil {
			dir = d
			tb.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	cmd := exec.Command(bin, "--name", "test", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "test=http://"+peer)
	log := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("cannot start etcd: %v", err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + client + "/health")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "true") {
				return client
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("etcd did not answer /health within 20s:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
