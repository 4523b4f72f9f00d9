package deploy

import (
	"os"
	"testing"

	"prerenderd/internal/prerenderdtest"
)

// One prerenderd (one Chromium), built from this tree, for the tests of the nginx and
// Caddy configs; it starts with the first test that needs it.
var shared = prerenderdtest.NewShared("deploy", "")

func prerenderd(t testing.TB) *prerenderdtest.Appliance {
	t.Helper()
	return shared.Get(t)
}

func TestMain(m *testing.M) {
	os.Exit(shared.Main(m))
}
