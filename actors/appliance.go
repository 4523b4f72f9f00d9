package actors

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/browser"
	"prerenderd/egress"
	"prerenderd/storage"
)

// Config is what the actor tree needs from config.toml.
type Config struct {
	Shards         int
	TTL            time.Duration
	Browsers       int
	TabsPerBrowser int
	MaxQueue       int           // renders waiting for a tab; past it ErrOverloaded
	QueueTimeout   time.Duration // longest wait of a live render for a tab; past it ErrOverloaded
	// ReservedLive is the share of all tabs kept for live renders (0 to 1): priority and
	// normal work never hold more than the rest. 0 reserves none.
	ReservedLive float64
	// A browser is recycled (drained, then replaced) after RendersPerBrowser renders
	// (default 200), at MaxBrowserAge (default 1h), or once the PSS of its process
	// tree passes MaxBrowserRSS (default 1GiB).
	RendersPerBrowser int
	MaxBrowserAge     time.Duration
	MaxBrowserRSS     int64
	// Every LivenessInterval (default 5s) each browser must answer Browser.getVersion
	// within LivenessTimeout (default 5s), or it is killed and restarted.
	LivenessInterval time.Duration
	LivenessTimeout  time.Duration
	Browser          browser.Options
	// RecacheURLsPerHour is the priority queue's pace: 0 = as fast as its tabs
	// allow, else 3600–36000. A speed set through the API and persisted wins.
	RecacheURLsPerHour int
	// HitFlushEvery is how often counted hits are written to m/ (default 10s).
	HitFlushEvery time.Duration
	// MaxBytes bounds the stored pages (storage.max_bytes); past it the least
	// recently hit are evicted down to 90%. 0 is unbounded.
	MaxBytes int64
	// EvictInterval is how often the bound is checked; default 5s.
	EvictInterval time.Duration
	// Sitemaps configures the sitemaps actor.
	Sitemaps SitemapsConfig
	// MobileDevice is the phone a render of the mobile variant emulates
	// (render.mobile_viewport); default browser.DefaultMobileDevice.
	MobileDevice browser.Device
	// Egress is the proxy every Chromium connects through (egress package): its
	// Policy (security.allow_private, security.allow_addresses; nil refuses every
	// non-public address) is checked on every connection Chromium makes, and the
	// sitemaps fetcher dials by the same Policy. Self is the HTTP listener, whose
	// demo is the one part of it a page may load. Logger and Metrics are the
	// appliance's.
	Egress egress.Options
	// OnRender, when set, is called once per finished render (state.go), on
	// the render actor's goroutine: it must not block (the analytics hook of
	// issue 14).
	OnRender func(RenderEvent)
	Logger   *slog.Logger
	// Clock is time.Now unless a test needs another.
	Clock func() time.Time
}

