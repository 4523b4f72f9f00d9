package actors

import (
	"strings"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

// TestStateShowsEveryRenderAndTheHookSeesEveryEnd watches one browser with one
// tab: a slow queued render holds it, a crawler's render waits for it until its
// deadline, then a second one gets it.
func TestStateShowsEveryRenderAndTheHookSeesEveryEnd(t *testing.T) {
	origin := fixture.New(t)
	events := make(chan RenderEvent, 10)
	app, _ := startApp(t, func(c *Config) {
		c.TabsPerBrowser = 1
		c.QueueTimeout = 400 * time.Millisecond
		c.OnRender = func(e RenderEvent) { events <- e }
	})
	st := app.State()
	if len(st.Browsers) != 1 || st.Browsers[0].Draining || st.Browsers[0].PID == 0 || st.Browsers[0].Tabs != 1 || st.Tabs != 1 {
		t.Fatalf("browsers at start: %+v", st.Browsers)
	}
	if st.Browsers[0].UpSince.IsZero() || len(st.Browsers[0].Rendering) != 0 || len(st.Waiting) != 0 {
		t.Fatalf("browser at start: %+v, waiting %v", st.Browsers[0], st.Waiting)
	}

	slow := renderAs(app, ClassNormal, origin.URL+"/slowdoc?ms=1500")
	waitHits(t, origin, "/slowdoc", 1)
	overloaded := renderAs(app, ClassLive, origin.URL+"/?first")
	deadline := time.Now().Add(5 * time.Second)
	// State reads the gauges, then the tracker: the render actor counts itself
	// in flight and the tracker lists it when it starts, the pool counts it in
	// the tab queue when its ask arrives, a moment later. Wait for all three.
	for st = app.State(); (len(st.Waiting) == 0 || st.TabWait == 0 || st.RendersInFlight < 2) && time.Now().Before(deadline); st = app.State() {
		time.Sleep(10 * time.Millisecond)
	}
	if len(st.Waiting) != 1 || st.Waiting[0].Queue != ClassLive || !strings.HasSuffix(st.Waiting[0].URL, "/?first") {
		t.Fatalf("waiting: %+v", st.Waiting)
	}
	rendering := st.Browsers[0].Rendering
	if len(rendering) != 1 || rendering[0].Queue != ClassNormal || !strings.Contains(rendering[0].URL, "/slowdoc") || rendering[0].Since.IsZero() {
		t.Fatalf("rendering: %+v", rendering)
	}
	if st.RendersInFlight != 2 || st.TabsBusy != 1 || st.TabWait != 1 {
		t.Fatalf("in flight %d, busy %d, waiting for a tab %d", st.RendersInFlight, st.TabsBusy, st.TabWait)
	}
	if r := <-overloaded; r.Err == nil {
		t.Fatal("the crawler's wait did not end at its deadline")
	}
	wait(t, "slow render", slow)
	wait(t, "second live render", renderAs(app, ClassLive, origin.URL+"/?second"))

	want := []struct {
		suffix, result string
		queue          Class
		status         int
	}{
		{"/?first", "overloaded", ClassLive, 0},
		{"/slowdoc?ms=1500", "ok", ClassNormal, 200},
		{"/?second", "ok", ClassLive, 200},
	}
	for _, w := range want {
		select {
		case e := <-events:
			if !strings.HasSuffix(e.URL, w.suffix) || e.Result != w.result || e.Queue != w.queue || e.Status != w.status {
				t.Fatalf("event %+v, want %s %s %s %d", e, w.suffix, w.result, w.queue, w.status)
			}
			if e.Key != "desktop|"+e.URL || e.Finished.Before(e.Started) {
				t.Fatalf("event key %q, started %v, finished %v", e.Key, e.Started, e.Finished)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event for %s", w.suffix)
		}
	}
	st = app.State()
	if len(st.Waiting) != 0 || len(st.Browsers[0].Rendering) != 0 || st.Browsers[0].Renders != 2 {
		t.Fatalf("after the renders: waiting %v, browser %+v", st.Waiting, st.Browsers[0])
	}
}
