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
	"prerenderd/egress"
	"prerenderd/netguard"
	"prerenderd/storage"
)

// One appliance (one Chromium) for the whole test binary: starting Chromium per test
// would cost more than the tests.
var (
	testApp      *actors.Appliance
	testStore    *storage.Store
	testChromium string
	// loopbackOrigins is security.allow_addresses = ["127.0.0.1/32"].
	loopbackOrigins = func() *netguard.Policy {
		p, err := netguard.NewPolicy(false, []string{"127.0.0.1/32"})
		if err != nil {
			panic(err)
		}
		return p
	}()
	// testFree is the free space the test store sees; a test of a full disk
	// lowers it and puts it back.
	testFree atomic.Int64
	// renderHook is the shared appliance's OnRender, set by the tests that
	// count renders.
	renderHook atomic.Pointer[func(actors.RenderEvent)]
)

// plentyFree is testFree unless a test says otherwise.
const plentyFree = 1 << 40

// testPageTimeout bounds each render, serialization included: the 5 MB page
// must be built and serialized within it on a loaded machine (see
// browser's sharedTimeout).
const testPageTimeout = 10 * time.Second

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
	testFree.Store(plentyFree)
	testStore, err = storage.Open(storage.Options{Dir: dir,
		FreeBytes: func() (int64, error) { return testFree.Load(), nil }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testStore.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Before Chromium: its host resolver rules send the nginx test's site there.
	shopForward, err = startForwarder()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shopForward.close()
	testApp, err = actors.Start(actors.Config{
		Shards:         4,
		TTL:            time.Hour,
		Browsers:       1,
		TabsPerBrowser: 4,
		Browser:        browser.Options{Path: path, PageTimeout: testPageTimeout},
		// The fixture origins listen on 127.0.0.1; every other private address
		// stays refused, at request time and at dial time. The nginx test's site
		// is named by host alone (shop.test:80): the proxy sends it to the
		// forwarder, as Chromium's host resolver rules would without a proxy.
		Egress: egress.Options{Policy: loopbackOrigins, Hosts: map[string]string{shopHost + ":80": shopForward.addr()}},
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
