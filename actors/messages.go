package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
	"prerenderd/storage"
)

// Messages between the actors. Each is a plain struct named as a fact or a
// command, grouped by the actor that receives it.

// --- to a cache shard (shard.go, shard_keys.go) ---

// StartRender asks a shard for the rendered page of Key. The shard answers
// exactly once: joined to a render already running, from the store when a render
// finished just before, or from a new render child.
type StartRender struct {
	Key   string
	URL   string
	Class Class
	// Source says who asked, for metadata and logs: live, api, sitemap, manual,
	// stale, retry, normal.
	Source string
	// Since: when set, a stored page rendered at or after it makes the render
	// unnecessary (a recache asked for at Since). When zero, a fresh stored page
	// does.
	Since time.Time
	// OnlyStored: render only if a page is stored (the normal queue recaches; it
	// does not bring back a page that was removed meanwhile).
	OnlyStored bool
	// Markdown: the asker answers the page's Markdown, so the store work makes
	// it before the answer rather than after (actors/markdown.go).
	Markdown bool
	// The answer goes to Reply (the façade's callers) or, as a
	// queueRenderDone carrying Item, to ReplyTo (the recache queues).
	Reply   chan<- *Rendered
	ReplyTo *actor.PID
	Item    storage.QueueItem
}

// Class says who waits for a render. The pool serves live before priority before
// normal, and keeps a share of tabs for live work.
type Class uint8

const (
	// ClassLive: a crawler is waiting on the HTTP request.
	ClassLive Class = iota
	// ClassPriority: the priority recache queue (API, sitemaps, STALE hits, retries).
	ClassPriority
	// ClassNormal: the normal recache queue (pages past their TTL).
	ClassNormal
)

func (c Class) String() string {
	switch c {
	case ClassLive:
		return "live"
	case ClassPriority:
		return "priority"
	case ClassNormal:
		return "normal"
	}
	return "unknown"
}

// RenderDone is a render child's report to its shard (or, for a capture, to
// its caller). Flight names the shard's flight it is for.
type RenderDone struct {
	Key    string
	URL    string
	Flight uint64
	Result *browser.Result
	Err    error
}

// renderApplied reports the end of a shard's store work for a finished render:
// a write, a renewal, a removal or a failure count.
type renderApplied struct {
	Key      string
	Rendered *Rendered
}

// deletePages asks a shard to remove pages of keys it owns (cache clear, eviction).
// The shard answers on Reply exactly once.
type deletePages struct {
	Keys  []string
	Reply chan<- pagesDeleted
}

// pagesDeleted is a shard's answer to deletePages: pages removed, and keys left
// alone because a render of them was running (its result replaces the page).
type pagesDeleted struct {
	Deleted int
	Busy    int
	Err     error
}

// deletesDone reports the end of a shard's delete goroutine.
type deletesDone struct {
	Keys  []string
	Busy  int
	N     int
	Err   error
	Reply chan<- pagesDeleted
}

// staleHit tells a shard a crawler was served its key's page STALE: it queues
// one priority recache unless one is queued.
type staleHit struct {
	Key string
	URL string // the stored page's, which the recache loads
}

// storeMarkdown: store the Markdown a request made of the page of Key whose
// ETag is ETag, stored without one (Appliance.StoreMarkdown).
type storeMarkdown struct {
	Key      string
	ETag     string
	Markdown []byte
}

// claimPrerender asks a shard whether this request is the first serve of its
// key's prerendered page. The shard answers on Reply (buffered).
type claimPrerender struct {
	Key   string
	Reply chan<- bool
}

// markPending tells a shard the priority queue accepted explicit recaches of
// its keys, asked for at Since. Done, when set, gets one value once the flags
// are published.
type markPending struct {
	Marks []pendingMark
	Done  chan<- struct{}
}

type pendingMark struct {
	Key   string
	Since time.Time
}

// staleNotQueued tells a shard the stale recache of Key could not be
// persisted: a later stale hit may try again.
type staleNotQueued struct{ Key string }

// crash makes the shard or the pool that receives it fail, as a bug would:
// the supervision tests send it to show that every waiter is answered and the
// restarted actor serves the next request.
type crash struct{}

// flushHits asks a shard to write its hit counts (its timer, and Stop). Done,
// when set, gets one value once they are written.
type flushHits struct{ Done chan<- struct{} }

// --- to the pool (pool.go), and its answers to a render child (render.go) ---

// AcquireTab asks the pool for a tab. The pool answers ReplyTo with TabGranted or
// TabRefused carrying the same ID.
type AcquireTab struct {
	ID       uint64
	Class    Class
	Deadline time.Time
	// Avoid is the browser incarnation that just failed this render, if any: the
	// retry goes elsewhere, or to the same browser once it has restarted. After a tab
	// crash (AvoidOnlyIfAnother) the browser itself is fine, so the retry may still
	// run there when no other browser has a free tab.
	Avoid              *Lease
	AvoidOnlyIfAnother bool
	ReplyTo            *actor.PID
}

// TabGranted hands a lease on one tab of one browser.
type TabGranted struct {
	ID    uint64
	Lease Lease
}

// TabRefused says no tab can be had before the deadline, or the queue is full.
type TabRefused struct {
	ID  uint64
	Err error
}

// ReleaseTab gives a lease back. Sent by whoever ran the render, even when the render
// child has already stopped, so a tab is never lost.
type ReleaseTab struct {
	Lease Lease
}

// Lease is one tab of one browser incarnation, held for work of Class.
type Lease struct {
	Browser    *browser.Browser
	BrowserID  int
	Generation uint64
	Class      Class
}

