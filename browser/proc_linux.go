//go:build linux

package browser

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// killLeftovers kills every process started with --user-data-dir=dir.
// Chromium passes the flag to all its children and dir is unique to one
// Browser, so the command line finds the whole tree even after the browser
// process died and its children were reparented. A child can fork while we
// look, so it looks again until a few passes find nothing.
func killLeftovers(dir string) {
	const quietPasses = 3
	deadline := time.Now().Add(2 * time.Second)
	for quiet := 0; quiet < quietPasses && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if len(processesUsing(dir, syscall.SIGKILL)) == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// processesUsing returns the pids whose command line has
// --user-data-dir=dir, sending them sig when it is not 0.
func processesUsing(dir string, sig syscall.Signal) []int {
	want := []byte("--user-data-dir=" + dir)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
			if bytes.Equal(arg, want) {
				if sig != 0 {
					_ = syscall.Kill(pid, sig)
				}
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
