package storage

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// holdLockEnv makes the test binary a helper process that opens the store in the
// named directory, says so on stdout, and keeps it open until its stdin closes.
const holdLockEnv = "PRERENDERD_STORAGE_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdLockEnv); dir != "" {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("open\n")
		_, _ = os.Stdin.Read(make([]byte, 1))
		_ = s.Close()
		os.Exit(0)
	}
	if dir := os.Getenv(writeUntilKilledEnv); dir != "" {
		writeUntilKilled(dir)
	}
	os.Exit(m.Run())
}

func TestOpeningAStoreInUseNamesItsHolderAndTheLockFile(t *testing.T) {
	t.Run("held by another process: its pid and command line", func(t *testing.T) {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), holdLockEnv+"="+dir)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); _ = cmd.Wait() }()
		line := make([]byte, 256)
		n, _ := out.Read(line)
		if !strings.HasPrefix(string(line[:n]), "open") {
			t.Fatalf("the helper process did not open the store: %q", line[:n])
		}

		_, err = Open(Options{Dir: dir, Logger: testLogger(t)})
		var le *LockedError
		if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
			t.Fatalf("Open of a store in use: %v, want a LockedError", err)
		}
		if le.PID != cmd.Process.Pid {
			t.Errorf("holder pid %d, want the helper's %d", le.PID, cmd.Process.Pid)
		}
		for _, want := range []string{filepath.Join(dir, "LOCK"), "process " + strconv.Itoa(cmd.Process.Pid), os.Args[0]} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not name %q", err, want)
			}
		}
	})
	t.Run("held by this process: the same message", func(t *testing.T) {
		dir := t.TempDir()
		s := openDisk(t, dir, Options{})
		defer s.Close()
		_, err := Open(Options{Dir: dir, Logger: testLogger(t)})
		var le *LockedError
		if !errors.As(err, &le) || le.PID != os.Getpid() || !strings.Contains(err.Error(), filepath.Join(dir, "LOCK")) {
			t.Fatalf("second Open in one process: %v", err)
		}
	})
	t.Run("released: the store opens again", func(t *testing.T) {
		dir := t.TempDir()
		openDisk(t, dir, Options{}).Close()
		s, err := Open(Options{Dir: dir, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
}