// BrowserUp tells the pool a browser actor has a running Chromium.
type BrowserUp struct {
	ID         int
	Generation uint64
	Browser    *browser.Browser
	Tabs       int
}

// BrowserDown tells the pool a browser must not get new leases.
type BrowserDown struct {
	ID         int
	Generation uint64
}

// waitExpired fires when a queued AcquireTab passes its deadline.
type waitExpired struct{ ID uint64 }

// upgradeToLive tells a render child that a crawler now waits on it: its wait for a
// tab, if any, becomes a live one. Sent by the shard when a live asker joins a flight
// started by a queue.
type upgradeToLive struct{}

// abandonRender tells a capture's render child that its caller left: the
// render is cancelled, or never started.
type abandonRender struct{}

// upgradeWait moves a queued AcquireTab to the live class with a deadline.
type upgradeWait struct {
	ID       uint64
	Deadline time.Time
}

// --- to a browser actor (browseractor.go) ---

type browserStarted struct {
	Browser    *browser.Browser
	Generation uint64
}

type browserStartFailed struct{ Err error }

type browserExited struct{ Generation uint64 }

// Restart reasons of prerender_browser_restarts_total: a small fixed set.
const (
	reasonCrash        = "crash"        // Chromium exited or its connection was lost
	reasonUnresponsive = "unresponsive" // Browser.getVersion unanswered within the bound: killed
	reasonRenders      = "renders"      // render.renders_per_browser reached
	reasonAge          = "age"          // render.max_browser_age reached
	reasonMemory       = "memory"       // the process tree passed render.max_browser_rss
)

// browserUnresponsive: the liveness check of an incarnation got no answer in time.
type browserUnresponsive struct {
	Generation uint64
	Err        error
}

// browserMeasured carries the process tree's usage of an incarnation.
type browserMeasured struct {
	Generation uint64
	Usage      browser.Usage
}

// recycleWanted asks the pool to recycle a browser incarnation once it can: it gets
// no new leases, and is replaced when its renders are done.
type recycleWanted struct {
	ID         int
	Generation uint64
	Reason     string
}

// browserAged fires when an incarnation reaches render.max_browser_age.
type browserAged struct {
	ID         int
	Generation uint64
}

// recycleBrowser tells a browser actor to start a new Chromium in place of the
// incarnation Generation, which the pool no longer leases and will retire.
type recycleBrowser struct {
	Generation uint64
	Reason     string
}

// retireBrowser tells a browser actor that a replaced incarnation has no lease left:
// it can be closed.
type retireBrowser struct{ Generation uint64 }

type retryStart struct{}

type tabRendered struct {
	Result *browser.Result
	Err    error
	Lease  Lease
}

// --- to the root and the httpfront actor (tree.go) ---

// spawnFront asks the root to spawn the httpfront actor (Appliance.Serve).
type spawnFront struct {
	props *actor.Props
	reply chan *actor.PID
}

// stopHTTP asks the httpfront actor to shut its server down; Done closes when it has.
type stopHTTP struct {
	Deadline time.Time
	Done     chan<- error
}

// --- to the recache queues (queues.go) ---

// enqueueRecache asks the priority queue to add items. Reply, when set, gets
// the outcome once the items are persisted.
type enqueueRecache struct {
	Items []storage.QueueItem
	Sync  bool // persisted with fsync before Reply (API and sitemap requests)
	Reply chan<- enqueueResult
}

type enqueueResult struct {
	Queued, Duplicate int
	Err               error
	// Marked gets one value per shard told of the explicit recaches (Marks of
	// them) once it has published their flags: the caller waits for it, so a
	// crawler asking next is REVALIDATED.
	Marked <-chan struct{}
	Marks  int
	// Copies are the answers of the members keeping copies of the new items
	// (a cluster's backups, clusterqueue.go): the caller waits for them
	// before it acknowledges the request.
	Copies []*actor.Future
}

// replicateAll asks the priority queue to send copies of every item it holds
// to their backups again: the membership changed, and with it the backups.
type replicateAll struct{}

// handedOff tells the priority queue how handing Items to the members that
// own them now went.
type handedOff struct {
	Items []storage.QueueItem
	Err   error
}

// queueTick wakes a queue actor when its pace allows the next dispatch.
type queueTick struct{}

// queueRenderDone reports a queue's render back to the queue.
type queueRenderDone struct {
	Item     storage.QueueItem
	Rendered *Rendered
	Err      error
}

// setRecacheSpeed changes the priority queue's pace (0 = automatic).
type setRecacheSpeed struct {
	URLsPerHour int
	Reply       chan<- error
}

// dueCounted carries the normal queue's periodic count of pages past their TTL.
type dueCounted struct{ N int }

// dueCount asks the normal queue to count the pages past their TTL (every
// dueCountEvery).
type dueCount struct{}

// --- to the sitemaps actor (sitemapsactor.go) ---

// addSitemap asks the sitemaps actor to persist and poll a sitemap added through
// the API. Reply gets nil once it is persisted (synced).
type addSitemap struct {
	URL   string
	Reply chan<- error
}

// pollSitemaps starts a poll of every root (the interval passed, or start-up).
type pollSitemaps struct{}

// sitemapPolled carries the state of one file from the poll goroutine to the
// actor, the only writer of s/ keys.
type sitemapPolled struct {
	URL   string
	State storage.SitemapState
}

// sitemapsPolled: the poll goroutine ended; All says whether it was the periodic
// poll of every root.
type sitemapsPolled struct{ All bool }
