//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package storage

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockHolder asks the kernel whether a process holds a lock on path, and which
// (fcntl F_GETLK, the lock type Pebble takes). A process in another PID namespace
// holds it with pid 0.
func lockHolder(path string) (held bool, pid int) {
	f, err := os.Open(path)
	if err != nil {
		return false, 0
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil || lk.Type == syscall.F_UNLCK {
		return false, 0
	}
	return true, int(lk.Pid)
}

// processCommand is the command line of pid from /proc (Linux), "" elsewhere or
// when the process is gone.
func processCommand(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	cmd := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if len(cmd) > 200 {
		cmd = cmd[:200] + "…"
	}
	return cmd
}

func selfProcess() (int, string) {
	pid := os.Getpid()
	return pid, processCommand(pid)
}
