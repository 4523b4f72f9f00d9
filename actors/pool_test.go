package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

// renderAs asks for a render of url as work of class c, the way the recache queues
// do, and returns the channel its answer arrives on.
func renderAs(app *Appliance, c Class, url string) <-chan *Rendered {
	reply := make(chan *Rendered, 1)
	key := "desktop|" + url
	app.system.Root.Send(app.shardFor(key), &StartRender{Key: key, URL: url, Class: c, Reply: reply})
	return reply
}

func wait(t *testing.T, what string, c <-chan *Rendered) *Rendered {
	t.Helper()
	select {
	case r := <-c:
		if r.Err != nil {
			t.Fatalf("%s: %v", what, r.Err)
		}
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: no answer after 60s", what)
		return nil
	}
}

func waitHits(t *testing.T, o *fixture.Origin, path string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); o.Hits(path) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s reached the origin %d times, want %d", path, o.Hits(path), n)
		}
	}
}

func TestQueuedWorkNeverTakesTheTabsKeptForLiveRequests(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, func(c *Config) {
		c.TabsPerBrowser = 2
		c.ReservedLive = 0.5
		// Shorter than the time the queued renders wait: they have no such deadline.
		c.QueueTimeout = 500 * time.Millisecond
	})
	var queued []<-chan *Rendered
	for i := range 3 {
		queued = append(queued, renderAs(app, ClassNormal, fmt.Sprintf("%s/slowdoc?ms=1500&q=%d", origin.URL, i)))
	}
	waitHits(t, origin, "/slowdoc", 1)
	live := wait(t, "live render", renderAs(app, ClassLive, origin.URL+"/?live=1"))
	if live.Result.Status != 200 {
		t.Errorf("live render status %d", live.Result.Status)
	}
	if n := origin.Hits("/slowdoc"); n != 1 {
		t.Errorf("%d queued renders had started when the live one ended; want 1: two tabs, half kept for live work", n)
	}
	for i, q := range queued {
		if r := wait(t, fmt.Sprintf("queued render %d", i), q); r.Result.Status != 200 {
			t.Errorf("queued render %d: status %d", i, r.Result.Status)
		}
	}
	if got := origin.MaxInFlight("/slowdoc"); got != 1 {
		t.Errorf("%d queued renders ran at once, want 1", got)
	}
}

func TestPriorityWorkIsGrantedBeforeNormalWork(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, func(c *Config) { c.TabsPerBrowser = 1 })
	first := renderAs(app, ClassNormal, origin.URL+"/slowdoc?ms=800&n=first")
	waitHits(t, origin, "/slowdoc", 1)
	normal := renderAs(app, ClassNormal, origin.URL+"/slowdoc?ms=1&n=normal")
	time.Sleep(50 * time.Millisecond) // the normal render queues first
	prio := renderAs(app, ClassPriority, origin.URL+"/slowdoc?ms=1&n=priority")
	for _, c := range []<-chan *Rendered{first, normal, prio} {
		wait(t, "render", c)
	}
	order := slices.DeleteFunc(origin.Order(), func(u string) bool { return !strings.HasPrefix(u, "/slowdoc") })
	want := []string{"/slowdoc?ms=800&n=first", "/slowdoc?ms=1&n=priority", "/slowdoc?ms=1&n=normal"}
	if !slices.Equal(order, want) {
		t.Errorf("documents fetched in order %q, want %q", order, want)
	}
}

func TestALiveRequestJoiningAQueuedRenderMakesItsWaitLive(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, func(c *Config) {
		c.TabsPerBrowser = 2
		c.ReservedLive = 0.5
		c.Browser.PageTimeout = 10 * time.Second // room for the busy document below
	})
	// The busy document takes 4 s: the joined render, a trivial page, must end
	// before it even on a loaded machine.
	busy := renderAs(app, ClassNormal, origin.URL+"/slowdoc?ms=4000&n=busy")
	waitHits(t, origin, "/slowdoc", 1)
	url := origin.URL + "/?n=joined"
	queued := renderAs(app, ClassNormal, url)
	time.Sleep(100 * time.Millisecond) // queued behind the live share
	if origin.Hits("/") != 0 {
		t.Fatal("the second queued render got a tab of the live share")
	}
	joined := renderAs(app, ClassLive, url)
	select {
	case r := <-joined:
		if r.Err != nil || !r.Joined {
			t.Fatalf("live asker: err %v, joined %v", r.Err, r.Joined)
		}
	case <-busy:
		t.Fatal("the joined render waited for the queued one before it: its wait did not become live")
	case <-time.After(30 * time.Second):
		t.Fatal("no answer after 30s")
	}
	wait(t, "queued asker", queued)
	wait(t, "busy render", busy)
}

func TestALiveWaitEndsAtItsDeadlineAsOverloaded(t *testing.T) {
	origin := fixture.New(t)
	app, _ := startApp(t, func(c *Config) {
		c.TabsPerBrowser = 1
		c.QueueTimeout = 300 * time.Millisecond
	})
	busy := renderAs(app, ClassLive, origin.URL+"/slowdoc?ms=1500&n=busy")
	waitHits(t, origin, "/slowdoc", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	begin := time.Now()
	url := origin.URL + "/?n=refused"
	_, err := app.Render(ctx, "desktop|"+url, url)
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("error = %v, want ErrOverloaded", err)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("refused after %s, want about the 300ms deadline", took)
	}
	wait(t, "busy render", busy)
	if got := app.metrics.rendersRefused.Get(); got != 1 {
		t.Errorf("renders refused = %d, want 1", got)
	}
}
