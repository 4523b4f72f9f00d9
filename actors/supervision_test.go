package actors

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

// asked is one Render call in a goroutine: its answer and when it came.
type asked struct {
	r   *Rendered
	err error
	at  time.Time
}

func ask(app *Appliance, url string) <-chan asked {
	c := make(chan asked, 1)
	go func() {
		r, err := app.Render(context.Background(), "desktop|"+url, url)
		c <- asked{r, err, time.Now()}
	}()
	return c
}

// answeredWithin waits for every call to be answered within d of now, and
// returns the answers.
func answeredWithin(t *testing.T, d time.Duration, calls ...<-chan asked) []asked {
	t.Helper()
	deadline := time.After(d)
	out := make([]asked, len(calls))
	for i, c := range calls {
		select {
		case out[i] = <-c:
		case <-deadline:
			t.Fatalf("call %d of %d not answered within %s", i+1, len(calls), d)
		}
	}
	return out
}

// TestARestartedShardOrPoolAnswersEveryWaiter panics a shard, then the pool,
// while requests wait on them (crash is the test-only message that makes them
// fail): each waiter is answered within a second, with ErrRestarted, and the
// next request for the same URL renders as usual.
func TestARestartedShardOrPoolAnswersEveryWaiter(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, func(c *Config) { c.TabsPerBrowser = 1 })

	t.Run("a shard restarted mid-render answers the render's three waiters", func(t *testing.T) {
		url := origin.URL + "/slowdoc?ms=1500&shard=1"
		calls := []<-chan asked{ask(app, url), ask(app, url), ask(app, url)}
		waitFor(t, func() bool { return origin.Hits("/slowdoc") >= 1 })
		time.Sleep(100 * time.Millisecond) // the two others have joined
		app.system.Root.Send(app.shardFor("desktop|"+url), &crash{})
		for i, a := range answeredWithin(t, time.Second, calls...) {
			if !errors.Is(a.err, ErrRestarted) {
				t.Errorf("waiter %d: %v, want ErrRestarted", i+1, a.err)
			}
		}
		r, err := app.Render(context.Background(), "desktop|"+url, url)
		if err != nil || r.Result.Status != 200 {
			t.Fatalf("after the restart: %+v, %v; want a 200 render", r, err)
		}
	})

	t.Run("a pool restarted with renders waiting for its one tab answers them", func(t *testing.T) {
		base := origin.Hits("/slowdoc")
		running := ask(app, origin.URL+"/slowdoc?ms=1500&pool=running")
		waitFor(t, func() bool { return origin.Hits("/slowdoc") > base })
		var waiting []<-chan asked
		var urls []string
		for i := range 2 {
			url := fmt.Sprintf("%s/slowdoc?ms=1&pool=waiting-%d", origin.URL, i)
			urls = append(urls, url)
			waiting = append(waiting, ask(app, url))
		}
		waitFor(t, func() bool { return app.metrics.queueLen.Load() == 2 })
		app.system.Root.Send(app.pool.Load(), &crash{})
		for i, a := range answeredWithin(t, time.Second, waiting...) {
			if !errors.Is(a.err, ErrRestarted) {
				t.Errorf("waiting render %d: %v, want ErrRestarted", i+1, a.err)
			}
		}
		// The render that held the tab loses its Chromium with the pool's
		// browsers, and fails over to the restarted pool's, as after a crash.
		answeredWithin(t, 30*time.Second, running)
		waitReady(t, app)
		r, err := app.Render(context.Background(), "desktop|"+urls[0], urls[0])
		if err != nil || r.Result.Status != 200 {
			t.Fatalf("after the restart: %+v, %v; want a 200 render", r, err)
		}
	})
}