func (c *Config) ensureDefaults() {
	if c.Shards <= 0 {
		c.Shards = 8
	}
	if c.TTL <= 0 {
		c.TTL = 24 * time.Hour
	}
	if c.Browsers <= 0 {
		c.Browsers = 1
	}
	if c.TabsPerBrowser <= 0 {
		c.TabsPerBrowser = 2
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 1000
	}
	if c.QueueTimeout <= 0 {
		c.QueueTimeout = 10 * time.Second
	}
	if c.RendersPerBrowser <= 0 {
		c.RendersPerBrowser = 200
	}
	if c.MaxBrowserAge <= 0 {
		c.MaxBrowserAge = time.Hour
	}
	if c.MaxBrowserRSS <= 0 {
		c.MaxBrowserRSS = 1 << 30
	}
	if c.LivenessInterval <= 0 {
		c.LivenessInterval = 5 * time.Second
	}
	if c.LivenessTimeout <= 0 {
		c.LivenessTimeout = 5 * time.Second
	}
	if c.HitFlushEvery <= 0 {
		c.HitFlushEvery = hitFlushEvery
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.EvictInterval <= 0 {
		c.EvictInterval = 5 * time.Second
	}
	c.Sitemaps.ensureDefaults()
	if c.MobileDevice == (browser.Device{}) {
		c.MobileDevice = browser.DefaultMobileDevice
	}
	c.MobileDevice.Mobile = true
	c.Sitemaps.policy = c.Egress.Policy
	c.Egress.Logger = c.Logger
	c.Browser.Tabs = c.TabsPerBrowser
	c.Browser.Logger = c.Logger
	c.Browser.EnsureDefaults()
}

// Errors a client of the façade can see. httpfront maps them to statuses.
var (
	// ErrOverloaded: no tab could be had before the deadline, or the wait queue is full.
	ErrOverloaded = errors.New("overloaded: no browser tab free")
	// ErrStopping: the appliance is shutting down.
	ErrStopping = errors.New("appliance is stopping")
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

	pending     sync.Map // key → time.Time: explicit recache queued, not yet run
	staleQueued sync.Map // key → struct{}: a STALE hit queued a recache
	served      sync.Map // key → struct{}: PRERENDER announced, flag being cleared
	loading     loading  // URLs in a tab now, for loop detection
	hits        hitRecorder
	flushNow    chan struct{}
	flushed     chan struct{}
	stopped     chan struct{}  // closed when the actors are being stopped
	tasks       sync.WaitGroup // goroutines owned by the appliance (flusher, waits)

	up       atomic.Pointer[[]*browser.Browser] // browsers that can take leases, for Ready
	stopping atomic.Bool
	inflight sync.WaitGroup // façade Render calls in progress
	closers  sync.WaitGroup // goroutines closing Chromium processes
	metrics  *applianceMetrics
	egress   *egress.Proxy // Chromium's only way out; closed after the last browser
	tracker  renderTracker // renders in flight and browsers, for State (state.go)
	clears   clears
	sitemaps atomic.Pointer[actor.PID]
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

// Start builds the actor tree. Browsers start in the background; Ready tells when one
// answers.
func Start(cfg Config, store *storage.Store) (*Appliance, error) {
	cfg.ensureDefaults()
	if err := cfg.Browser.Validate(); err != nil {
		return nil, fmt.Errorf("cannot start appliance: %w", err)
	}
	if err := cfg.MobileDevice.Validate(); err != nil {
		return nil, fmt.Errorf("cannot start appliance: invalid MobileDevice: %w", err)
	}
	a := &Appliance{cfg: cfg, store: store, log: cfg.Logger,
		flushNow: make(chan struct{}), flushed: make(chan struct{}), stopped: make(chan struct{})}
	a.hits.seed = maphash.MakeSeed()
	a.bgCtx, a.bgCancel = context.WithCancel(context.Background())
	a.metrics = newApplianceMetrics(a)
	// Profiles of an earlier run killed with -9 are never removed otherwise.
	browser.RemoveStaleProfiles(cfg.Logger)
	a.cfg.Egress.Metrics = a.metrics.set
	egr, err := egress.Start(a.cfg.Egress)
	if err != nil {
		return nil, fmt.Errorf("cannot start appliance: %w", err)
	}
	a.egress = egr
	a.cfg.Browser.Egress = egr
	// protoactor logs dead letters with the whole message (a render result can be
	// megabytes): keep its own logging at Warn.
	quiet := cfg.Logger.Handler()
	a.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(levelFloor{quiet, slog.LevelWarn})
	}))
	ready := make(chan struct{})
	props := actor.PropsFromProducer(func() actor.Actor {
		return &applianceActor{app: a, ready: ready}
	}, actor.WithSupervisor(actor.NewOneForOneStrategy(10, 10*time.Second, actor.DefaultDecider)))
	pid, err := a.system.Root.SpawnNamed(props, "appliance")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cannot spawn appliance actor: %w", err), egr.Close())
	}
	a.root = pid
	<-ready
	if cfg.MaxBytes > 0 {
		a.goBackground(func(ctx context.Context) { a.evictLoop(ctx, cfg.EvictInterval) })
	}
	a.tasks.Add(1)
	go a.runHitFlusher()
	return a, nil
}

// shardFor maps a key to its owner. INVARIANT: every write of p/<key> goes through
// this shard, so two renders of one key never race.
func (a *Appliance) shardFor(key string) *actor.PID {
	shards := *a.shards.Load()
	return shards[shardIndex(key, len(shards))]
}

func shardIndex(key string, n int) int {
	h := fnv.New32a()
	io.WriteString(h, key)
	return int(h.Sum32() % uint32(n))
}

// Render returns the rendered page for key, starting a render when none runs and
// joining the running one otherwise. It does not look at the cache first: callers
// read hits straight from the store (ViewPage) and call Render on a miss.
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

