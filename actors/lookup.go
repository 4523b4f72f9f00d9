package actors

import (
	"context"
	"errors"
	"time"

	"prerenderd/policy"
	"prerenderd/storage"
)

// ViewFunc writes a stored page to a crawler, labelled by the decision that
// serves it (Hit, Prerender, Stale, StaleIfError; Render or Revalidate for a
// page a render renewed). v is valid only during the call (storage.ViewPage).
type ViewFunc func(v *storage.PageView, d policy.Decision) error

// Lookup is what a crawler's request for a key got from the cache.
type Lookup struct {
	Key string
	// Decision is policy.Serve's: when it Serves, the page was written through
	// the view; otherwise (Render, Revalidate) the caller calls RenderFor.
	Decision policy.Decision
	// Since is the time the recache of a Revalidate decision was asked for.
	Since time.Time
	// Stored: a page is stored under Key (fresh, stale, or past the stale
	// window), which a failed render serves instead of an error.
	Stored bool
	// Markdown is set by the caller whose crawler asked for the page's
	// Markdown, before RenderFor: the render's store work then makes it
	// before answering (otherwise after, so HTML crawlers never wait for it).
	Markdown bool
}

// Lookup decides what a crawler's request for key gets (policy.Serve) from the
// stored page, the key's flags and now, and when that is the stored page it
// writes it through view and counts the hit. It is the hit path: one Pebble
// read with no copy of the body (storage.ViewPage), one atomic load of the
// flags its shard publishes, no actor hop and no log line. Two decisions tell
// the key's shard without waiting: a STALE hit that queues the page's recache.
// One asks it: the first serve of a page rendered ahead of any crawler, which
// only the shard can tell is the first (once per page).
//
// A store that cannot be read is returned as the error with a Render decision:
// it is not a reason to fail the crawler.
func (a *Appliance) Lookup(ctx context.Context, key string, now time.Time, view ViewFunc) (Lookup, error) {
	hash := keyHash(key)
	ks := a.keys[shardIndex(hash, len(a.keys))]
	l := Lookup{Key: key, Decision: policy.Render}
	err := a.store.ViewPage(key, func(v *storage.PageView) error {
		l.Stored = true
		verdict := policy.Serve(policy.Request{
			Page: pageOf(v), Flags: ks.flagsOf(key), Now: now, StaleWindow: a.cfg.StaleWhileRevalidate,
		})
		l.Decision, l.Since = verdict.Decision, verdict.Since
		switch {
		case verdict.QueueStale:
			a.system.Root.Send(a.shardFor(key), &staleHit{Key: key, URL: v.URL})
		case verdict.Decision == policy.Prerender && !a.claimPrerender(ctx, key):
			l.Decision = policy.Hit
		}
		if !l.Decision.Serves() {
			return nil
		}
		ks.hits.add(key, hash, now)
		return view(v, l.Decision)
	})
	if errors.Is(err, storage.ErrNotFound) {
		err = nil
	}
	return l, err
}

// claimPrerender asks key's shard whether this is the first serve of its
// prerendered page. A request whose context ends first, or an appliance that
// stops, gets HIT.
func (a *Appliance) claimPrerender(ctx context.Context, key string) bool {
	reply := make(chan bool, 1)
	a.system.Root.Send(a.shardFor(key), &claimPrerender{Key: key, Reply: reply})
	select {
	case first := <-reply:
		return first
	case <-ctx.Done():
	case <-a.stopped:
	}
	return false
}

// RenderFor renders for a crawler's request whose Lookup l found nothing to
// serve: a fresh render (Render), or one after the recache asked for at
// l.Since (Revalidate). It joins a render of the key that runs. When the
// outcome says the stored page answers (policy.After: a render that ended just
// before, a 304, or a failure while a page is stored), it writes that page
// through view and returns a Rendered with Served set; otherwise it returns
// the render's result, or its error, for the caller to answer.
func (a *Appliance) RenderFor(ctx context.Context, l Lookup, url string, view ViewFunc) (*Rendered, error) {
	m := &StartRender{Key: l.Key, URL: url, Class: ClassLive, Source: "live", Markdown: l.Markdown}
	if l.Decision == policy.Revalidate {
		m.Since = l.Since
	}
	r, err := a.render(ctx, m)
	if ctx.Err() != nil {
		return nil, ctx.Err() // the render goes on and is stored for the next one
	}
	d, fromStore := policy.After(l.Decision, l.Stored, outcomeOf(r, err))
	if fromStore {
		served, verr := a.serveStored(l.Key, d, view)
		if verr != nil {
			a.log.Error("cannot read cache", "key", l.Key, "err", verr)
		}
		if served {
			out := &Rendered{Served: true, As: d, Err: err}
			if r != nil {
				out.Joined, out.Removed = r.Joined, r.Removed
			}
			return out, nil
		}
		if r != nil && r.Result == nil && err == nil {
			// The page that was to answer is gone (cleared meanwhile): render it.
			return a.render(ctx, &StartRender{Key: l.Key, URL: url, Class: ClassLive, Source: "live", Markdown: l.Markdown})
		}
	}
	return r, err
}

// outcomeOf is how a shard's answer ended, for policy.After.
func outcomeOf(r *Rendered, err error) policy.Outcome {
	switch {
	case r != nil && r.FromStore:
		return policy.FromStore
	case r != nil && r.Renewed:
		return policy.Renewed
	case r != nil && r.Kept:
		return policy.Kept
	case err != nil:
		return policy.Failed
	}
	return policy.Rendered
}

// serveStored writes the stored page of key through view, whatever its age,
// and counts the hit.
func (a *Appliance) serveStored(key string, d policy.Decision, view ViewFunc) (bool, error) {
	now := a.cfg.Clock()
	hash := keyHash(key)
	served := false
	err := a.store.ViewPage(key, func(v *storage.PageView) error {
		served = true
		a.keys[shardIndex(hash, len(a.keys))].hits.add(key, hash, now)
		return view(v, d)
	})
	if errors.Is(err, storage.ErrNotFound) {
		err = nil
	}
	return served, err
}

// hitFlushEvery bounds how stale the hit counts in m/ are.
const hitFlushEvery = 10 * time.Second

// flushHits has every shard write the hits counted so far, and waits for them
// (Stop, before the shards stop).
func (a *Appliance) flushHits(ctx context.Context) {
	shards := a.shards.Load()
	if shards == nil {
		return
	}
	done := make(chan struct{}, len(*shards))
	for _, pid := range *shards {
		a.system.Root.Send(pid, &flushHits{Done: done})
	}
	for range *shards {
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
	}
}
