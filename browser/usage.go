package browser

import (
	"fmt"
	"syscall"
	"time"
)

// Usage is what the process tree of one Chromium costs: the browser process
// and every child it forked (zygotes, renderers, GPU and network services).
type Usage struct {
	Processes int
	// RSS adds up the resident set of every process. Pages shared between
	// them count once per process, so it overstates the tree about
	// fourfold (an idle browser: RSS 820 MB, PSS 175 MB).
	RSS int64
	// PSS adds up the proportional set sizes: shared pages divided among
	// their sharers, so each resident page of the tree counts once. It is
	// what the tree costs the machine, and what a memory limit compares with.
	PSS int64
	// CPU is user plus system time of the processes and of the children
	// they reaped (renderers of closed tabs).
	CPU time.Duration
}

// Usage measures the process tree of the browser from /proc. It scans /proc
// and walks the page tables of every process of the tree (a few
// milliseconds): call it every few seconds, not per render. On systems
// without /proc it returns a zero Usage.
func (b *Browser) Usage() Usage {
	return procStats(processesUsing(b.root, 0))
}

// Kill sends SIGKILL to the Chromium browser process: for a browser that no
// longer answers. Done closes once the process is gone; Close must still be
// called to reap what is left of its tree and remove its profile.
func (b *Browser) Kill() error {
	if b.pid <= 0 {
		return fmt.Errorf("cannot kill chromium: no process: %w", ErrBrowserClosed)
	}
	if err := syscall.Kill(b.pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("cannot kill chromium (pid %d): %w", b.pid, err)
	}
	return nil
}