// ViewPage reads a stored page without an actor hop: measured, a hop per hit cost
// about a third of hit throughput, and Pebble is safe for concurrent readers.
func (a *Appliance) ViewPage(key string, fn func(*storage.PageView) error) error {
	return a.store.ViewPage(key, fn)
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

// HTTPServer is the part of *http.Server the httpfront actor drives.
type HTTPServer interface {
	Serve() error
	Shutdown(ctx context.Context) error
}

// Serve hands srv to the httpfront actor, which starts it and shuts it down first on
// Stop. It returns at once; a server that fails is logged and reported on the channel.
func (a *Appliance) Serve(srv HTTPServer) <-chan error {
	failed := make(chan error, 1)
	props := actor.PropsFromProducer(func() actor.Actor {
		return &httpfrontActor{srv: srv, log: a.log, failed: failed}
	})
	reply := make(chan *actor.PID, 1)
	a.system.Root.Send(a.root, &spawnFront{props: props, reply: reply})
	a.front = <-reply
	return failed
}

type spawnFront struct {
	props *actor.Props
	reply chan *actor.PID
}

// Stop shuts down in reverse order of start: the HTTP server stops accepting and lets
// requests finish (up to ctx's deadline), in-flight renders end, the actors are
// poisoned, and every Chromium process is closed and waited for.
func (a *Appliance) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() { a.stopErr = a.stop(ctx) })
	return a.stopErr
}

func (a *Appliance) stop(ctx context.Context) error {
	var errs []error
	if a.front != nil {
		done := make(chan error, 1)
		deadline, _ := ctx.Deadline()
		a.system.Root.Send(a.front, &stopHTTP{Deadline: deadline, Done: done})
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("http shutdown: %w", ctx.Err()))
		}
	}
	// Under bgMu, so no background goroutine starts after bg.Wait.
	a.bgMu.Lock()
	a.stopping.Store(true)
	a.bgMu.Unlock()
	a.bgCancel()
	a.bg.Wait()
	renders := make(chan struct{})
	go func() { a.inflight.Wait(); close(renders) }()
	select {
	case <-renders:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("renders still running at the deadline: %w", ctx.Err()))
	}
	// Hits counted since the last flush go to the shards before they stop.
	a.FlushHits()
	close(a.stopped)
	// Poison rather than Shutdown: Shutdown does not stop actors.
	if err := a.system.Root.PoisonFuture(a.root).Wait(); err != nil {
		errs = append(errs, fmt.Errorf("stopping actors: %w (still running: %s)", err, a.liveActors()))
	}
	a.tasks.Wait()
	a.closers.Wait()
	a.system.Shutdown()
	// Last: no Chromium is left to connect through it.
	if err := a.egress.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// goBackground runs f in a goroutine the appliance owns: Stop cancels its context
// and waits for it. It returns false, without running f, once Stop has begun.
func (a *Appliance) goBackground(f func(ctx context.Context)) bool {
	a.bgMu.Lock()
	defer a.bgMu.Unlock()
	if a.stopping.Load() {
		return false
	}
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		f(a.bgCtx)
	}()
	return true
}

// WriteMetrics writes the actor tree's metrics in Prometheus text format.
func (a *Appliance) WriteMetrics(w io.Writer) { a.metrics.set.WritePrometheus(w) }

// applianceActor is the root supervisor.
type applianceActor struct {
	app   *Appliance
	ready chan struct{}
}

func (r *applianceActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a := r.app
		a.pool.Store(ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newPoolActor(a) },
			actor.WithSupervisor(actor.NewOneForOneStrategy(10, 10*time.Second, actor.DefaultDecider)))))
		shards := make([]*actor.PID, a.cfg.Shards)
		for i := range shards {
			pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return newShardActor(a, i) }), fmt.Sprintf("shard-%d", i))
			if err != nil {
				panic(fmt.Sprintf("cannot spawn shard %d: %v", i, err))
			}
			shards[i] = pid
		}
		a.shards.Store(&shards)
		// The priority queue first: the normal queue yields to what it loaded.
		for _, q := range []struct {
			name     string
			producer func() actor.Actor
			pid      **actor.PID
		}{
			{"queue-priority", func() actor.Actor { return newPriorityQueue(a) }, &a.priority},
			{"queue-normal", func() actor.Actor { return newNormalQueue(a) }, &a.normal},
		} {
			pid, err := ctx.SpawnNamed(actor.PropsFromProducer(q.producer), q.name)
			if err != nil {
				panic(fmt.Sprintf("cannot spawn %s: %v", q.name, err))
			}
			*q.pid = pid
		}
		a.sitemaps.Store(ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newSitemapsActor(a) })))
		if r.ready != nil {
			close(r.ready)
			r.ready = nil
		}
	case *spawnFront:
		pid, err := ctx.SpawnNamed(m.props, "httpfront")
		if err != nil {
			r.app.log.Error("spawn httpfront", "err", err)
		}
		m.reply <- pid
	}
}

