package actors

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"regexp"
	"testing"
	"time"

	"prerenderd/browser"
	"prerenderd/browser/fixture"
	"prerenderd/storage"
	"prerenderd/storage/storetest"
)

// pageWidth is the viewport width the fixture page /device printed in a stored page.
func pageWidth(t *testing.T, store *storage.Store, key string) string {
	t.Helper()
	p, err := storetest.Page(store, key)
	if err != nil {
		t.Fatalf("%s is not stored: %v", key, err)
	}
	m := regexp.MustCompile(`(?s)<span id="width">(\d+)</span>.*<span id="class">(\w+)</span>`).FindSubmatch(p.Plain)
	if m == nil {
		t.Fatalf("%s: no width in the page", key)
	}
	return string(m[1]) + " " + string(m[2])
}

// TestVariantsAndCaptures shares one appliance (one Chromium) between its parts.
func TestVariantsAndCaptures(t *testing.T) {
	origin := fixture.New(t)
	app, store := startApp(t, func(c *Config) {
		c.MobileDevice = browser.Device{Width: 390, Height: 844, Scale: 3}
		c.TabsPerBrowser = 1
		c.QueueTimeout = 300 * time.Millisecond
		// Far longer than the test may take: a tab given back early is the
		// abandonment's doing.
		c.Browser.PageTimeout = 30 * time.Second
	})
	t.Run("the variant in the key chooses the screen", func(t *testing.T) { variantChoosesScreen(t, origin, app, store) })
	t.Run("captures take a tab as live renders do and never touch the cache", func(t *testing.T) { capturesTakeATab(t, origin, app, store) })
}

func variantChoosesScreen(t *testing.T, origin *fixture.Origin, app *Appliance, store *storage.Store) {
	url := origin.URL + "/device"
	for _, key := range []string{"desktop|" + url, "mobile|" + url} {
		if _, err := app.Render(context.Background(), key, url); err != nil {
			t.Fatalf("render %s: %v", key, err)
		}
	}
	if got := pageWidth(t, store, "desktop|"+url); got != "1366 desktop" {
		t.Errorf("the desktop entry was rendered at %s", got)
	}
	if got := pageWidth(t, store, "mobile|"+url); got != "390 mobile" {
		t.Errorf("the mobile entry was rendered at %s, want the configured phone", got)
	}

	// A recache of the mobile key, through the priority queue, renders mobile too.
	recached := origin.URL + "/device?recache=1"
	if _, err := app.Recache(context.Background(), []RecacheItem{{Key: "mobile|" + recached, URL: recached, Source: "api"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := storetest.Page(store, "mobile|"+recached); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mobile recache was not stored within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := pageWidth(t, store, "mobile|"+recached); got != "390 mobile" {
		t.Errorf("the recached mobile entry was rendered at %s", got)
	}
}

func capturesTakeATab(t *testing.T, origin *fixture.Origin, app *Appliance, store *storage.Store) {
	before := store.PageCount()

	res, err := app.Capture(context.Background(), browser.Request{URL: origin.URL + "/product", Output: browser.OutputPNG, Device: &browser.Device{Width: 640, Height: 480}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(res.Body))
	if err != nil || img.Bounds().Dx() != 640 {
		t.Fatalf("capture: %v, %v", err, img)
	}
	if store.PageCount() != before {
		t.Errorf("a capture was stored in the cache")
	}

	// The one tab is held by a capture of a page that is never done…
	ctx, abandon := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() {
		_, err := app.Capture(ctx, browser.Request{URL: origin.URL + "/timeout", Output: browser.OutputPNG})
		held <- err
	}()
	waitFor(t, func() bool { return app.metrics.tabsBusy.Load() == 1 })
	// …so another one waits render.queue_timeout, then is refused.
	if _, err := app.Capture(context.Background(), browser.Request{URL: origin.URL + "/", Output: browser.OutputPDF}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("a capture with no tab free: %v, want ErrOverloaded", err)
	}
	// A caller that leaves gives its tab back at once, not at the page timeout.
	abandon()
	if err := <-held; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned capture: %v", err)
	}
	begin := time.Now()
	res, err = app.Capture(context.Background(), browser.Request{URL: origin.URL + "/", Output: browser.OutputPDF})
	if err != nil || !bytes.HasPrefix(res.Body, []byte("%PDF")) {
		t.Fatalf("capture after the abandoned one: %v", err)
	}
	if took := time.Since(begin); took > 15*time.Second {
		t.Errorf("the capture after an abandoned one took %s: its tab was not given back", took)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
