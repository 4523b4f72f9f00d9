package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"prerenderd/browser"
	"prerenderd/cachekey"
	"prerenderd/egress"
)

// The defaults of Config, the same as config.toml's (a test of package main
// checks that they agree). Fields whose zero value means something of its own
// (ReservedLive, StaleWhileRevalidate, RecacheURLsPerHour, MaxBytes) have no
// default here: main gives config.toml's.
const (
	defaultShards            = 8
	defaultTTL               = 24 * time.Hour
	defaultBrowsers          = 2
	defaultTabsPerBrowser    = 2
	defaultMaxQueue          = 1000
	defaultQueueTimeout      = 10 * time.Second
	defaultRendersPerBrowser = 200
	defaultMaxBrowserAge     = time.Hour
	defaultMaxBrowserRSS     = 1 << 30
	defaultLivenessInterval  = 5 * time.Second
	defaultLivenessTimeout   = 5 * time.Second
	defaultEvictInterval     = 5 * time.Second
	defaultSitemapsInterval  = 6 * time.Hour
	defaultSitemapTimeout    = 2 * time.Minute
)

// Config is what the actor tree needs from config.toml.
type Config struct {
	Shards int           // cache.shards; default 8
	TTL    time.Duration // cache.ttl; default 24h
	// StaleWhileRevalidate: how long past its TTL a page is still served
	// (STALE) while a priority recache runs (cache.stale_while_revalidate).
	// 0: none, a page past its TTL is rendered again at once.
	StaleWhileRevalidate time.Duration
	Browsers             int           // render.browsers; default 2
	TabsPerBrowser       int           // render.tabs_per_browser; default 2
	MaxQueue             int           // renders waiting for a tab; past it ErrOverloaded; default 1000
	QueueTimeout         time.Duration // longest wait of a live render for a tab; past it ErrOverloaded; default 10s
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
	// NoMarkdown turns off the Markdown renditions of stored pages
	// (render.markdown = false); by default every stored page gets one.
	NoMarkdown bool
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
	// Cluster is [cluster]: off by default (cluster.go).
	Cluster ClusterConfig
	// OnRender, when set, is called once per finished render (state.go), on
	// the render actor's goroutine: it must not block (the analytics hook of
	// issue 14).
	OnRender func(RenderEvent)
	Logger   *slog.Logger
	// Clock is time.Now unless a test needs another.
	Clock func() time.Time
}

// EnsureDefaults fills the zero fields with their defaults, and hands the
// options the parts share (the logger, the tabs per browser, the egress
// policy) to the parts.
func (c *Config) EnsureDefaults() {
	setDefault(&c.Shards, defaultShards)
	setDefault(&c.TTL, defaultTTL)
	setDefault(&c.Browsers, defaultBrowsers)
	setDefault(&c.TabsPerBrowser, defaultTabsPerBrowser)
	setDefault(&c.MaxQueue, defaultMaxQueue)
	setDefault(&c.QueueTimeout, defaultQueueTimeout)
	setDefault(&c.RendersPerBrowser, defaultRendersPerBrowser)
	setDefault(&c.MaxBrowserAge, defaultMaxBrowserAge)
	setDefault(&c.MaxBrowserRSS, defaultMaxBrowserRSS)
	setDefault(&c.LivenessInterval, defaultLivenessInterval)
	setDefault(&c.LivenessTimeout, defaultLivenessTimeout)
	setDefault(&c.HitFlushEvery, hitFlushEvery)
	setDefault(&c.EvictInterval, defaultEvictInterval)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.Sitemaps.EnsureDefaults()
	if c.Cluster.Enabled {
		c.Cluster.EnsureDefaults()
	}
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

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate names the first field that cannot work. Call it after
// EnsureDefaults: a zero that has a default is an error here.
func (c *Config) Validate() error {
	positive := []struct {
		name string
		v    int64
	}{
		{"Shards", int64(c.Shards)}, {"TTL", int64(c.TTL)}, {"Browsers", int64(c.Browsers)},
		{"TabsPerBrowser", int64(c.TabsPerBrowser)}, {"MaxQueue", int64(c.MaxQueue)},
		{"QueueTimeout", int64(c.QueueTimeout)}, {"RendersPerBrowser", int64(c.RendersPerBrowser)},
		{"MaxBrowserAge", int64(c.MaxBrowserAge)}, {"MaxBrowserRSS", c.MaxBrowserRSS},
		{"LivenessInterval", int64(c.LivenessInterval)}, {"LivenessTimeout", int64(c.LivenessTimeout)},
		{"HitFlushEvery", int64(c.HitFlushEvery)}, {"EvictInterval", int64(c.EvictInterval)},
		{"Sitemaps.Interval", int64(c.Sitemaps.Interval)}, {"Sitemaps.FileTimeout", int64(c.Sitemaps.FileTimeout)},
	}
	for _, f := range positive {
		if f.v <= 0 {
			return fmt.Errorf("invalid Config.%s %d: must be positive", f.name, f.v)
		}
	}
	switch {
	case c.StaleWhileRevalidate < 0:
		return fmt.Errorf("invalid Config.StaleWhileRevalidate %s: must not be negative", c.StaleWhileRevalidate)
	case !(c.ReservedLive >= 0 && c.ReservedLive <= 1):
		return fmt.Errorf("invalid Config.ReservedLive %v: must be a share between 0 and 1", c.ReservedLive)
	case !validRecacheSpeed(c.RecacheURLsPerHour):
		return fmt.Errorf("invalid Config.RecacheURLsPerHour %d: %w", c.RecacheURLsPerHour, ErrBadRecacheSpeed)
	case c.MaxBytes < 0:
		return fmt.Errorf("invalid Config.MaxBytes %d: must not be negative", c.MaxBytes)
	}
	if err := cachekey.CheckVariants(c.Sitemaps.Variants); err != nil {
		return fmt.Errorf("invalid Config.Sitemaps.Variants: %w", err)
	}
	if err := c.Cluster.Validate(); err != nil {
		return err
	}
	if err := c.Browser.Validate(); err != nil {
		return fmt.Errorf("invalid Config.Browser: %w", err)
	}
	if err := c.MobileDevice.Validate(); err != nil {
		return fmt.Errorf("invalid Config.MobileDevice: %w", err)
	}
	if c.Logger == nil || c.Clock == nil {
		return errors.New("invalid Config: Logger and Clock are set by EnsureDefaults; call it first")
	}
	return nil
}
