package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrLocked is wrapped by the error Open returns when another process (or another
// Store of this process) has the database open: Pebble holds a lock on its LOCK file
// for as long as a DB is open.
var ErrLocked = errors.New("storage: in use by another process")

// LockedError says who holds the database, so that the message can name the next
// step: stop that process, or use another directory.
type LockedError struct {
	Dir      string
	LockFile string
	// PID is the process holding the lock; 0 when it could not be found (another
	// PID namespace, or a system without F_GETLK).
	PID int
	// Command is the holder's command line, when /proc shows it.
	Command string
}

func (e *LockedError) Error() string {
	holder := "another process"
	switch {
	case e.PID > 0 && e.Command != "":
		holder = fmt.Sprintf("process %d (%s)", e.PID, e.Command)
	case e.PID > 0:
		holder = fmt.Sprintf("process %d", e.PID)
	}
	return fmt.Sprintf("storage at %q is in use: %s holds its lock file %s", e.Dir, holder, e.LockFile)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// lockError turns Pebble's failure to take the LOCK file into a LockedError, or
// returns nil when err is something else. Pebble reports a lock held by another
// process as the errno of fcntl(F_SETLK) (EAGAIN or EACCES), and one held by this
// process in a message of its own.
func lockError(dir string, err error) error {
	inProcess := strings.Contains(err.Error(), "lock held by current process")
	if !inProcess && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
		return nil
	}
	le := &LockedError{Dir: dir, LockFile: filepath.Join(dir, "LOCK")}
	if inProcess {
		le.PID, le.Command = selfProcess()
		return le
	}
	held, pid := lockHolder(le.LockFile)
	if !held {
		return nil // EACCES on the directory itself, not a held lock
	}
	le.PID = pid
	if pid > 0 {
		le.Command = processCommand(le.PID)
	}
	return le
}
