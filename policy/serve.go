package policy

import "time"

// Page is what the decisions need to know of the page stored under a key.
type Page struct {
	Stored      bool // a page is stored; the other fields are zero otherwise
	RenderedAt  time.Time
	ExpiresAt   time.Time
	Prerendered bool // rendered by a queue before any crawler asked, not yet served
}

// Flags are the per-key flags. INVARIANT: only the shard that owns the key
// writes them (actors/keyflags.go); the hit path reads the snapshot it publishes.
type Flags struct {
	// PendingSince: an explicit recache (the Recache API, a sitemap, the cache
	// manager) was asked for at this time and has not run yet. Zero: none.
	PendingSince time.Time
	// StaleQueued: a STALE hit queued a priority recache that has not run yet,
	// so later stale hits queue nothing.
	StaleQueued bool
	// Announced: a crawler got the page as PRERENDER and the page's stored flag
	// is being cleared; later requests get HIT.
	Announced bool
}

// RecacheRan is f once a priority recache of the key, asked for at since, has
// run (stored, renewed, removed, kept, or found unnecessary): the stale hits
// it answered may queue again, and an explicit recache asked at or before
// since is done. One asked after since is still pending.
func (f Flags) RecacheRan(since time.Time) Flags {
	f.StaleQueued = false
	if !f.PendingSince.IsZero() && !f.PendingSince.After(since) {
		f.PendingSince = time.Time{}
	}
	return f
}

// Decision is what a crawler's request for a key gets.
type Decision uint8

const (
	// Render: nothing to serve; render now (X-Prerender-Cache: MISS).
	Render Decision = iota
	// Hit: the stored page is fresh (HIT).
	Hit
	// Prerender: the stored page is fresh and was rendered ahead of any
	// crawler; the first request to claim it from the key's shard gets
	// PRERENDER, any other HIT.
	Prerender
	// Stale: past its TTL but within the stale window: serve it (STALE) and
	// queue one priority recache.
	Stale
	// Revalidate: a recache was asked for after the stored page was rendered
	// and has not run: render now (REVALIDATED).
	Revalidate
	// StaleIfError: the render failed and a page is stored: serve it with a
	// Warning (STALE) rather than an error.
	StaleIfError
)

func (d Decision) String() string {
	switch d {
	case Render:
		return "render"
	case Hit:
		return "hit"
	case Prerender:
		return "prerender"
	case Stale:
		return "stale"
	case Revalidate:
		return "revalidate"
	case StaleIfError:
		return "stale-if-error"
	}
	return "unknown"
}

// Serves reports whether d answers from the stored page.
func (d Decision) Serves() bool {
	return d == Hit || d == Prerender || d == Stale || d == StaleIfError
}

// Request is what the serve decision reads: the stored page, the key's flags,
// the clock, and cache.stale_while_revalidate.
type Request struct {
	Page        Page
	Flags       Flags
	Now         time.Time
	StaleWindow time.Duration
}

// Verdict is the serve decision and what it asks of the key's shard.
type Verdict struct {
	Decision Decision
	// QueueStale: a Stale decision for a key with no stale recache queued yet:
	// the shard queues one.
	QueueStale bool
	// Since is the time the recache of a Revalidate decision was asked for: a
	// page stored at or after it makes the render unnecessary.
	Since time.Time
}

// Serve decides what a crawler's request gets before any render (README,
// Freshness): a fresh page is a HIT (PRERENDER the first time for a page
// rendered ahead); past its TTL and within the stale window it is served
// STALE while one recache is queued; a page older than an explicit recache
// asked for is rendered again (REVALIDATE); anything else is rendered.
func Serve(r Request) Verdict {
	p := r.Page
	switch {
	case !p.Stored:
		return Verdict{Decision: Render}
	case !r.Flags.PendingSince.IsZero() && p.RenderedAt.Before(r.Flags.PendingSince):
		return Verdict{Decision: Revalidate, Since: r.Flags.PendingSince}
	case r.Now.Before(p.ExpiresAt):
		if p.Prerendered && !r.Flags.Announced {
			return Verdict{Decision: Prerender}
		}
		return Verdict{Decision: Hit}
	case r.Now.Before(p.ExpiresAt.Add(r.StaleWindow)):
		return Verdict{Decision: Stale, QueueStale: !r.Flags.StaleQueued}
	}
	return Verdict{Decision: Render}
}

// Outcome is how the render of a request ended, as the key's shard answered.
type Outcome uint8

const (
	// Rendered: the render has a result to answer, stored or not (a removal, a
	// 404, a BYPASS).
	Rendered Outcome = iota
	// FromStore: a render of the key finished just before; the stored page is
	// current.
	FromStore
	// Renewed: the origin answered 304; the stored page was kept and renewed.
	Renewed
	// Kept: the origin answered ≥ 500 or not at all; the stored page was kept.
	Kept
	// Failed: the render failed with an error (no tab, a crash, a timeout).
	Failed
)

// After decides what a request whose render ended gets, given its serve
// decision (Render or Revalidate) and whether a page was stored when it was
// looked up. fromStore says the stored page is served, with decision d as
// its label; otherwise the render's own answer (or error) is, labelled d.
func After(asked Decision, stored bool, o Outcome) (d Decision, fromStore bool) {
	switch {
	case o == FromStore:
		return Hit, true
	case o == Renewed:
		return asked, true
	case stored && (o == Kept || o == Failed):
		return StaleIfError, true
	}
	return asked, false
}

// Ask is a render request as the key's shard sees it when it arrives.
type Ask struct {
	Live bool // a crawler waits on it
	// Since: a recache asked for at Since; a page stored at or after it makes
	// the render unnecessary. Zero: a fresh page does.
	Since time.Time
	// OnlyStored: render only if a page is stored (the normal queue recaches;
	// it does not bring back a page removed meanwhile).
	OnlyStored bool
}

// Start is what a shard does with a render request.
type Start uint8

const (
	// StartRender: render (or join the render of the key that runs).
	StartRender Start = iota
	// AnswerFromStore: a render finished between the caller's look at the
	// store and now; the stored page answers it.
	AnswerFromStore
	// Skip: a queued recache has nothing to do (the page it was to refresh is
	// gone).
	Skip
)

// Recheck decides, when a render request reaches the shard and no render of
// the key runs, whether it still needs one: a request that arrives just after
// a render ended finds the stored page, and is not rendered twice.
func Recheck(p Page, a Ask, now time.Time) Start {
	switch {
	case !p.Stored && a.OnlyStored:
		return Skip
	case !p.Stored:
		return StartRender
	case a.Since.IsZero() && now.Before(p.ExpiresAt):
		return AnswerFromStore
	case !a.Since.IsZero() && !p.RenderedAt.Before(a.Since):
		return AnswerFromStore
	}
	return StartRender
}
