//go:build !linux

package browser

import (
	"errors"
	"os/exec"
	"syscall"
)

// killLeftovers relies on chromedp's own process handling where there is no
// /proc to find Chromium's children by their command line.
func killLeftovers(string) {}

func processesUsing(string, syscall.Signal) []int { return nil }

// setProcessGroup keeps chromedp's defaults where processes are not tracked.
func setProcessGroup(*exec.Cmd) {}

func procStats([]int) Usage { return Usage{} }

// processStart is unknown without /proc: a profile whose owner pid runs is
// then never judged stale.
func processStart(int) string { return "" }

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
