//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package storage

import "syscall"

// maxOpenFiles sizes Pebble's table cache from RLIMIT_NOFILE (Go raises the
// soft limit to the hard one at start). At 1M pages the LSM holds several
// hundred to a few thousand sstables, and every table Pebble must reopen on a
// Get costs a syscall and an index read; half the limit is left for sockets
// and Chromium's pipes.
func maxOpenFiles() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1000
	}
	return int(min(max(int64(rl.Cur)/2, 256), 1<<16))
}
