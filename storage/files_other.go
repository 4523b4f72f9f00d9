//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package storage

// maxOpenFiles is Pebble's default where RLIMIT_NOFILE is not available.
func maxOpenFiles() int { return 1000 }
