package main

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"prerenderd/actors"
	"prerenderd/browser"
	"prerenderd/cachekey"
	"prerenderd/netguard"
)

//go:embed config.toml
var defaultConfigTOML string

// fileConfig mirrors config.toml key for key. Durations and sizes stay strings here
// so that a bad value can be reported with the name of its key.
type fileConfig struct {
	Server struct {
		Listen          string   `toml:"listen"`
		Tokens          []string `toml:"tokens"`
		LogFormat       string   `toml:"log_format"`
		LogLevel        string   `toml:"log_level"`
		ShutdownTimeout string   `toml:"shutdown_timeout"`
		WriteTimeout    string   `toml:"write_timeout"`
	} `toml:"server"`
	Storage struct {
		Dir        string `toml:"dir"`
		BlockCache string `toml:"block_cache"`
		HotCache   string `toml:"hot_cache"`
		MinFree    string `toml:"min_free"`
		MaxBytes   string `toml:"max_bytes"`
	} `toml:"storage"`
	Cache struct {
		Shards               int    `toml:"shards"`
		TTL                  string `toml:"ttl"`
		StaleWhileRevalidate string `toml:"stale_while_revalidate"`
		StripQuery           string `toml:"strip_query"`
	} `toml:"cache"`
	Render struct {
		Browsers       poolSize `toml:"browsers"`
		TabsPerBrowser poolSize `toml:"tabs_per_browser"`
		PageTimeout    string   `toml:"page_timeout"`
		IdleWindow     string   `toml:"idle_window"`
		Block          []string `toml:"block"`
		BlockURLs      []string `toml:"block_urls"`
		MaxQueue       int      `toml:"max_queue"`
		QueueTimeout   string   `toml:"queue_timeout"`
		ReservedLive   float64  `toml:"reserved_live"`
		RendersPer     int      `toml:"renders_per_browser"`
		MaxBrowserAge  string   `toml:"max_browser_age"`
		MaxBrowserRSS  string   `toml:"max_browser_rss"`
		Chromium       string   `toml:"chromium"`
		UserAgent      string   `toml:"user_agent"`

		Variants       []string `toml:"variants"`
		MobileViewport string   `toml:"mobile_viewport"`
		MaxHTMLBytes   string   `toml:"max_html_bytes"`
		TimeoutStatus  int      `toml:"timeout_status"`
		Markdown       bool     `toml:"markdown"`
	} `toml:"render"`
	Recache struct {
		URLsPerHour int `toml:"urls_per_hour"`
	} `toml:"recache"`
	Security struct {
		AllowHosts     []string `toml:"allow_hosts"`
		AllowPrivate   bool     `toml:"allow_private"`
		AllowAddresses []string `toml:"allow_addresses"`
	} `toml:"security"`
	Sitemaps struct {
		Interval string `toml:"interval"`
	} `toml:"sitemaps"`
	Analytics struct {
		Enabled       bool   `toml:"enabled"`
		FlushInterval string `toml:"flush_interval"`
	} `toml:"analytics"`
	Cluster struct {
		Enabled        bool     `toml:"enabled"`
		Name           string   `toml:"name"`
		Node           string   `toml:"node"`
		Provider       string   `toml:"provider"`
		EtcdEndpoints  []string `toml:"etcd_endpoints"`
		Bind           string   `toml:"bind"`
		Advertise      string   `toml:"advertise"`
		VirtualShards  int      `toml:"virtual_shards"`
		ForwardTimeout string   `toml:"forward_timeout"`
		FailoverWait   string   `toml:"failover_wait"`
		Lease          string   `toml:"lease"`
	} `toml:"cluster"`
	Sites []struct {
		Host     string   `toml:"host"`
		Sitemaps []string `toml:"sitemaps"`
		Robots   bool     `toml:"robots"`
		Variants []string `toml:"variants"`
	} `toml:"sites"`
}

