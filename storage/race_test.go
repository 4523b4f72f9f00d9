//go:build race

package storage

// raceEnabled: the race detector instruments allocations and makes sync.Pool drop
// items at random, so allocation counts differ from a normal build.
const raceEnabled = true
