package browser

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

// shared is the one Chromium of this test binary. Tests that stop or kill a
// browser start their own.
var shared *Browser

// sharedTimeout is short so the timeout cases do not dominate the run, and
// long enough for the 2 s long-request rule to finish a page before it, and
// for the 5 MB page to be built and serialized within it: the page timeout
// bounds the serialization too (serializeReserve), and on this 2-core machine
// the page takes 3-5 s to build and 0.7-3 s to cross CDP (8 s failed under load).
const sharedTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	path := fixture.ChromiumForTests("browser", FindChromium)
	var err error
	shared, err = Start(context.Background(), testOptions(path))
	if err != nil {
		fmt.Fprintf(os.Stderr, "browser: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "browser: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

func testOptions(path string) Options {
	return Options{
		Path:        path,
		Tabs:        2,
		PageTimeout: sharedTimeout,
		BlockURLs:   []string{"*://*:*/tracker/*"},
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// startOwn starts a browser that the test may close or kill.
func startOwn(t *testing.T, tabs int) *Browser {
	t.Helper()
	opts := testOptions(shared.path)
	opts.Tabs = tabs
	b, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}
