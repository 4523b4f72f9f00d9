package browser

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A Browser's files live in one directory under TMPDIR named
// profilePrefix<pid>-<random>, pid being the prerenderd process that made it, with
// an ownerFile inside that holds the pid and the process's start time. Close
// removes it; a prerenderd killed with -9 cannot, and RemoveStaleProfiles does at
// the next start.
const (
	profilePrefix = "prerenderd-"
	ownerFile     = "owner"
	// groupFile holds the pid of the Chromium started with the directory: it
	// leads the process group of the browser's whole tree (processesUsing).
	groupFile = "group"
)

// makeRoot creates the directory of one Browser and writes its owner file.
func makeRoot() (string, error) {
	pid := os.Getpid()
	root, err := os.MkdirTemp("", profilePrefix+strconv.Itoa(pid)+"-")
	if err != nil {
		return "", err
	}
	owner := strconv.Itoa(pid) + " " + processStart(pid) + "\n"
	if err := os.WriteFile(filepath.Join(root, ownerFile), []byte(owner), 0o600); err != nil {
		return "", errors.Join(err, os.RemoveAll(root))
	}
	return root, nil
}

// writeGroup notes in root the process group Chromium leads.
func writeGroup(root string, pid int) error {
	return os.WriteFile(filepath.Join(root, groupFile), []byte(strconv.Itoa(pid)+"\n"), 0o600)
}

// readGroup returns the process group noted in root, 0 when none is.
func readGroup(root string) int {
	b, err := os.ReadFile(filepath.Join(root, groupFile))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// RemoveStaleProfiles removes the Chromium directories that earlier prerenderd
// processes left under TMPDIR (killed with -9, or a machine that lost power),
// killing any process still using one. It touches only directories named by
// makeRoot whose owner process is gone: a pid that no longer runs, or that a
// later process reuses (its start time differs). A directory of a running
// prerenderd, or one whose owner file is not written yet, is left alone.
func RemoveStaleProfiles(log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), profilePrefix+"*-*"))
	for _, dir := range dirs {
		if !stale(dir) {
			continue
		}
		killLeftovers(dir)
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("cannot remove a stale chromium profile", "dir", dir, "err", err)
			continue
		}
		log.Info("removed a stale chromium profile", "dir", dir)
	}
}

// stale reports whether dir was made by makeRoot in a process that is gone.
func stale(dir string) bool {
	rest := strings.TrimPrefix(filepath.Base(dir), profilePrefix)
	pidText, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return false
	}
	start, alive := processStart(pid), processAlive(pid)
	if !alive {
		return true
	}
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false // being made right now, or not ours to judge
	}
	var ownerPid int
	var ownerStart string
	if _, err := fmt.Sscan(string(b), &ownerPid, &ownerStart); err != nil || ownerPid != pid {
		return false
	}
	// The pid runs, but it is another process than the one that made dir.
	return start != "" && ownerStart != start
}