// levelFloor drops records below a level; it keeps protoactor's chatter out of logs.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (l levelFloor) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.Handler.Enabled(ctx, lv)
}

// httpfrontActor owns the HTTP server's lifecycle: it starts it, and on stopHTTP shuts
// it down in a goroutine so that Receive never blocks on in-flight requests.
type httpfrontActor struct {
	srv    HTTPServer
	log    *slog.Logger
	failed chan<- error
	down   bool
}

func (h *httpfrontActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		srv, failed := h.srv, h.failed
		go func() {
			if err := srv.Serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.log.Error("http server failed", "err", err)
				select {
				case failed <- err:
				default:
				}
			}
		}()
	case *stopHTTP:
		if h.down {
			m.Done <- nil
			return
		}
		h.down = true
		sctx, cancel := context.Background(), context.CancelFunc(func() {})
		if !m.Deadline.IsZero() {
			sctx, cancel = context.WithDeadline(sctx, m.Deadline)
		}
		go func() {
			defer cancel()
			m.Done <- h.srv.Shutdown(sctx)
		}()
	}
}

type applianceMetrics struct {
	set              *metrics.Set
	renderDuration   *metrics.Histogram
	rendersOK        *metrics.Counter
	rendersIncompl   *metrics.Counter
	rendersFailed    *metrics.Counter
	rendersRefused   *metrics.Counter
	tabWait          [numClasses]*metrics.Histogram
	rendersJoined    *metrics.Counter
	storeFailed      *metrics.Counter
	restarts         map[string]*metrics.Counter // by reason
	renderInflight   atomic.Int64
	tabsBusy         atomic.Int64
	queueLen         atomic.Int64
	browsersUp       atomic.Int64
	browsersDraining atomic.Int64
	browsersStarting atomic.Int64
	// chromium is the last measured usage of each browser's process tree, by id.
	chromium []chromiumUsage

	evictions *metrics.Counter // eviction passes
	evicted   *metrics.Counter // pages evicted
	cleared   *metrics.Counter // pages removed by wildcard clears
	sitemap   sitemapMetrics

	priorityLen  atomic.Int64
	normalLen    atomic.Int64 // pages past their TTL, counted once a minute
	priorityPace atomic.Int64 // URLs per hour, 0 = automatic
	normalPace   atomic.Int64 // URLs per hour from the seed's formula
	recaches     map[string]*metrics.Counter
	removals     map[string]*metrics.Counter
}

// recache counts a queue's recache by result (a small fixed set).
func (m *applianceMetrics) recache(queue, result string) *metrics.Counter {
	return m.recaches[queue+"/"+result]
}

// removed counts a page removal by reason (a small fixed set).
func (m *applianceMetrics) removed(reason string) *metrics.Counter {
	return m.removals[reason]
}

type chromiumUsage struct{ rss, pss atomic.Int64 }

func (m *applianceMetrics) setUsage(id int, u browser.Usage) {
	if id < len(m.chromium) {
		m.chromium[id].rss.Store(u.RSS)
		m.chromium[id].pss.Store(u.PSS)
	}
}

func (m *applianceMetrics) sumUsage(field func(*chromiumUsage) *atomic.Int64) float64 {
	var sum int64
	for i := range m.chromium {
		sum += field(&m.chromium[i]).Load()
	}
	return float64(sum)
}

