//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package storage

import "os"

// Without fcntl locks the holder cannot be asked for: the message names the lock file.
func lockHolder(string) (bool, int) { return true, 0 }
func processCommand(int) string     { return "" }
func selfProcess() (int, string)    { return os.Getpid(), "" }
