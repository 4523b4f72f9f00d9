//go:build linux

package browser

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// killLeftovers kills every process of the browser whose files are under
// root (see processesUsing). The command line and the environment find the
// whole tree even after the browser process died and its children were
// reparented. A child can fork while we look, so it looks again until a few
// passes find nothing.
func killLeftovers(root string) {
	const quietPasses = 3
	deadline := time.Now().Add(2 * time.Second)
	for quiet := 0; quiet < quietPasses && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if len(processesUsing(root, syscall.SIGKILL)) == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// processesUsing returns the pids of the browser whose files are under root,
// sending them sig when it is not 0: every process started with
// --user-data-dir=root/profile (full Chromium passes it to all its children),
// every process whose environment has TMPDIR=root/tmp, which finds the
// crashpad handlers (they detach to init and carry no profile flag), and every
// Chromium process in the process group the browser leads (Start puts it in a
// group of its own and writes its pid to root/groupFile): the headless shell
// passes neither the profile flag nor the environment to its zygotes, and the
// processes they fork rewrite their command line, so the group is all that
// ties them to their browser, also once it died and they were reparented.
// root is unique to one Browser and holds no space. A zombie is never counted.
func processesUsing(root string, sig syscall.Signal) []int {
	wantArg := []byte("--user-data-dir=" + filepath.Join(root, "profile"))
	wantEnv := []byte("TMPDIR=" + filepath.Join(root, "tmp"))
	group := readGroup(root)
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
		if err != nil || len(cmdline) == 0 {
			continue
		}
		// Zygote-forked children rewrite their command line into one
		// space-separated string, so both separators split arguments.
		found := hasField(cmdline, wantArg, func(r rune) bool { return r == 0 || r == ' ' })
		if !found && bytes.Contains(cmdline, []byte("chrom")) {
			if group > 0 {
				// A pid is not reused while a group it names has members, and
				// the command line must still be Chromium's.
				f := statFields(pid)
				found = len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(group)
			}
			if !found {
				env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
				found = hasField(env, wantEnv, func(r rune) bool { return r == 0 })
			}
		}
		if found {
			if sig != 0 {
				_ = syscall.Kill(pid, sig)
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

// setProcessGroup makes Chromium lead a process group of its own, which its
// children join (see processesUsing), and keeps what chromedp sets by default:
// the kernel kills Chromium when the thread that started it exits (chromedp
// starts it from a locked thread that waits for it).
func setProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = new(syscall.SysProcAttr)
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

func hasField(b, want []byte, sep func(rune) bool) bool {
	for f := range bytes.FieldsFuncSeq(b, sep) {
		if bytes.Equal(f, want) {
			return true
		}
	}
	return false
}

// clockTick is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Chromium runs on.
const clockTick = 10 * time.Millisecond

// procStats adds up what /proc says about pids: resident memory (statm), CPU
// time (stat: utime, stime, and cutime, cstime of reaped children, so the
// time of renderers that already exited is not lost) and the proportional
// set size (smaps_rollup). A pid that exited meanwhile is skipped.
func procStats(pids []int) Usage {
	var u Usage
	page := int64(os.Getpagesize())
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/"
		statm, err := os.ReadFile(dir + "statm")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(statm)); len(f) > 1 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			u.RSS += n * page
		}
		if stat, err := os.ReadFile(dir + "stat"); err == nil {
			// Fields after the command, which may hold spaces, in parentheses.
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
				f := strings.Fields(string(stat[i+1:]))
				// f[0] is field 3 (state); utime..cstime are fields 14..17.
				if len(f) > 14 {
					for _, s := range f[11:15] {
						n, _ := strconv.ParseInt(s, 10, 64)
						u.CPU += time.Duration(n) * clockTick
					}
				}
			}
		}
		u.PSS += pss(dir + "smaps_rollup")
		u.Processes++
	}
	return u
}

// pss reads the Pss line of an smaps_rollup file, in bytes.
func pss(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// processStart is the start time of pid in clock ticks since boot (field 22
// of /proc/PID/stat), which tells a process from a later one given the same
// pid; "" when pid does not run.
func processStart(pid int) string {
	f := statFields(pid)
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// processAlive reports whether pid runs: it exists and is not a zombie.
func processAlive(pid int) bool {
	f := statFields(pid)
	return len(f) > 0 && f[0] != "Z"
}

// statFields returns the fields of /proc/PID/stat after the command (which
// may hold spaces, in parentheses): f[0] is field 3, the state.
func statFields(pid int) []string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}
