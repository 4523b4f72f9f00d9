package httpfront

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"prerenderd/actors"
	"prerenderd/browser"
	"prerenderd/browser/fixture"
	"prerenderd/storage"
)

// One appliance (one Chromium) for the whole test binary: starting Chromium per test
// would cost more than the tests.
var (
	testApp      *actors.Appliance
	testStore    *storage.Store
	testChromium string
	// renderHook is the shared appliance's OnRender, set by the tests that
	// count renders.
	renderHook atomic.Pointer[func(actors.RenderEvent)]
)

const testPageTimeout = 4 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	path := fixture.ChromiumForTests("httpfront", browser.FindChromium)
	testChromium = path
	dir, err := os.MkdirTemp("", "prerenderd-httpfront-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testStore, err = storage.Open(storage.Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testStore.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	testApp, err = actors.Start(actors.Config{
		Shards:         4,
		TTL:            time.Hour,
		Browsers:       1,
		TabsPerBrowser: 4,
		Browser:        browser.Options{Path: path, PageTimeout: testPageTimeout},
		// The fixture origin is on loopback.
		Sitemaps: actors.SitemapsConfig{AllowPrivate: true},
		OnRender: func(e actors.RenderEvent) {
			if h := renderHook.Load(); h != nil {
				(*h)(e)
			}
		},
		Logger: logger,
	}, testStore)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testApp.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for testApp.Ready(ctx) != nil {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "FAIL: no browser became ready within 30s")
			return 1
		case <-time.After(50 * time.Millisecond):
		}
	}
	return m.Run()
}

// newFront serves the shared appliance through an HTTP front with cfg.
func newFront(t testing.TB, cfg Config) *httptest.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv := httptest.NewServer(New(cfg, testApp))
	t.Cleanup(srv.Close)
	return srv
}
