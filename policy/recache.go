package policy

import "time"

// Result is what the recache rules read of a finished render.
type Result struct {
	Err        ErrorKind // the render failed; the other fields are zero then
	Status     int
	Incomplete bool // snapshotted at render.page_timeout
	// StatusDeclared: the page set its status with prerender-status-code.
	StatusDeclared bool
	// Location is the page's Location header (a redirect's target).
	Location string
}

// ErrorKind classifies a failed render for the retry rule.
type ErrorKind uint8

const (
	// NoError: the render has a result.
	NoError ErrorKind = iota
	// OriginUnreachable: the page's own request failed (refused, reset, DNS)
	// or its document was cut short: often transient.
	OriginUnreachable
	// OtherError: a crash, a hang, a timeout, an overload or a shutdown.
	OtherError
)

// failed: no answer worth storing (an error, or a snapshot at the timeout).
func (r Result) failed() bool { return r.Err != NoError || r.Incomplete }

// Storable: complete 200 renders are cached, and redirects a page declares
// with prerender-status-code and a prerender-header Location (prerender.io's
// rules).
func Storable(r Result) bool {
	if r.failed() {
		return false
	}
	return r.Status == 200 || (r.StatusDeclared && r.Status >= 300 && r.Status < 400 && r.Location != "")
}

// Action is what a finished render does to the stored page of its key.
type Action uint8

const (
	// Answer: nothing stored to change; answer the result as it is.
	Answer Action = iota
	// Store: a storable result; store it.
	Store
	// Renew: 304; keep the page, renew its expiry.
	Renew
	// Keep: ≥ 500 or no answer; keep the page, count a 5xx, retry later.
	Keep
	// Remove: any other status; remove the page.
	Remove
)

// Judgement is an Action and why: "status", "5xx" or "failed".
type Judgement struct {
	Action Action
	Reason string
}

// Judge applies prerender.io's recache rules (README, Freshness) to every
// render of a key, live or queued: a live render past the stale window is a
// recache too. stored says a page is stored under the key.
func Judge(r Result, stored bool) Judgement {
	switch {
	case r.failed():
		if stored {
			return Judgement{Keep, "failed"}
		}
	case Storable(r):
		return Judgement{Action: Store}
	case r.Status == 304:
		if stored {
			return Judgement{Action: Renew}
		}
	case r.Status >= 500:
		if stored {
			return Judgement{Keep, "5xx"}
		}
	default: // < 200, 200 < status < 304, 304 < status < 500
		if stored {
			return Judgement{Remove, "status"}
		}
	}
	return Judgement{Action: Answer}
}

// MaxConsecutive5xx: the third consecutive answer ≥ 500 removes a page; a
// single 5xx is transient. A status below 500 resets the count.
const MaxConsecutive5xx = 3

// RemoveAfter5xx reports whether a page whose render has now answered ≥ 500
// consecutive times in a row is removed.
func RemoveAfter5xx(consecutive int) bool { return consecutive >= MaxConsecutive5xx }

// RetryBackoff is how long a page whose queued recache failed waits before the
// normal queue tries it again: soon enough that three 5xx remove a dead page
// within a TTL, late enough that one bad minute at the origin does not.
func RetryBackoff(ttl time.Duration) time.Duration {
	return min(max(ttl/4, time.Second), time.Hour)
}

// RetryLive reports whether a render a crawler waited on and that stored
// nothing is tried once more from the priority queue, so the next crawler
// finds the page (prerender.io's render retries): the origin failed in a way
// that is often transient (a 5xx, a refused connection, a DNS failure, a
// document cut short). A page
// that crashes its tab or never goes idle is not retried: that would only take
// a tab from live work again; nor an overload or a shutdown: no render was
// tried.
func RetryLive(live bool, j Judgement, r Result) bool {
	if !live || j.Action == Store {
		return false
	}
	if r.Err != NoError {
		return r.Err == OriginUnreachable
	}
	return r.Status >= 500
}

// Prerendered reports whether a page a render stores is announced as
// PRERENDER on its first serve: no crawler waited on its render, and no
// crawler has been served the key's page yet.
func Prerendered(live bool, prev Page) bool {
	return !live && (!prev.Stored || prev.Prerendered)
}