// Config is the checked configuration the rest of main hands out.
type Config struct {
	Listen          string
	Tokens          []string
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
	WriteTimeout    time.Duration

	StorageDir string
	BlockCache int64
	HotCache   int64 // 0: off
	MinFree    int64
	MaxBytes   int64

	Shards               int
	TTL                  time.Duration
	StaleWhileRevalidate time.Duration
	StripQuery           cachekey.StripMode

	RecacheURLsPerHour int

	// Browsers and TabsPerBrowser are the pool's shape, "auto" resolved for
	// Machine; PoolShape says how it was chosen.
	Browsers       int
	TabsPerBrowser int
	PoolShape      string
	Machine        machine
	PageTimeout    time.Duration
	IdleWindow     time.Duration
	Block          []string
	BlockURLs      []string
	MaxQueue       int
	QueueTimeout   time.Duration
	ReservedLive   float64
	RendersPer     int
	MaxBrowserAge  time.Duration
	MaxBrowserRSS  int64
	Chromium       string
	UserAgent      string

	// Variants are rendered and cached separately (render.variants); a
	// request's User-Agent picks one. MobileDevice is the phone of the mobile
	// variant (render.mobile_viewport).
	Variants      []string
	MobileDevice  browser.Device
	MaxHTMLBytes  int64
	TimeoutStatus int
	// Markdown: each stored page gets its Markdown rendition, answered to
	// Accept: text/markdown (render.markdown).
	Markdown bool

	AllowHosts   []string
	AllowPrivate bool
	// Policy is the address rule of security.allow_private and
	// security.allow_addresses, built once for every check.
	Policy *netguard.Policy

	SitemapInterval time.Duration
	Sites           []actors.Site

	Analytics           bool
	AnalyticsFlushEvery time.Duration

	// Cluster is [cluster], checked; Cluster.Enabled false leaves the rest unused.
	Cluster actors.ClusterConfig
}

// loadConfig reads the embedded default, then the file at path (when not empty) on top
// of it, so a user's file only needs the keys it changes.
func loadConfig(path string) (*Config, error) {
	var fc fileConfig
	if _, err := decodeStrict(defaultConfigTOML, &fc); err != nil {
		return nil, fmt.Errorf("embedded default config: %w", err)
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read config %q: %w", path, err)
		}
		if _, err := decodeStrict(string(data), &fc); err != nil {
			return nil, fmt.Errorf("config %q: %w", path, err)
		}
	}
	return fc.check()
}

func decodeStrict(data string, fc *fileConfig) (toml.MetaData, error) {
	md, err := toml.Decode(data, fc)
	if err != nil {
		return md, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return md, fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	}
	return md, nil
}

