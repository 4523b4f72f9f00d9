package prerenderdtest

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// EnvInt is the positive count in the environment variable name, or def when
// it is unset; anything else fails tb, naming the variable. The benchmarks
// take their sizes (pages, rounds, renders) from the Makefile this way.
func EnvInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// LoadAvg is the machine's load average over 1, 5 and 15 minutes, as
// /proc/loadavg gives it, or "unknown": each benchmark prints it beside its
// figures, since a shared machine moves them.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
