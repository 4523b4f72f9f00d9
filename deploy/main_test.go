package deploy

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"prerenderd/browser"
	"prerenderd/internal/prerenderdtest"
)

// One prerenderd (one Chromium), built from this tree, for the tests of the nginx and
// Caddy configs; it starts with the first test that needs it.
var (
	startOnce sync.Once
	appliance *prerenderdtest.Appliance
	startErr  error
	buildDir  string
)

func prerenderd(t testing.TB) *prerenderdtest.Appliance {
	t.Helper()
	chromium, err := browser.FindChromium(os.Getenv("PRERENDERD_CHROMIUM"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and there is no Chromium: %v", err)
		}
		t.Skipf("needs Chromium for prerenderd, and none was found (%v); `make test` installs it", err)
	}
	startOnce.Do(func() {
		var bin string
		if bin, startErr = prerenderdtest.Build(buildDir); startErr != nil {
			return
		}
		appliance, startErr = prerenderdtest.Start(bin, chromium, "")
	})
	if startErr != nil {
		t.Fatal(startErr)
	}
	return appliance
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if buildDir, err = os.MkdirTemp("", "prerenderd-deploy-*"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(buildDir)
	code := m.Run()
	if appliance != nil {
		if err := appliance.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return code
}