// newApplianceMetrics registers in a set of the appliance's own, so two appliances in
// one test binary never register a name twice.
func newApplianceMetrics(a *Appliance) *applianceMetrics {
	m := &applianceMetrics{set: metrics.NewSet()}
	s := m.set
	m.renderDuration = s.NewHistogram("prerender_render_duration_seconds")
	m.rendersOK = s.NewCounter(`prerender_renders_total{result="ok"}`)
	m.rendersIncompl = s.NewCounter(`prerender_renders_total{result="incomplete"}`)
	m.rendersFailed = s.NewCounter(`prerender_renders_total{result="error"}`)
	m.rendersRefused = s.NewCounter(`prerender_renders_total{result="overloaded"}`)
	for c := range m.tabWait {
		m.tabWait[c] = s.NewHistogram(fmt.Sprintf(`prerender_tab_wait_seconds{class=%q}`, Class(c)))
	}
	m.rendersJoined = s.NewCounter("prerender_render_joins_total")
	m.storeFailed = s.NewCounter("prerender_store_errors_total")
	m.restarts = make(map[string]*metrics.Counter)
	for _, r := range []string{reasonCrash, reasonUnresponsive, reasonRenders, reasonAge, reasonMemory} {
		m.restarts[r] = s.NewCounter(fmt.Sprintf(`prerender_browser_restarts_total{reason=%q}`, r))
	}
	m.chromium = make([]chromiumUsage, a.cfg.Browsers)
	s.NewGauge(`prerender_browsers{state="up"}`, func() float64 { return float64(m.browsersUp.Load()) })
	s.NewGauge(`prerender_browsers{state="draining"}`, func() float64 { return float64(m.browsersDraining.Load()) })
	s.NewGauge(`prerender_browsers{state="starting"}`, func() float64 { return float64(m.browsersStarting.Load()) })
	s.NewGauge("prerender_chromium_rss_bytes", func() float64 { return m.sumUsage(func(u *chromiumUsage) *atomic.Int64 { return &u.rss }) })
	s.NewGauge("prerender_chromium_pss_bytes", func() float64 { return m.sumUsage(func(u *chromiumUsage) *atomic.Int64 { return &u.pss }) })
	s.NewGauge("prerender_renders_in_flight", func() float64 { return float64(m.renderInflight.Load()) })
	// The pool's shape (render.browsers, render.tabs_per_browser, "auto"
	// resolved): what prerender_tabs_busy and prerender_browsers count against.
	s.NewGauge("prerender_pool_browsers", func() float64 { return float64(a.cfg.Browsers) })
	s.NewGauge("prerender_pool_tabs", func() float64 { return float64(a.cfg.Browsers * a.cfg.TabsPerBrowser) })
	s.NewGauge("prerender_tabs_busy", func() float64 { return float64(m.tabsBusy.Load()) })
	s.NewGauge("prerender_tab_queue_length", func() float64 { return float64(m.queueLen.Load()) })
	s.NewGauge("prerender_pages_cached", func() float64 { return float64(a.store.PageCount()) })
	s.NewGauge(`prerender_recache_queue_length{queue="priority"}`, func() float64 { return float64(m.priorityLen.Load()) })
	s.NewGauge(`prerender_recache_queue_length{queue="normal"}`, func() float64 { return float64(m.normalLen.Load()) })
	s.NewGauge(`prerender_recache_pace_urls_per_hour{queue="priority"}`, func() float64 { return float64(m.priorityPace.Load()) })
	s.NewGauge(`prerender_recache_pace_urls_per_hour{queue="normal"}`, func() float64 { return float64(m.normalPace.Load()) })
	m.recaches = make(map[string]*metrics.Counter)
	for _, q := range []string{"priority", "normal"} {
		for _, r := range []string{"stored", "renewed", "removed", "kept", "skipped", "failed", "not_stored", "deferred"} {
			m.recaches[q+"/"+r] = s.NewCounter(`prerender_recaches_total{queue="` + q + `",result="` + r + `"}`)
		}
	}
	m.removals = make(map[string]*metrics.Counter)
	for _, r := range []string{"status", "5xx"} {
		m.removals[r] = s.NewCounter(`prerender_cache_removals_total{reason="` + r + `"}`)
	}
	s.NewGauge("prerender_storage_disk_bytes", func() float64 { return float64(a.store.DiskUsage()) })
	s.NewGauge("prerender_cache_stored_bytes", func() float64 { return float64(a.store.StoredBytes()) })
	s.NewGauge("prerender_cache_max_bytes", func() float64 { return float64(a.cfg.MaxBytes) })
	m.evictions = s.NewCounter("prerender_cache_evictions_total")
	m.evicted = s.NewCounter("prerender_cache_evicted_pages_total")
	m.cleared = s.NewCounter("prerender_cache_cleared_pages_total")
	m.sitemap = newSitemapMetrics(s)
	return m
}

// liveActors names the actors still registered, for a stop that timed out.
func (a *Appliance) liveActors() string {
	var names []string
	for _, bucket := range a.system.ProcessRegistry.LocalPIDs.LocalPIDs {
		names = append(names, bucket.Keys()...)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
