package prerenderdtest

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"prerenderd/browser"
)

// Shared is one prerenderd (one Chromium) for a whole test binary, built from this
// tree: the first test that needs it starts it, so benchmarks that do not run
// without it, and Main stops it after the last test.
type Shared struct {
	name       string // names the build directory
	serverKeys string // extra [server] keys, as Start takes them

	once sync.Once
	dir  string
	app  *Appliance
	err  error
}

// NewShared describes the appliance of a test binary; name tells its temporary
// directory apart (prerenderd-<name>-…).
func NewShared(name, serverKeys string) *Shared {
	return &Shared{name: name, serverKeys: serverKeys}
}

// Get returns the running appliance, starting it on first use. Without Chromium it
// skips the test with a message, or fails it when CI is set.
func (s *Shared) Get(t testing.TB) *Appliance {
	t.Helper()
	chromium, err := browser.FindChromium(os.Getenv("PRERENDERD_CHROMIUM"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and there is no Chromium: %v", err)
		}
		t.Skipf("needs Chromium for prerenderd, and none was found (%v); `make test` installs it", err)
	}
	s.once.Do(func() {
		if s.dir == "" {
			s.err = fmt.Errorf("prerenderdtest: Shared.Get called outside Shared.Main")
			return
		}
		var bin string
		if bin, s.err = Build(s.dir); s.err != nil {
			return
		}
		s.app, s.err = Start(bin, chromium, s.serverKeys)
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.app
}

// Main runs the tests of m and stops the appliance after them; call it from
// TestMain: os.Exit(shared.Main(m)).
func (s *Shared) Main(m *testing.M) int {
	var err error
	if s.dir, err = os.MkdirTemp("", "prerenderd-"+s.name+"-*"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(s.dir)
	code := m.Run()
	if s.app != nil {
		if err := s.app.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return code
}
