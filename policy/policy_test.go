package policy

import (
	"testing"
	"time"
)

var (
	t0  = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ttl = 24 * time.Hour
	swr = 168 * time.Hour
)

// page is a page rendered at t0 with the TTL.
func page() Page { return Page{Stored: true, RenderedAt: t0, ExpiresAt: t0.Add(ttl)} }

// TestServe has one row per rule of README's Freshness section and of the
// X-Prerender-Cache values it names.
func TestServe(t *testing.T) {
	prerendered := page()
	prerendered.Prerendered = true
	for _, tc := range []struct {
		name  string
		page  Page
		flags Flags
		now   time.Time
		want  Verdict
	}{
		{"nothing stored is rendered (MISS)", Page{}, Flags{}, t0, Verdict{Decision: Render}},
		{"a page within its TTL is a HIT", page(), Flags{}, t0.Add(ttl - time.Second), Verdict{Decision: Hit}},
		{"a page past its TTL within the stale window is STALE and queues a recache", page(), Flags{}, t0.Add(ttl), Verdict{Decision: Stale, QueueStale: true}},
		{"a stale page whose recache is queued queues nothing more", page(), Flags{StaleQueued: true}, t0.Add(ttl + time.Hour), Verdict{Decision: Stale}},
		{"a page past the stale window is rendered (MISS)", page(), Flags{}, t0.Add(ttl + swr), Verdict{Decision: Render}},
		{"a page rendered before an explicit recache was asked for is REVALIDATED", page(), Flags{PendingSince: t0.Add(time.Minute)}, t0.Add(time.Hour), Verdict{Decision: Revalidate, Since: t0.Add(time.Minute)}},
		{"a stale page with an explicit recache pending is REVALIDATED, not STALE", page(), Flags{PendingSince: t0.Add(time.Minute), StaleQueued: true}, t0.Add(ttl + time.Hour), Verdict{Decision: Revalidate, Since: t0.Add(time.Minute)}},
		{"a page rendered after the recache asked for is served as usual", page(), Flags{PendingSince: t0.Add(-time.Minute)}, t0.Add(time.Hour), Verdict{Decision: Hit}},
		{"an explicit recache of a page not stored is a plain render (MISS)", Page{}, Flags{PendingSince: t0}, t0, Verdict{Decision: Render}},
		{"the first serve of a page rendered ahead of any crawler is PRERENDER", prerendered, Flags{}, t0.Add(time.Hour), Verdict{Decision: Prerender}},
		{"a prerendered page already announced is a HIT", prerendered, Flags{Announced: true}, t0.Add(time.Hour), Verdict{Decision: Hit}},
		{"a prerendered page past its TTL is STALE, not PRERENDER", prerendered, Flags{}, t0.Add(ttl + time.Hour), Verdict{Decision: Stale, QueueStale: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Serve(Request{Page: tc.page, Flags: tc.flags, Now: tc.now, StaleWindow: swr})
			if got != tc.want {
				t.Fatalf("Serve = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWithoutAStaleWindowAPagePastItsTTLIsRendered(t *testing.T) {
	if got := Serve(Request{Page: page(), Now: t0.Add(ttl)}); got.Decision != Render {
		t.Fatalf("Serve = %+v, want Render", got)
	}
}

// TestAfter: what a request gets once its render ended (README: "if that
// render fails the old page is served with a Warning").
func TestAfter(t *testing.T) {
	for _, tc := range []struct {
		name          string
		asked         Decision
		stored        bool
		outcome       Outcome
		want          Decision
		wantFromStore bool
	}{
		{"a render that finished just before serves the stored page as a HIT", Render, false, FromStore, Hit, true},
		{"a 304 serves the renewed page, labelled as the render it was (MISS)", Render, true, Renewed, Render, true},
		{"a 304 of a revalidation serves the renewed page as REVALIDATED", Revalidate, true, Renewed, Revalidate, true},
		{"a failed render of a stored page serves it stale with a Warning", Render, true, Failed, StaleIfError, true},
		{"a 5xx of a stored page, kept, serves it stale with a Warning", Revalidate, true, Kept, StaleIfError, true},
		{"a failed render of nothing stored answers the error", Render, false, Failed, Render, false},
		{"a rendered result is answered as it is", Render, false, Rendered, Render, false},
		{"a revalidation's result is answered as REVALIDATED", Revalidate, true, Rendered, Revalidate, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, fromStore := After(tc.asked, tc.stored, tc.outcome)
			if got != tc.want || fromStore != tc.wantFromStore {
				t.Fatalf("After = %v, %v; want %v, %v", got, fromStore, tc.want, tc.wantFromStore)
			}
		})
	}
}

// TestRecheck: a request that reaches the shard just after a render of its key
// ended finds the stored page and is not rendered twice.
func TestRecheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		page Page
		ask  Ask
		now  time.Time
		want Start
	}{
		{"nothing stored is rendered", Page{}, Ask{Live: true}, t0, StartRender},
		{"a normal-queue recache of a page removed meanwhile is skipped", Page{}, Ask{OnlyStored: true}, t0, Skip},
		{"a fresh page answers a request without a since", page(), Ask{Live: true}, t0.Add(time.Hour), AnswerFromStore},
		{"an expired page is rendered", page(), Ask{Live: true}, t0.Add(ttl), StartRender},
		{"a page stored at or after since answers a recache asked at since", page(), Ask{Since: t0}, t0.Add(ttl + swr), AnswerFromStore},
		{"a page stored before since is rendered", page(), Ask{Since: t0.Add(time.Second)}, t0.Add(time.Hour), StartRender},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Recheck(tc.page, tc.ask, tc.now); got != tc.want {
				t.Fatalf("Recheck = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestJudge has one row per rule of README's table "What a recache does with
// the stored page", for a key with a page stored and one without.
func TestJudge(t *testing.T) {
	redirect := Result{Status: 301, StatusDeclared: true, Location: "https://shop.example/moved"}
	for _, tc := range []struct {
		name   string
		result Result
		stored bool
		want   Judgement
	}{
		{"200 replaces the stored page", Result{Status: 200}, true, Judgement{Action: Store}},
		{"200 of a key not stored is stored", Result{Status: 200}, false, Judgement{Action: Store}},
		{"a 3xx declared with prerender-status-code and a Location is stored as that redirect", redirect, true, Judgement{Action: Store}},
		{"a declared 3xx without a Location is not stored", Result{Status: 301, StatusDeclared: true}, true, Judgement{Remove, "status"}},
		{"a 3xx from the server removes the stored page", Result{Status: 301, Location: "/elsewhere"}, true, Judgement{Remove, "status"}},
		{"304 keeps the stored page and renews it", Result{Status: 304}, true, Judgement{Action: Renew}},
		{"304 of a key not stored is answered as it is", Result{Status: 304}, false, Judgement{Action: Answer}},
		{"a status below 200 removes the stored page", Result{Status: 101}, true, Judgement{Remove, "status"}},
		{"201 removes the stored page", Result{Status: 201}, true, Judgement{Remove, "status"}},
		{"404 removes the stored page", Result{Status: 404}, true, Judgement{Remove, "status"}},
		{"499 removes the stored page", Result{Status: 499}, true, Judgement{Remove, "status"}},
		{"404 of a key not stored is answered, never stored (BYPASS)", Result{Status: 404}, false, Judgement{Action: Answer}},
		{"≥ 500 keeps the stored page and counts", Result{Status: 503}, true, Judgement{Keep, "5xx"}},
		{"≥ 500 of a key not stored is answered as it is", Result{Status: 500}, false, Judgement{Action: Answer}},
		{"no answer (a timeout, a crash) keeps the stored page", Result{Err: OtherError}, true, Judgement{Keep, "failed"}},
		{"an incomplete snapshot keeps the stored page", Result{Status: 200, Incomplete: true}, true, Judgement{Keep, "failed"}},
		{"an incomplete snapshot of a key not stored is answered, never stored", Result{Status: 200, Incomplete: true}, false, Judgement{Action: Answer}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Judge(tc.result, tc.stored); got != tc.want {
				t.Fatalf("Judge = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTheThirdConsecutive5xxRemovesAPage(t *testing.T) {
	for n, want := range []bool{false, false, false, true, true} {
		if got := RemoveAfter5xx(n); got != want {
			t.Errorf("RemoveAfter5xx(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestAFailedRecacheIsTriedAgainAfterAQuarterOfTheTTLAtMostAnHour(t *testing.T) {
	for _, tc := range []struct{ ttl, want time.Duration }{
		{24 * time.Hour, time.Hour},
		{2 * time.Hour, 30 * time.Minute},
		{2 * time.Second, time.Second},
	} {
		if got := RetryBackoff(tc.ttl); got != tc.want {
			t.Errorf("RetryBackoff(%s) = %s, want %s", tc.ttl, got, tc.want)
		}
	}
}

func TestRetryLive(t *testing.T) {
	for _, tc := range []struct {
		name   string
		live   bool
		result Result
		want   bool
	}{
		{"a crawler's render answered 5xx is retried from the priority queue", true, Result{Status: 502}, true},
		{"a crawler's render whose origin could not be reached is retried", true, Result{Err: OriginUnreachable}, true},
		{"a crawler's render that crashed or timed out is not retried", true, Result{Err: OtherError}, false},
		{"a crawler's 404 is not retried", true, Result{Status: 404}, false},
		{"a queued render's 5xx is not retried from here", false, Result{Status: 502}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RetryLive(tc.live, Judge(tc.result, false), tc.result); got != tc.want {
				t.Fatalf("RetryLive = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPrerendered(t *testing.T) {
	announced := page()
	prerendered := page()
	prerendered.Prerendered = true
	for _, tc := range []struct {
		name string
		live bool
		prev Page
		want bool
	}{
		{"a queue's render of a new page is announced PRERENDER", false, Page{}, true},
		{"a queue's render of a page not yet served stays PRERENDER", false, prerendered, true},
		{"a queue's render of a page crawlers got is not", false, announced, false},
		{"a crawler's render is never PRERENDER", true, Page{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Prerendered(tc.live, tc.prev); got != tc.want {
				t.Fatalf("Prerendered = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFlagsAfterARecacheRan(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags Flags
		since time.Time
		want  Flags
	}{
		{"a stale recache's flag is cleared by any recache of the key", Flags{StaleQueued: true}, t0, Flags{}},
		{"an explicit recache asked at since is done", Flags{PendingSince: t0}, t0, Flags{}},
		{"one asked before since is done too", Flags{PendingSince: t0.Add(-time.Minute)}, t0, Flags{}},
		{"one asked after since is still pending", Flags{PendingSince: t0.Add(time.Minute)}, t0, Flags{PendingSince: t0.Add(time.Minute)}},
		{"the PRERENDER announcement is not the queue's to clear", Flags{Announced: true, StaleQueued: true}, t0, Flags{Announced: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.flags.RecacheRan(tc.since); got != tc.want {
				t.Fatalf("RecacheRan = %+v, want %+v", got, tc.want)
			}
		})
	}
}
