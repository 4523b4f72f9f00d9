//go:build linux

package browser

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRemoveStaleProfilesRemovesOnlyThoseOfGoneProcesses(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	// A process that ran and is gone: its pid is not running (reuse within
	// the test is not expected).
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := gone.Process.Pid
	// A live process that is not this one.
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })
	livePid := live.Process.Pid
	for processStart(livePid) == "" {
		time.Sleep(time.Millisecond)
	}

	mk := func(name, owner string) string {
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(dir, "profile"), 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o600)
		}
		return dir
	}
	self := os.Getpid()
	tests := []struct {
		name    string
		dir     string
		removed bool
	}{
		{"a profile of a process that is gone is removed",
			mk(profilePrefix+strconv.Itoa(deadPid)+"-a", strconv.Itoa(deadPid)+" 12345\n"), true},
		{"a profile of a gone process whose owner file was never written is removed",
			mk(profilePrefix+strconv.Itoa(deadPid)+"-b", ""), true},
		{"a profile whose pid now runs another process is removed",
			mk(profilePrefix+strconv.Itoa(livePid)+"-c", strconv.Itoa(livePid)+" 1\n"), true},
		{"a profile of a running process is kept",
			mk(profilePrefix+strconv.Itoa(livePid)+"-d", strconv.Itoa(livePid)+" "+processStart(livePid)+"\n"), false},
		{"a profile of a running process still being made is kept",
			mk(profilePrefix+strconv.Itoa(livePid)+"-e", ""), false},
		{"a profile of this process is kept",
			mk(profilePrefix+strconv.Itoa(self)+"-f", strconv.Itoa(self)+" 1\n"), false},
		{"a directory without a pid in its name is not ours to judge",
			mk(profilePrefix+"abcdef", ""), false},
		{"another program's directory is kept", mk("chromium-xyz-1", ""), false},
	}
	// A process still using a stale profile (a Chromium child that outlived
	// its browser) is killed before the profile goes.
	stale := tests[0].dir
	user := exec.Command("sleep", "60")
	user.Args[0] = "--user-data-dir=" + filepath.Join(stale, "profile")
	if err := user.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { user.Wait(); close(exited) }()
	t.Cleanup(func() { user.Process.Kill(); <-exited })

	var logs bytes.Buffer
	RemoveStaleProfiles(slog.New(slog.NewTextHandler(&logs, nil)))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := os.Stat(tc.dir)
			if gone := os.IsNotExist(err); gone != tc.removed {
				t.Fatalf("%s: removed = %v, want %v", filepath.Base(tc.dir), gone, tc.removed)
			}
			if tc.removed && !strings.Contains(logs.String(), tc.dir) {
				t.Errorf("the removal of %s was not logged:\n%s", tc.dir, logs.String())
			}
		})
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the process using a stale profile still runs")
	}
}

func TestChromiumKeepsItsFilesUnderItsRootAndWritesNoCrashReport(t *testing.T) {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(shared.PID()) + "/environ")
	if err != nil {
		t.Skipf("cannot read Chromium's environment: %v", err)
	}
	vars := map[string]string{}
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			vars[k] = v
		}
	}
	for _, k := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "TMPDIR"} {
		if !strings.HasPrefix(vars[k], shared.root+"/") {
			t.Errorf("Chromium's %s = %q, want a directory under %s", k, vars[k], shared.root)
		}
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(shared.PID()) + "/cmdline")
	for _, flag := range []string{"--disable-breakpad", "--disable-crash-reporter", "--crash-dumps-dir=" + shared.root + "/"} {
		if !bytes.Contains(cmdline, []byte(flag)) {
			t.Errorf("Chromium runs without %s", flag)
		}
	}
	owner, err := os.ReadFile(filepath.Join(shared.root, ownerFile))
	if want := strconv.Itoa(os.Getpid()) + " " + processStart(os.Getpid()) + "\n"; err != nil || string(owner) != want {
		t.Errorf("owner file = %q, %v; want %q", owner, err, want)
	}
	if stale(shared.root) {
		t.Error("the profile of a running browser counts as stale")
	}
}
