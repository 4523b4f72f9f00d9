// Package hitbench measures prerenderd's cache hits as a user runs them: the
// built binary (PRERENDERD_BIN) on a store filled with 30 KB pages, hammered over
// loopback by wrk, in interleaved rounds beside a bare net/http server answering
// the same bytes with the same headers (command barehttp) and nginx serving the
// same files. It reports each figure as a ratio of the baselines run beside it
// (make bench-hits).
//
// It holds a benchmark only; no part of prerenderd imports it, and make test does
// not run it. It must never report a figure that was not measured in the same run
// as its baselines, or measure prerenderd any other way than through its binary.
package hitbench
