package prerenderdtest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// ClusterNodeConfig is what differs between the cluster members that the cluster
// test and the cluster benchmark start; every member has one Chromium of two tabs.
type ClusterNodeConfig struct {
	Binary, Chromium string
	Name             string // the member's node name
	Etcd             string // the etcd endpoint
	LogLevel         string // server.log_level
	QueueTimeout     string // render.queue_timeout
	Cluster          string // more keys of [cluster], one per line
}

// ClusterNode is one prerenderd process started as a member of a cluster. Its
// directory (config, store, TMPDIR) is the caller's to remove after Stop. A
// race-enabled binary writes its race reports to Dir/race.* and exits 0 for them:
// protoactor's cluster races inside itself, so the caller judges the reports.
type ClusterNode struct {
	Name string
	URL  string
	Dir  string
	Log  *SyncBuffer

	cmd    *exec.Cmd
	exited chan error
	done   bool
}

// StartClusterNode starts a member; it does not wait for it (WaitReady).
func StartClusterNode(tb testing.TB, c ClusterNodeConfig) *ClusterNode {
	tb.Helper()
	dir, err := os.MkdirTemp("", "pcl")
	if err != nil {
		tb.Fatal(err)
	}
	addr, err := FreeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	cfg := fmt.Sprintf(`[server]
listen = %q
log_format = "text"
log_level = %q
shutdown_timeout = "10s"
[storage]
dir = %q
[render]
browsers = 1
tabs_per_browser = 2
page_timeout = "20s"
queue_timeout = %q
chromium = %q
[security]
allow_private = true
[cluster]
enabled = true
node = %q
etcd_endpoints = [%q]
bind = "127.0.0.1:0"
%s`, addr, c.LogLevel, filepath.Join(dir, "data"), c.QueueTimeout, c.Chromium, c.Name, c.Etcd, c.Cluster)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	n := &ClusterNode{Name: c.Name, URL: "http://" + addr, Dir: dir, Log: &SyncBuffer{}, exited: make(chan error, 1)}
	n.cmd = exec.Command(c.Binary, "-config", path)
	n.cmd.Env = append(os.Environ(), "TMPDIR="+dir, "GORACE=exitcode=0 log_path="+filepath.Join(dir, "race"))
	n.cmd.Stdout, n.cmd.Stderr = n.Log, n.Log
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		tb.Fatalf("cannot start %s: %v", c.Name, err)
	}
	go func() { n.exited <- n.cmd.Wait() }()
	return n
}

// WaitReady waits until the member answers /readyz with 200, failing tb when it
// exits first or is not ready within the time given.
func (n *ClusterNode) WaitReady(tb testing.TB, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(n.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-n.exited:
			n.exited <- err
			tb.Fatalf("%s exited before it was ready: %v\n%s", n.Name, err, n.Log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s was not ready within %s:\n%s", n.Name, within, n.Log.String())
		}
	}
}

// Kill9 kills the process as a crash would: nothing of it is told.
func (n *ClusterNode) Kill9() {
	n.done = true
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
	n.exited <- nil
}

// Stop sends SIGTERM and returns how the process exited; one that does not stop
// within 20 s is killed and fails tb. A member killed or stopped before is left
// alone.
func (n *ClusterNode) Stop(tb testing.TB) error {
	if n.done {
		return nil
	}
	n.done = true
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.exited:
		n.exited <- err
		return err
	case <-time.After(20 * time.Second):
		_ = n.cmd.Process.Kill()
		n.exited <- <-n.exited
		tb.Errorf("%s did not stop within 20s of SIGTERM", n.Name)
		return nil
	}
}
