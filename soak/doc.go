// Package soak holds the soak test of the built binary (`make soak`, build tag
// soak, not part of `make test`): ten times the appliance's render capacity
// for ten minutes against the fixture site, then the process's fds,
// goroutines and memory (PSS of prerenderd and of every Chromium) must be
// back within 10% of what they were after a warm-up, and every request must
// have been answered.
//
// It must never run in `make test` (it takes over ten minutes and both cores),
// nor import prerenderd's packages other than the fixture origin: it sees the
// appliance only as a user does, through HTTP, /metrics and /proc.
package soak
