package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"prerenderd/browser"
	"prerenderd/browser/fixture"
	"prerenderd/egress"
	"prerenderd/netguard"
	"prerenderd/storage"
	"prerenderd/storage/storetest"
)

var chromiumPath string

// loopbackOrigins is the egress of the tests: their fixture origins listen on
// 127.0.0.1 (security.allow_addresses = ["127.0.0.1/32"]); every other private
// address stays refused.
var loopbackOrigins = egress.Options{Policy: mustPolicy("127.0.0.1/32")}

func mustPolicy(allow ...string) *netguard.Policy {
	p, err := netguard.NewPolicy(false, allow)
	if err != nil {
		panic(err)
	}
	return p
}

func TestMain(m *testing.M) {
	chromiumPath = fixture.ChromiumForTests("actors", browser.FindChromium)
	os.Exit(m.Run())
}

// startApp starts an appliance with one browser on an in-memory store and waits
// until that browser answers. The tests here kill Chromium on purpose, so each gets
// an appliance of its own.
func startApp(t *testing.T, mutate func(*Config)) (*Appliance, *storage.Store) {
	t.Helper()
	store, err := storage.Open(storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Shards: 2, TTL: time.Hour, Browsers: 1, TabsPerBrowser: 2,
		Browser: browser.Options{Path: chromiumPath, PageTimeout: 5 * time.Second},
		Egress:  loopbackOrigins,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	app, err := Start(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		store.Close()
	})
	waitReady(t, app)
	return app, store
}

func waitReady(t *testing.T, app *Appliance) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := app.Ready(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func upBrowser(t *testing.T, app *Appliance) *browser.Browser {
	t.Helper()
	up := app.up.Load()
	if up == nil || len(*up) == 0 {
		t.Fatal("no browser up")
	}
	return (*up)[0]
}

func TestAKilledChromiumIsRestartedBySupervision(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, nil)
	old := upBrowser(t, app)
	if err := syscall.Kill(old.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-old.Done()
	deadline := time.Now().Add(30 * time.Second)
	for {
		up := app.up.Load()
		if up != nil && len(*up) == 1 && (*up)[0] != old {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new browser 30s after the old one was killed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := app.metrics.restarts[reasonCrash].Get(); got != 1 {
		t.Errorf("browser restarts for a crash = %d, want 1", got)
	}
	r, err := app.Render(context.Background(), "desktop|"+origin.URL+"/product", origin.URL+"/product")
	if err != nil || !r.Stored {
		t.Fatalf("render on the restarted browser: %v %+v", err, r)
	}
}

func TestARenderWhoseChromiumIsKilledIsRetriedOnTheRestartedOne(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, nil)
	old := upBrowser(t, app)
	url := origin.URL + "/slowdoc"
	done := make(chan error, 1)
	var res *Rendered
	go func() {
		var err error
		res, err = app.Render(context.Background(), "desktop|"+url, url)
		done <- err
	}()
	// Kill once the document request has reached the origin: mid-render.
	for deadline := time.Now().Add(10 * time.Second); origin.Hits("/slowdoc") == 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("render never reached the origin")
		}
	}
	syscall.Kill(old.PID(), syscall.SIGKILL)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("render failed instead of being retried: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("render hung after its Chromium was killed")
	}
	if res.Result.Status != 200 || origin.Hits("/slowdoc") < 2 {
		t.Fatalf("status %d, origin hits %d: the retry did not render again", res.Result.Status, origin.Hits("/slowdoc"))
	}
}

func TestConcurrentRendersOfOneKeyJoinOneRender(t *testing.T) {
	origin := fixture.New(t)
	app, store := startApp(t, nil)
	url := origin.URL + "/product?join=1"
	key := "desktop|" + url
	const n = 20
	var wg sync.WaitGroup
	joined := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := app.Render(context.Background(), key, url)
			errs[i] = err
			if r != nil {
				joined[i] = r.Joined || r.FromStore
			}
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("render %d: %v", i, errs[i])
		}
		if !joined[i] {
			fresh++
		}
	}
	if fresh != 1 || origin.Hits("/product") != 1 {
		t.Fatalf("%d renders started, origin fetched the document %d times; want 1 and 1", fresh, origin.Hits("/product"))
	}
	if _, err := storetest.Page(store, key); err != nil {
		t.Fatalf("page not stored: %v", err)
	}
}

func TestAFullQueueIsRefusedAsOverloaded(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, func(c *Config) {
		c.TabsPerBrowser = 1
		c.MaxQueue = 1
		c.QueueTimeout = 500 * time.Millisecond
	})
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("%s/timeout?overload=%d", origin.URL, i)
			_, errs[i] = app.Render(context.Background(), "desktop|"+url, url)
		}()
	}
	wg.Wait()
	overloaded := 0
	for _, err := range errs {
		if errors.Is(err, ErrOverloaded) {
			overloaded++
		} else if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if overloaded < n-2 {
		t.Fatalf("%d of %d renders refused as overloaded; with one tab and a queue of one, want at least %d", overloaded, n, n-2)
	}
}
