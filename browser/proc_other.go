//go:build !linux

package browser

import "syscall"

// killLeftovers relies on chromedp's own process handling where there is no
// /proc to find Chromium's children by their command line.
func killLeftovers(string) {}

func processesUsing(string, syscall.Signal) []int { return nil }

func procStats([]int) Usage { return Usage{} }
