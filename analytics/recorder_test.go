package analytics_test

import (
	"log/slog"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"prerenderd/analytics"
	"prerenderd/api"
	"prerenderd/storage"
)

// The Recorder's tests run on a real Pebble database (storage), in memory or on
// disk, and a clock of their own.

const (
	googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	gptbot    = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; +https://openai.com/gptbot"
	chrome    = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)

// t0 is a Monday, 10:00:00 UTC.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func memStore(tb testing.TB) *storage.Store {
	tb.Helper()
	s, err := storage.Open(storage.Options{InMemory: true, Logger: testLogger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// open starts a recorder whose flusher never fires by itself (the tests flush).
func open(tb testing.TB, store analytics.Store, clk *clock, sites ...string) *analytics.Recorder {
	tb.Helper()
	r, err := analytics.Open(analytics.Options{Sites: sites, FlushInterval: time.Minute, Clock: clk.Now, Logger: testLogger(tb)}, store)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

func stats(t *testing.T, r *analytics.Recorder, q analytics.StatsQuery) *api.Stats {
	t.Helper()
	st, err := r.Stats(q)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func req(at time.Time, res analytics.Result, status int, ua, url string) analytics.Request {
	return analytics.Request{Time: at, Result: res, Status: status, Bytes: 1000, UserAgent: ua, URL: url, Wait: 10 * time.Millisecond}
}

// traffic is a mix of answers for two configured sites and one other host.
func traffic(at time.Time) []analytics.Request {
	return []analytics.Request{
		req(at, analytics.Hit, 200, googlebot, "https://shop.example/p/1"),
		req(at, analytics.Hit, 200, googlebot, "https://shop.example/p/1"),
		req(at, analytics.Stale, 200, gptbot, "https://shop.example/p/2"),
		req(at, analytics.Miss, 200, gptbot, "https://shop.example/p/3"),
		req(at, analytics.Miss, 404, googlebot, "https://blog.example/gone"),
		req(at, analytics.Prerender, 200, chrome, "https://blog.example/"),
		req(at, analytics.Error, 504, "curl/8.5", ""),
		req(at, analytics.Bypass, 200, googlebot, "https://elsewhere.example/"),
	}
}

func TestStatsCountAnswersBySiteResultStatusAndCrawler(t *testing.T) {
	clk := &clock{t: t0.Add(30 * time.Second)}
	r := open(t, memStore(t), clk, "shop.example", "blog.example")
	for _, q := range traffic(clk.Now()) {
		r.Record(q)
	}
	window := analytics.StatsQuery{From: t0.Add(-time.Hour), To: t0.Add(time.Hour)}
	check := func(t *testing.T) {
		tests := []struct {
			name, site               string
			requests, hits, misses   uint64
			rate                     float64
			status4xx, status5xx     uint64
			googlebot, gptbot, other uint64
		}{
			{"the whole appliance", "", 8, 2, 2, 4.0 / 8, 1, 1, 4, 2, 1},
			{"one configured site", "shop.example", 4, 2, 1, 3.0 / 4, 0, 0, 2, 2, 0},
			{"the other configured site", "blog.example", 2, 0, 1, 1.0 / 2, 1, 0, 1, 0, 0},
			{"the hosts not configured", "other", 2, 0, 0, 0, 0, 1, 1, 0, 1},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				q := window
				q.Site = tc.site
				st := stats(t, r, q)
				tot := st.Total
				if tot.Requests != tc.requests || tot.ByResult["HIT"] != tc.hits || tot.ByResult["MISS"] != tc.misses {
					t.Fatalf("requests %d, HIT %d, MISS %d; want %d, %d, %d", tot.Requests, tot.ByResult["HIT"], tot.ByResult["MISS"], tc.requests, tc.hits, tc.misses)
				}
				if math.Abs(float64(tot.HitRate)-tc.rate) > 1e-9 {
					t.Fatalf("hit rate %v, want %v", tot.HitRate, tc.rate)
				}
				if tot.ByStatus["4xx"] != tc.status4xx || tot.ByStatus["5xx"] != tc.status5xx {
					t.Fatalf("status %v", tot.ByStatus)
				}
				got := map[string]uint64{}
				for _, c := range st.Crawlers {
					got[c.Name] = c.Requests
				}
				if got["Googlebot"] != tc.googlebot || got["GPTBot"] != tc.gptbot || got[analytics.OtherBots] != tc.other {
					t.Fatalf("crawlers %v", st.Crawlers)
				}
				// The series add up to the totals.
				var sum uint64
				for _, v := range st.Requests["HIT"] {
					sum += v
				}
				if sum != tc.hits {
					t.Fatalf("the HIT series adds up to %d, the total says %d", sum, tc.hits)
				}
			})
		}
	}
	t.Run("before a flush, from memory", check)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Run("after a flush", check)
	clk.Set(t0.Add(5 * time.Minute))
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Run("once the minute is folded and written for good, from storage", check)
}

func TestStatsSeriesFollowTheMinutes(t *testing.T) {
	clk := &clock{t: t0}
	r := open(t, memStore(t), clk)
	for i := range 5 {
		at := t0.Add(time.Duration(i) * time.Minute)
		clk.Set(at)
		for range i + 1 {
			r.Record(req(at, analytics.Hit, 200, googlebot, "https://shop.example/"))
		}
		r.Record(req(at, analytics.Miss, 200, gptbot, "https://shop.example/new"))
		if i%2 == 0 {
			if err := r.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := stats(t, r, analytics.StatsQuery{From: t0, To: t0.Add(5 * time.Minute), Step: time.Minute})
	if st.Resolution != "minute" || st.Step != 60 || len(st.Time) != 5 || st.Time[0] != t0.Unix() {
		t.Fatalf("resolution %s, step %d, %d points from %d", st.Resolution, st.Step, len(st.Time), st.Time[0])
	}
	if got, want := st.Requests["HIT"], (api.Series{1, 2, 3, 4, 5}); !slices.Equal(got, want) {
		t.Fatalf("HIT per minute = %v, want %v", got, want)
	}
	if got, want := st.CrawlerGroups["ai_training"], (api.Series{1, 1, 1, 1, 1}); !slices.Equal(got, want) {
		t.Fatalf("ai_training per minute = %v, want %v", got, want)
	}
	if got, want := st.CrawlerRequests["Googlebot"], (api.Series{1, 2, 3, 4, 5}); !slices.Equal(got, want) {
		t.Fatalf("Googlebot per minute = %v, want %v", got, want)
	}
	if len(st.CrawlerRequests) != 2 {
		t.Fatalf("crawler series: %v, want Googlebot's and GPTBot's", st.CrawlerRequests)
	}
	if hr := float64(st.HitRate[3]); math.Abs(hr-0.8) > 1e-9 {
		t.Fatalf("hit rate of minute 4 = %v, want 0.8", hr)
	}
	// Five minutes in one step of 5m.
	st = stats(t, r, analytics.StatsQuery{From: t0, To: t0.Add(5 * time.Minute), Step: 5 * time.Minute})
	if len(st.Time) != 1 || st.Requests["HIT"][0] != 15 {
		t.Fatalf("one 5m point: %v", st.Requests["HIT"])
	}
	// The hour rows say the same.
	st = stats(t, r, analytics.StatsQuery{From: t0, To: t0.Add(time.Hour), Step: time.Hour})
	if st.Resolution != "hour" || st.Total.ByResult["HIT"] != 15 || st.Total.ByResult["MISS"] != 5 {
		t.Fatalf("hour: %s %v", st.Resolution, st.Total.ByResult)
	}
}

func TestRenderTimesAndRecentRenders(t *testing.T) {
	clk := &clock{t: t0}
	r := open(t, memStore(t), clk, "shop.example")
	durations := []time.Duration{}
	for i := range 20 {
		d := time.Duration(1000+100*i) * time.Millisecond // 1.0s … 2.9s
		durations = append(durations, d)
		q := analytics.Live
		if i%4 == 0 {
			q = analytics.Priority
		}
		r.RecordRender(analytics.Render{Time: t0, Variant: "desktop", URL: "https://shop.example/p/" + string(rune('a'+i)), Result: analytics.RenderOK, Queue: q, Status: 200, Duration: d})
	}
	r.RecordRender(analytics.Render{Time: t0, URL: "https://shop.example/x", Result: analytics.RenderOverloaded, Queue: analytics.Live, Duration: 10 * time.Second})
	r.RecordRender(analytics.Render{Time: t0, URL: "https://shop.example/y", Result: analytics.RenderError, Queue: analytics.Normal, Duration: 15 * time.Second, Err: "timeout"})
	st := stats(t, r, analytics.StatsQuery{From: t0, To: t0.Add(time.Minute)})
	tot := st.Total
	if tot.Renders != 22 || tot.RendersBy["ok"] != 20 || tot.RendersBy["overloaded"] != 1 || tot.RendersByQueue["priority"] != 5 || tot.RendersByQueue["normal"] != 1 {
		t.Fatalf("renders %d by result %v by queue %v", tot.Renders, tot.RendersBy, tot.RendersByQueue)
	}
	// The overloaded one never ran: 21 timed renders, the error's 15 s among them.
	var sum time.Duration
	for _, d := range durations {
		sum += d
	}
	wantAvg := float64((sum + 15*time.Second).Milliseconds()) / 21
	if math.Abs(float64(tot.RenderAvg)-wantAvg) > 1e-6 {
		t.Fatalf("average %v ms, want %v", tot.RenderAvg, wantAvg)
	}
	if p50 := float64(tot.RenderP50); p50 < 1750 || p50 > 2250 {
		t.Fatalf("p50 %v ms, want about 2000 (within its bucket)", p50)
	}
	if p95 := float64(tot.RenderP95); p95 < 2500 || p95 > 4000 {
		t.Fatalf("p95 %v ms, want in the 2.5–4 s buckets", p95)
	}
	recent := r.Recent()
	if len(recent) != 22 || recent[0].URL != "https://shop.example/y" || recent[0].Result != "error" || recent[0].Error != "timeout" || recent[0].Queue != "normal" {
		t.Fatalf("recent renders: %d, newest %+v", len(recent), recent[0])
	}
	for range 60 {
		r.RecordRender(analytics.Render{Time: t0, URL: "https://shop.example/z", Result: analytics.RenderOK})
	}
	if n := len(r.Recent()); n != analytics.RecentRenders {
		t.Fatalf("%d recent renders kept, want %d", n, analytics.RecentRenders)
	}
}

func TestTopLists(t *testing.T) {
	clk := &clock{t: t0.Add(10 * time.Minute)}
	r := open(t, memStore(t), clk, "shop.example", "blog.example")
	at := clk.Now()
	for i := range 30 {
		r.Record(req(at, analytics.Hit, 200, googlebot, "https://shop.example/popular"))
		if i < 10 {
			r.Record(req(at, analytics.Miss, 200, gptbot, "https://blog.example/new"))
		}
		if i < 3 {
			w := req(at, analytics.Miss, 200, googlebot, "https://shop.example/slow")
			w.Wait = time.Duration(8000+i) * time.Millisecond
			r.Record(w)
		}
	}
	r.RecordRender(analytics.Render{Time: at, URL: "https://blog.example/heavy", Result: analytics.RenderOK, Queue: analytics.Normal, Duration: 20 * time.Second})
	top := func(q analytics.TopQuery) []api.TopItem {
		t.Helper()
		q.From, q.To = t0, t0.Add(time.Hour)
		res, err := r.Top(q)
		if err != nil {
			t.Fatal(err)
		}
		return res.Items
	}
	check := func(t *testing.T) {
		tests := []struct {
			name string
			q    analytics.TopQuery
			want []api.TopItem
		}{
			{"requested by all crawlers", analytics.TopQuery{By: analytics.Requested, Limit: 2},
				[]api.TopItem{{URL: "https://shop.example/popular", Value: 30}, {URL: "https://blog.example/new", Value: 10}}},
			{"missed by all crawlers", analytics.TopQuery{By: analytics.Missed},
				[]api.TopItem{{URL: "https://blog.example/new", Value: 10}, {URL: "https://shop.example/slow", Value: 3}}},
			{"missed by one crawler, named in any case", analytics.TopQuery{By: analytics.Missed, Crawler: "googlebot"},
				[]api.TopItem{{URL: "https://shop.example/slow", Value: 3}}},
			{"requested on one site", analytics.TopQuery{By: analytics.Requested, Site: "blog.example"},
				[]api.TopItem{{URL: "https://blog.example/new", Value: 10}}},
			{"slowest: a recache render and a crawler's wait", analytics.TopQuery{By: analytics.Slowest},
				[]api.TopItem{{URL: "https://blog.example/heavy", Value: 20000}, {URL: "https://shop.example/slow", Value: 8002}, {URL: "https://blog.example/new", Value: 10}}},
			{"slowest of the recache queues", analytics.TopQuery{By: analytics.Slowest, Crawler: "recache"},
				[]api.TopItem{{URL: "https://blog.example/heavy", Value: 20000}}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if got := top(tc.q); !slices.Equal(got, tc.want) {
					t.Fatalf("top = %v, want %v", got, tc.want)
				}
			})
		}
	}
	t.Run("from memory", check)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(2 * time.Hour))
	for range 2 {
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("from storage once the hour is over", check)

	for _, tc := range []struct {
		name, reason string
		q            analytics.TopQuery
	}{
		{"an unknown crawler", "bad-crawler", analytics.TopQuery{Crawler: "NoSuchBot"}},
		{"recache outside the slowest list", "bad-crawler", analytics.TopQuery{By: analytics.Missed, Crawler: "recache"}},
		{"a site not configured", "bad-site", analytics.TopQuery{Site: "nope.example"}},
		{"a limit past the list's size", "bad-limit", analytics.TopQuery{Limit: 100000}},
		{"a window that ends before it starts", "bad-window", analytics.TopQuery{From: t0, To: t0.Add(-time.Hour)}},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			_, err := r.Top(tc.q)
			qe, ok := err.(*analytics.QueryError)
			if !ok || qe.Reason != tc.reason {
				t.Fatalf("err = %v, want a QueryError %s", err, tc.reason)
			}
		})
	}
}

func TestStatsRefusesBadQueries(t *testing.T) {
	clk := &clock{t: t0}
	r := open(t, memStore(t), clk, "shop.example")
	tests := []struct {
		name, reason string
		q            analytics.StatsQuery
	}{
		{"a site not configured", "bad-site", analytics.StatsQuery{Site: "nope.example"}},
		{"a window that ends before it starts", "bad-window", analytics.StatsQuery{From: t0, To: t0.Add(-time.Minute)}},
		{"a negative step", "bad-step", analytics.StatsQuery{Step: -time.Minute}},
		{"too many points", "bad-step", analytics.StatsQuery{From: t0, To: t0.Add(365 * 24 * time.Hour), Step: time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Stats(tc.q)
			qe, ok := err.(*analytics.QueryError)
			if !ok || qe.Reason != tc.reason {
				t.Fatalf("err = %v, want a QueryError %s", err, tc.reason)
			}
		})
	}
	st := stats(t, r, analytics.StatsQuery{From: t0.Add(-48 * time.Hour), To: t0})
	if len(st.Time) > 360 || st.Step%60 != 0 {
		t.Fatalf("the default step gives %d points of %ds", len(st.Time), st.Step)
	}
	if !slices.Equal(st.Sites, []string{"shop.example", "other"}) {
		t.Fatalf("sites = %v", st.Sites)
	}
}

// TestCountsSurviveACrashAndARestart closes the store under a recorder that was
// never closed (as kill -9 leaves it) and opens a new one: what was flushed is
// there, what was not is lost, and the new recorder counts on in the same
// minute and hour without losing or doubling anything.
func TestCountsSurviveACrashAndARestart(t *testing.T) {
	dir := t.TempDir()
	openStore := func() *storage.Store {
		s, err := storage.Open(storage.Options{Dir: dir, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	clk := &clock{t: t0.Add(20 * time.Second)}
	s1 := openStore()
	r1, err := analytics.Open(analytics.Options{Sites: []string{"shop.example"}, FlushInterval: time.Minute, Clock: clk.Now, Logger: slog.New(slog.DiscardHandler)}, s1)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close() // after the test: it fails to write to the closed store
	url := "https://shop.example/p"
	for range 3 {
		r1.Record(req(clk.Now(), analytics.Hit, 200, googlebot, url))
	}
	if err := r1.Flush(); err != nil {
		t.Fatal(err)
	}
	r1.Record(req(clk.Now(), analytics.Miss, 200, googlebot, url)) // never flushed
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	clk.Set(t0.Add(40 * time.Second))
	s2 := openStore()
	defer s2.Close()
	r2 := open(t, s2, clk, "shop.example")
	window := analytics.StatsQuery{From: t0, To: t0.Add(time.Hour), Site: "shop.example"}
	if st := stats(t, r2, window); st.Total.ByResult["HIT"] != 3 || st.Total.ByResult["MISS"] != 0 {
		t.Fatalf("after the crash: %v, want the 3 flushed hits", st.Total.ByResult)
	}
	r2.Record(req(clk.Now(), analytics.Hit, 200, googlebot, url))
	clk.Set(t0.Add(2 * time.Minute))
	r2.Record(req(clk.Now(), analytics.Hit, 200, googlebot, url))
	for range 2 {
		if err := r2.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []time.Duration{time.Minute, time.Hour} {
		q := window
		q.Step = step
		st := stats(t, r2, q)
		if st.Total.ByResult["HIT"] != 5 {
			t.Fatalf("step %s: %d hits, want 5", step, st.Total.ByResult["HIT"])
		}
		if step == time.Minute && (st.Requests["HIT"][0] != 4 || st.Requests["HIT"][2] != 1) {
			t.Fatalf("per minute: %v, want 4 in the first minute (3 before the crash, 1 after) and 1 two minutes later", st.Requests["HIT"][:3])
		}
	}
	top, err := r2.Top(analytics.TopQuery{By: analytics.Requested, From: t0, To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Items) != 1 || top.Items[0].Value != 5 {
		t.Fatalf("top after the restart: %v, want %s 5 times", top.Items, url)
	}
}

// TestRetention moves the clock forward: minute rows go after 48 hours, hour
// rows after 90 days, and an hour's top lists become its day's.
func TestRetention(t *testing.T) {
	clk := &clock{t: t0}
	r := open(t, memStore(t), clk)
	r.Record(req(t0, analytics.Miss, 200, googlebot, "https://shop.example/old"))
	r.Record(req(t0.Add(time.Hour), analytics.Miss, 200, googlebot, "https://shop.example/old"))
	clk.Set(t0.Add(time.Hour))
	for range 2 {
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	day := analytics.StatsQuery{From: t0.Add(-time.Hour), To: t0.Add(3 * time.Hour), Step: time.Hour}
	if st := stats(t, r, day); st.Total.Requests != 2 {
		t.Fatalf("%d requests before retention", st.Total.Requests)
	}

	clk.Set(t0.Add(72 * time.Hour))
	r.Record(req(clk.Now(), analytics.Hit, 200, googlebot, "https://shop.example/new"))
	for range 2 {
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if st := stats(t, r, day); st.Resolution != "hour" || st.Total.Requests != 2 {
		t.Fatalf("hour rows after 3 days: %s %d requests, want 2", st.Resolution, st.Total.Requests)
	}
	top, err := r.Top(analytics.TopQuery{By: analytics.Missed, From: t0, To: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if top.Resolution != "day" || len(top.Items) != 1 || top.Items[0].Value != 2 {
		t.Fatalf("top after 3 days: %s %v, want the day's list with /old twice", top.Resolution, top.Items)
	}

	clk.Set(t0.Add(91 * 24 * time.Hour))
	for range 2 {
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if st := stats(t, r, day); st.Total.Requests != 0 {
		t.Fatalf("hour rows after 91 days: %d requests, want none", st.Total.Requests)
	}
	top, err = r.Top(analytics.TopQuery{By: analytics.Missed, From: t0, To: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Items) != 0 {
		t.Fatalf("top after 91 days: %v, want none", top.Items)
	}
}

func TestANilRecorderIgnoresEverything(t *testing.T) {
	var r *analytics.Recorder
	r.Record(req(t0, analytics.Hit, 200, googlebot, "https://x/"))
	r.RecordRender(analytics.Render{Time: t0})
	if r.Recent() != nil || r.Flush() != nil || r.Close() != nil {
		t.Fatal("a nil recorder did something")
	}
}

func TestConcurrentAnswersAreAllCounted(t *testing.T) {
	r, err := analytics.Open(analytics.Options{FlushInterval: 100 * time.Millisecond, Logger: testLogger(t)}, memStore(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r.Record(req(time.Now(), analytics.Result(i%7), 200, googlebot, "https://shop.example/p/"+string(rune('a'+w))))
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	st := stats(t, r, analytics.StatsQuery{From: start.Add(-time.Minute), To: time.Now().Add(time.Minute)})
	if st.Total.Requests != workers*each {
		t.Fatalf("%d answers counted, want %d", st.Total.Requests, workers*each)
	}
	top, err := r.Top(analytics.TopQuery{By: analytics.Requested, From: start.Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Items) != workers || top.Items[0].Value != each {
		t.Fatalf("top: %v", top.Items)
	}
}

// TestTheFlusherWritesEveryInterval runs in a bubble of fake time: nothing is
// written before the first interval, the minute's partial count is written at
// it, and a restart then finds it.
func TestTheFlusherWritesEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memStore(t)
		r, err := analytics.Open(analytics.Options{FlushInterval: 10 * time.Second, Logger: testLogger(t)}, store)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		r.Record(req(time.Now(), analytics.Hit, 200, googlebot, "https://shop.example/"))
		rows := func() int {
			n := 0
			if err := store.ScanAnalytics('m', "*", 0, 1<<62, func(int64, []byte) bool { n++; return true }); err != nil {
				t.Fatal(err)
			}
			return n
		}
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if n := rows(); n != 0 {
			t.Fatalf("%d minute rows before the first interval", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := rows(); n != 1 {
			t.Fatalf("%d minute rows after the first interval, want 1", n)
		}
	})
}
