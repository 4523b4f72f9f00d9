package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
	"prerenderd/egress"
	"prerenderd/policy"
	"prerenderd/storage"
)

// Errors a client of the façade can see. httpfront maps them to statuses.
var (
	// ErrOverloaded: no tab could be had before the deadline, or the wait queue is full.
	ErrOverloaded = errors.New("overloaded: no browser tab free")
	// ErrStopping: the appliance is shutting down.
	ErrStopping = errors.New("appliance is stopping")
	// ErrRestarted: the actor serving the request failed and was restarted by
	// its supervisor before it could answer; nothing was rendered. A retry is
	// served by the restarted actor.
	ErrRestarted = errors.New("the actor serving this request failed and was restarted")
)

// Rendered is a shard's answer to one asker.
type Rendered struct {
	// FromStore: a render of this key finished just before the request reached its
	// shard; the page is in the store and the caller should serve it from there.
	FromStore bool
	Result    *browser.Result
	Err       error
	// Stored: the result was written to the cache (a 200, complete).
	Stored bool
	// StoreErr: a storable result could not be written (for example, the disk is full).
	StoreErr error
	// Page is the stored form when Stored: gzip body and ETag ready to send.
	Page *storage.Page
	// Joined: this asker joined a render another request had started.
	Joined bool
	// Skipped: a queued recache found nothing to do (already fresh, or the page
	// it was to refresh is gone).
	Skipped bool
	// Renewed: the origin answered 304; the stored page was kept and its expiry
	// renewed. Serve it from the store.
	Renewed bool
	// Removed names the rule that removed the stored page ("status", "5xx").
	Removed string
	// Kept: the render failed (≥ 500 or no answer) and the stored page was kept.
	Kept bool
	// Served: RenderFor answered the request from the stored page, through its
	// view, labelled As (policy.After); Err is the render's failure, if any.
	Served bool
	As     policy.Decision
}

// Appliance is the façade over the actor tree.
type Appliance struct {
	cfg    Config
	store  *storage.Store
	system *actor.ActorSystem
	root   *actor.PID
	log    *slog.Logger

	// Written by the root actor when it (re)spawns its children, read by callers.
	shards   atomic.Pointer[[]*actor.PID]
	pool     atomic.Pointer[actor.PID]
	front    *actor.PID
	priority *actor.PID // queue-priority; fixed name, so restarts keep it valid
	normal   *actor.PID

	// keys are what each shard owns of its keys (flags, hit counts, writes), by
	// shard index; fixed at Start, so the hit path reads them without a lock.
	keys    []*keyState
	loading loading       // URLs in a tab now, for loop detection
	stopped chan struct{} // closed when the actors are being stopped

	up       atomic.Pointer[[]*browser.Browser] // browsers that can take leases, for Ready
	stopping atomic.Bool
	inflight sync.WaitGroup // façade Render calls in progress
	closers  sync.WaitGroup // goroutines closing Chromium processes
	metrics  *applianceMetrics
	egress   *egress.Proxy // Chromium's only way out; closed after the last browser
	tracker  renderTracker // renders in flight and browsers, for State (state.go)
	clears   clears
	sitemaps atomic.Pointer[actor.PID]
	// cluster is this appliance's membership of a cluster (cluster.go); nil
	// when cluster.enabled is false. Set by JoinCluster before requests come.
	cluster atomic.Pointer[clusterNode]
	// bg holds the appliance's own goroutines (wildcard clears, eviction, sitemap
	// polls); bgCtx ends on Stop, which waits for them before poisoning the actors
	// they talk to. bgMu orders goBackground against Stop.
	bg       sync.WaitGroup
	bgMu     sync.Mutex
	bgCtx    context.Context
	bgCancel context.CancelFunc
	stopOnce sync.Once
	stopErr  error
}

// shardFor maps a key to its owner. INVARIANT: every write of p/<key> goes through
// this shard, so two renders of one key never race.
func (a *Appliance) shardFor(key string) *actor.PID {
	return a.shardPID(a.shardOf(key))
}

// shardOf is the index of key's shard.
func (a *Appliance) shardOf(key string) int {
	return shardIndex(keyHash(key), len(a.keys))
}

func shardIndex(hash uint32, n int) int { return int(hash % uint32(n)) }

// shardPID is the shard of index i.
func (a *Appliance) shardPID(i int) *actor.PID { return (*a.shards.Load())[i] }

// Render returns the rendered page for key, starting a render when none runs and
// joining the running one otherwise. It does not look at the cache first nor
// serve from it: a crawler's request goes through Lookup and RenderFor.
func (a *Appliance) Render(ctx context.Context, key, url string) (*Rendered, error) {
	return a.render(ctx, &StartRender{Key: key, URL: url, Class: ClassLive, Source: "live"})
}

func (a *Appliance) render(ctx context.Context, m *StartRender) (*Rendered, error) {
	if a.stopping.Load() {
		return nil, ErrStopping
	}
	a.inflight.Add(1)
	defer a.inflight.Done()
	reply := make(chan *Rendered, 1)
	m.Reply = reply
	a.system.Root.Send(a.shardFor(m.Key), m)
	select {
	case r := <-reply:
		if r.Err != nil {
			return r, r.Err
		}
		return r, nil
	case <-ctx.Done():
		// The render goes on without this asker and is stored for the next one.
		return nil, ctx.Err()
	}
}

// Ready reports whether at least one browser answers Browser.getVersion.
func (a *Appliance) Ready(ctx context.Context) error {
	if a.stopping.Load() {
		return ErrStopping
	}
	up := a.up.Load()
	if up == nil || len(*up) == 0 {
		return errors.New("no browser is up yet")
	}
	var last error
	for _, b := range *up {
		if _, err := b.Version(ctx); err != nil {
			last = err
			continue
		}
		return nil
	}
	return fmt.Errorf("no browser answers: %w", last)
}

// MobileDevice is the phone renders of the mobile variant emulate.
func (a *Appliance) MobileDevice() browser.Device { return a.cfg.MobileDevice }
