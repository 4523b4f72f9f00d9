package middleware_test

import (
	"fmt"
	"os"
	"testing"

	"prerenderd/internal/prerenderdtest"
)

// One prerenderd (one Chromium), built from this tree, for the whole test binary: the
// middleware is tested against the real server it fronts. It starts with the first
// test that needs it, so the benchmarks run without it.
var shared = prerenderdtest.NewShared("middleware", fmt.Sprintf("tokens = [%q]", token))

const token = "middleware-test-token"

func prerenderd(t testing.TB) *prerenderdtest.Appliance {
	t.Helper()
	return shared.Get(t)
}

func TestMain(m *testing.M) {
	os.Exit(shared.Main(m))
}