func (fc *fileConfig) check() (*Config, error) {
	c := &Config{
		Listen:        fc.Server.Listen,
		Tokens:        fc.Server.Tokens,
		LogFormat:     fc.Server.LogFormat,
		LogLevel:      fc.Server.LogLevel,
		StorageDir:    fc.Storage.Dir,
		Shards:        fc.Cache.Shards,
		Block:         fc.Render.Block,
		BlockURLs:     fc.Render.BlockURLs,
		MaxQueue:      fc.Render.MaxQueue,
		ReservedLive:  fc.Render.ReservedLive,
		RendersPer:    fc.Render.RendersPer,
		Chromium:      fc.Render.Chromium,
		UserAgent:     fc.Render.UserAgent,
		TimeoutStatus: fc.Render.TimeoutStatus,
		AllowHosts:    fc.Security.AllowHosts,
		AllowPrivate:  fc.Security.AllowPrivate,
	}
	var errs []error
	dur := func(key, s string, min time.Duration) time.Duration {
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: bad duration %q (want e.g. \"500ms\", \"15s\", \"24h\")", key, s))
			return 0
		}
		if d < min {
			errs = append(errs, fmt.Errorf("%s: %s is below the minimum %s", key, d, min))
		}
		return d
	}
	size := func(key, s string) int64 {
		n, err := parseSize(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		return n
	}
	positive := func(key string, n int) {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be at least 1, got %d", key, n))
		}
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		errs = append(errs, fmt.Errorf("%s: %q is not one of %s", key, v, strings.Join(allowed, ", ")))
	}

	c.ShutdownTimeout = dur("server.shutdown_timeout", fc.Server.ShutdownTimeout, 0)
	c.WriteTimeout = dur("server.write_timeout", fc.Server.WriteTimeout, 100*time.Millisecond)
	c.BlockCache = size("storage.block_cache", fc.Storage.BlockCache)
	c.HotCache = size("storage.hot_cache", fc.Storage.HotCache)
	c.MinFree = size("storage.min_free", fc.Storage.MinFree)
	c.MaxBytes = size("storage.max_bytes", fc.Storage.MaxBytes)
	c.TTL = dur("cache.ttl", fc.Cache.TTL, time.Second)
	c.StaleWhileRevalidate = dur("cache.stale_while_revalidate", fc.Cache.StaleWhileRevalidate, 0)
	c.RecacheURLsPerHour = fc.Recache.URLsPerHour
	if n := c.RecacheURLsPerHour; n != 0 && (n < actors.MinRecacheSpeed || n > actors.MaxRecacheSpeed) {
		errs = append(errs, fmt.Errorf("recache.urls_per_hour: %d is not 0 (automatic) or %d-%d", n, actors.MinRecacheSpeed, actors.MaxRecacheSpeed))
	}
	c.PageTimeout = dur("render.page_timeout", fc.Render.PageTimeout, 100*time.Millisecond)
	c.IdleWindow = dur("render.idle_window", fc.Render.IdleWindow, 10*time.Millisecond)
	c.QueueTimeout = dur("render.queue_timeout", fc.Render.QueueTimeout, 0)
	c.MaxBrowserAge = dur("render.max_browser_age", fc.Render.MaxBrowserAge, time.Minute)
	c.MaxBrowserRSS = size("render.max_browser_rss", fc.Render.MaxBrowserRSS)
	c.MaxHTMLBytes = size("render.max_html_bytes", fc.Render.MaxHTMLBytes)
	if c.MaxHTMLBytes < minMaxHTMLBytes {
		errs = append(errs, fmt.Errorf("render.max_html_bytes: %d bytes is below the minimum %d", c.MaxHTMLBytes, minMaxHTMLBytes))
	}
	if n := c.TimeoutStatus; n != 200 && (n < 500 || n > 599) {
		errs = append(errs, fmt.Errorf("render.timeout_status: %d is neither 200 (the snapshot) nor a 5xx", n))
	}

	if c.Listen == "" {
		errs = append(errs, errors.New("server.listen: must not be empty"))
	}
	oneOf("server.log_format", c.LogFormat, "json", "text")
	oneOf("server.log_level", c.LogLevel, "debug", "info", "warn", "error")
	if c.StorageDir == "" {
		errs = append(errs, errors.New("storage.dir: must not be empty"))
	}
	positive("cache.shards", c.Shards)
	if !fc.Render.Browsers.auto {
		positive("render.browsers", fc.Render.Browsers.n)
	}
	if !fc.Render.TabsPerBrowser.auto {
		positive("render.tabs_per_browser", fc.Render.TabsPerBrowser.n)
	}
	c.Machine = thisMachine()
	c.Browsers, c.TabsPerBrowser, c.PoolShape = autoShape(c.Machine, max(fc.Render.Browsers.n, 0), max(fc.Render.TabsPerBrowser.n, 0))
	positive("render.max_queue", c.MaxQueue)
	positive("render.renders_per_browser", c.RendersPer)
	if c.MaxBrowserRSS > 0 && c.MaxBrowserRSS < 64<<20 {
		errs = append(errs, fmt.Errorf("render.max_browser_rss: %d bytes is below the 64MiB an idle Chromium needs", c.MaxBrowserRSS))
	}
	if !(c.ReservedLive >= 0 && c.ReservedLive <= 1) {
		errs = append(errs, fmt.Errorf("render.reserved_live: %v is not a share between 0 and 1", c.ReservedLive))
	}
	if m, err := cachekey.ParseStripMode(fc.Cache.StripQuery); err != nil {
		errs = append(errs, fmt.Errorf("cache.strip_query: %w", err))
	} else {
		c.StripQuery = m
	}
	for _, b := range c.Block {
		oneOf("render.block", b, "image", "media", "font", "stylesheet")
	}
	if strings.ContainsAny(c.UserAgent, "\r\n\x00") {
		errs = append(errs, errors.New("render.user_agent: must be one line"))
	}
	for _, t := range c.Tokens {
		if strings.TrimSpace(t) == "" {
			errs = append(errs, errors.New("server.tokens: a token must not be empty"))
		}
	}
	c.Variants = fc.Render.Variants
	if err := cachekey.CheckVariants(c.Variants); err != nil {
		errs = append(errs, fmt.Errorf("render.variants: %w", err))
	}
	if d, err := browser.ParseViewport(fc.Render.MobileViewport); err != nil {
		errs = append(errs, fmt.Errorf("render.mobile_viewport: %w", err))
	} else {
		c.MobileDevice = d
	}
	if p, err := netguard.NewPolicy(fc.Security.AllowPrivate, fc.Security.AllowAddresses); err != nil {
		errs = append(errs, fmt.Errorf("security.%w", err))
	} else {
		c.Policy = p
	}
	c.SitemapInterval = dur("sitemaps.interval", fc.Sitemaps.Interval, time.Minute)
	c.Markdown = fc.Render.Markdown
	c.Analytics = fc.Analytics.Enabled
	c.AnalyticsFlushEvery = dur("analytics.flush_interval", fc.Analytics.FlushInterval, 100*time.Millisecond)
	if c.AnalyticsFlushEvery > time.Minute {
		errs = append(errs, fmt.Errorf("analytics.flush_interval: %s is above the maximum 1m (a kill -9 loses up to one interval)", c.AnalyticsFlushEvery))
	}
	for i, site := range fc.Sites {
		key := fmt.Sprintf("sites[%d]", i)
		if site.Host == "" {
			errs = append(errs, fmt.Errorf("%s.host: must not be empty", key))
		} else if strings.Contains(site.Host, "://") {
			if u, err := url.Parse(site.Host); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				errs = append(errs, fmt.Errorf("%s.host: %q is neither a host nor a scheme://host[:port]", key, site.Host))
			}
		} else if strings.ContainsAny(site.Host, "/ ") {
			errs = append(errs, fmt.Errorf("%s.host: %q is not a host name", key, site.Host))
		}
		for _, m := range site.Sitemaps {
			if u, err := url.Parse(m); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s.sitemaps: %q is not an http(s) URL", key, m))
			}
		}
		if len(site.Sitemaps) == 0 && !site.Robots {
			errs = append(errs, fmt.Errorf("%s: no sitemaps and robots = false: nothing to read for %q", key, site.Host))
		}
		if site.Variants != nil {
			if err := cachekey.CheckVariants(site.Variants); err != nil {
				errs = append(errs, fmt.Errorf("%s.variants: %w", key, err))
			}
			for _, v := range site.Variants {
				if !slices.Contains(c.Variants, v) {
					errs = append(errs, fmt.Errorf("%s.variants: %q is not in render.variants, so no crawler would be served it", key, v))
				}
			}
		}
		c.Sites = append(c.Sites, actors.Site{Host: strings.TrimSuffix(site.Host, "/"), Sitemaps: site.Sitemaps, Robots: site.Robots, Variants: site.Variants})
	}
	c.Cluster = actors.ClusterConfig{
		Enabled: fc.Cluster.Enabled, Name: fc.Cluster.Name, Node: fc.Cluster.Node, Provider: fc.Cluster.Provider,
		EtcdEndpoints: fc.Cluster.EtcdEndpoints, Bind: fc.Cluster.Bind, Advertise: fc.Cluster.Advertise,
		VirtualShards:  fc.Cluster.VirtualShards,
		ForwardTimeout: dur("cluster.forward_timeout", fc.Cluster.ForwardTimeout, time.Second),
		FailoverWait:   dur("cluster.failover_wait", fc.Cluster.FailoverWait, 100*time.Millisecond),
		Lease:          dur("cluster.lease", fc.Cluster.Lease, 2*time.Second),
	}
	if c.Cluster.Lease%time.Second != 0 {
		errs = append(errs, fmt.Errorf("cluster.lease: %s is not whole seconds (an etcd lease's TTL)", c.Cluster.Lease))
	}
	if c.Cluster.Enabled {
		errs = append(errs, checkCluster(fc.Cluster.Provider, &c.Cluster)...)
	}
	if c.PageTimeout > 0 && c.IdleWindow >= c.PageTimeout {
		errs = append(errs, fmt.Errorf("render.idle_window: %s must be shorter than render.page_timeout %s", c.IdleWindow, c.PageTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCluster checks [cluster] when it is enabled, naming the key of each
// bad value (actors.ClusterConfig.Validate checks the same with its field
// names, for callers other than main).
func checkCluster(provider string, cc *actors.ClusterConfig) []error {
	var errs []error
	if cc.Name == "" || strings.ContainsAny(cc.Name, "/ \t\r\n") {
		errs = append(errs, fmt.Errorf("cluster.name: %q must be a non-empty word (no '/' or spaces): it is the etcd key of the cluster", cc.Name))
	}
	if strings.ContainsAny(cc.Node, "\r\n\x00") {
		errs = append(errs, errors.New("cluster.node: must be one line"))
	}
	if provider != "etcd" {
		errs = append(errs, fmt.Errorf("cluster.provider: %q is not \"etcd\" (the provider built in)", provider))
	}
	if len(cc.EtcdEndpoints) == 0 {
		errs = append(errs, errors.New("cluster.etcd_endpoints: the etcd provider needs at least one \"host:port\""))
	}
	for _, e := range cc.EtcdEndpoints {
		if _, _, err := net.SplitHostPort(e); err != nil {
			errs = append(errs, fmt.Errorf("cluster.etcd_endpoints: %q is not host:port", e))
		}
	}
	if _, _, err := net.SplitHostPort(cc.Bind); err != nil {
		errs = append(errs, fmt.Errorf("cluster.bind: %q is not host:port", cc.Bind))
	}
	if cc.Advertise != "" {
		if h, _, err := net.SplitHostPort(cc.Advertise); err != nil || h == "" {
			errs = append(errs, fmt.Errorf("cluster.advertise: %q is not host:port", cc.Advertise))
		}
	}
	if cc.VirtualShards < 1 || cc.VirtualShards > 65536 {
		errs = append(errs, fmt.Errorf("cluster.virtual_shards: %d is not between 1 and 65536", cc.VirtualShards))
	}
	if len(errs) > 0 {
		return errs
	}
	// What only the whole can tell (an advertise address others cannot dial).
	check := *cc
	check.EnsureDefaults()
	if err := check.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("cluster: %w", err))
	}
	return errs
}

// minMaxHTMLBytes is the smallest render.max_html_bytes (browser.Options
// refuses less: even a plain page would not fit).
const minMaxHTMLBytes = 1 << 10

var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// parseSize reads "64MiB", "1.5GiB", "500MB" or a bare number of bytes.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("bad size %q (want e.g. \"64MiB\", \"10GiB\")", s)
	}
	return int64(f * mult), nil
}
