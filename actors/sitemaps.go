package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"prerenderd/actors/sitemap"
	"prerenderd/cachekey"
	"prerenderd/netguard"
	"prerenderd/storage"
)

// SitemapsConfig configures the sitemaps actor.
type SitemapsConfig struct {
	// Interval between polls of every sitemap (sitemaps.interval); default 6h.
	Interval time.Duration
	// Sites are the [[sites]] of config.toml.
	Sites []Site
	// StripQuery normalizes sitemap URLs into cache keys, as requests are.
	StripQuery cachekey.StripMode
	// AllowHosts (security.allow_hosts) are hosts whose URLs are taken from any
	// sitemap, besides the sitemap's own site.
	AllowHosts []string
	// policy is Config.Egress.Policy: sitemaps are fetched by the address rule of
	// every connection Chromium makes.
	policy *netguard.Policy
	// Resolver replaces DNS in the private-address check (tests).
	Resolver netguard.Resolver
	// FileTimeout bounds the fetch and read of one file; default 2m.
	FileTimeout time.Duration
	// Limits per file; zero fields are the protocol's (50,000 URLs, 50 MB).
	Limits sitemap.Limits
	// Variants are the variants warmed for the URLs of a site that names none,
	// and of sitemaps added through the API: render.variants; default desktop.
	Variants []string
}

// Site is one [[sites]] table.
type Site struct {
	// Host is the site: "shop.example", or with a scheme ("http://127.0.0.1:8080")
	// when robots.txt is not on https and port 443. URLs on it are taken from its
	// sitemaps.
	Host     string
	Sitemaps []string
	// Robots: also read the Sitemap: lines of the site's robots.txt on each poll.
	Robots bool
	// Variants are the variants each URL is queued for ([[sites]] variants);
	// empty is SitemapsConfig.Variants.
	Variants []string
}

// EnsureDefaults fills the zero fields with their defaults (Config.Validate
// checks them).
func (c *SitemapsConfig) EnsureDefaults() {
	setDefault(&c.Interval, defaultSitemapsInterval)
	setDefault(&c.FileTimeout, defaultSitemapTimeout)
	if c.StripQuery == "" {
		c.StripQuery = cachekey.StripTracking
	}
	if len(c.Variants) == 0 {
		c.Variants = []string{cachekey.Desktop}
	}
}

// maxIndexDepth is how deep sitemap indexes may nest: an index read at a depth
// past it (the root file is depth 1) is refused.
const maxIndexDepth = 3

// queueBatch is how many URLs go to the priority queue at once.
const queueBatch = 500

// progressEvery is how often (in URLs of one file) a progress line is logged.
const progressEvery = 10_000

// Errors of a sitemap read, besides the parser's.
var (
	errIndexTooDeep = fmt.Errorf("sitemap index nested deeper than %d levels", maxIndexDepth)
	errQueue        = errors.New("cannot queue sitemap URLs")
)

// sitemapRoot is where one poll starts: a sitemap, or a robots.txt whose Sitemap:
// lines are read.
type sitemapRoot struct {
	URL    string
	Host   string // URLs on this host (host[:port]) are taken
	Robots bool
	Source string // "config", "robots" or "api"
	// Variants are the variants every URL taken is queued for; empty is
	// SitemapsConfig.Variants.
	Variants []string
}

// queueItem is one URL the poller hands to the priority queue.
type queueItem struct {
	Key string
	URL string
}

// sitemapMetrics are the sitemaps' counters, in the appliance's set.
type sitemapMetrics struct {
	polls      *metrics.Counter
	found      *metrics.Counter
	queued     *metrics.Counter
	skipped    map[string]*metrics.Counter
	fetches    map[string]*metrics.Counter
	readErrors *metrics.Counter
}

func newSitemapMetrics(s *metrics.Set) sitemapMetrics {
	m := sitemapMetrics{
		polls:      s.NewCounter("prerender_sitemap_polls_total"),
		found:      s.NewCounter("prerender_sitemap_urls_found_total"),
		queued:     s.NewCounter("prerender_sitemap_urls_queued_total"),
		readErrors: s.NewCounter("prerender_sitemap_read_errors_total"),
		skipped:    map[string]*metrics.Counter{},
		fetches:    map[string]*metrics.Counter{},
	}
	for _, r := range []string{"unchanged", "off_host", "bad_url"} {
		m.skipped[r] = s.NewCounter(`prerender_sitemap_urls_skipped_total{reason="` + r + `"}`)
	}
	for _, r := range []string{"ok", "not_modified", "error"} {
		m.fetches[r] = s.NewCounter(`prerender_sitemap_fetches_total{result="` + r + `"}`)
	}
	return m
}

// sitemapPoller reads sitemaps and queues their new and changed URLs. It is plain
// Go, run by the sitemaps actor in a goroutine; it writes no state itself but hands
// each file's state to save, which the actor turns into a message (only the
// actor writes s/ keys).
type sitemapPoller struct {
	store      *storage.Store
	client     *http.Client
	guard      netguard.Guard // private-address check of every fetch
	hostGuard  netguard.Guard // security.allow_hosts, without DNS
	allowHosts bool
	strip      cachekey.StripMode
	variants   []string // of a root that names none
	limits     sitemap.Limits
	timeout    time.Duration
	queue      func(context.Context, []queueItem) error
	save       func(url string, st storage.SitemapState)
	log        *slog.Logger
	m          *sitemapMetrics
	clock      func() time.Time
}

func newSitemapPoller(cfg SitemapsConfig, store *storage.Store, log *slog.Logger, m *sitemapMetrics, clock func() time.Time) *sitemapPoller {
	return &sitemapPoller{
		store:      store,
		client:     newSitemapClient(cfg),
		guard:      netguard.Guard{Policy: cfg.policy, Resolver: cfg.Resolver},
		hostGuard:  netguard.Guard{AllowHosts: cfg.AllowHosts, Policy: netguard.Everything},
		allowHosts: len(cfg.AllowHosts) > 0,
		strip:      cfg.StripQuery,
		variants:   cfg.Variants,
		limits:     cfg.Limits,
		timeout:    cfg.FileTimeout,
		log:        log,
		m:          m,
		clock:      clock,
	}
}

// newSitemapClient fetches with the renders' address rule enforced where it
// cannot be fooled: on the address actually dialled (a DNS answer that changes
// between the check and the dial, or a redirect to 127.0.0.1, is refused too). No
// proxy from the environment: through a proxy the dialled address would be the
// proxy's.
func newSitemapClient(cfg SitemapsConfig) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: cfg.policy.Control}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return nil
		},
	}
}

// pollRun is one poll of one root.
type pollRun struct {
	root    sitemapRoot
	visited map[string]bool
	batch   []queueItem
	found   int
	queued  int
	skipped int
}

// poll reads one root and everything it leads to. It returns an error only when it
// had to stop (the queue refused, storage failed, ctx ended); a bad file is logged,
// recorded in its state and skipped.
func (p *sitemapPoller) poll(ctx context.Context, root sitemapRoot) error {
	start := time.Now()
	if len(root.Variants) == 0 {
		root.Variants = p.variants
	}
	run := &pollRun{root: root, visited: map[string]bool{}}
	p.m.polls.Inc()
	var err error
	if root.Robots {
		err = p.readRobots(ctx, run)
	} else {
		err = p.readFile(ctx, run, root.URL, 1, nil)
	}
	if err == nil {
		err = p.flush(ctx, run)
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
	}
	p.log.Log(ctx, level, "sitemap poll done", "root", root.URL, "source", root.Source, "files", len(run.visited),
		"found", run.found, "queued", run.queued, "skipped", run.skipped, "err", err, "duration", time.Since(start))
	return err
}

func (p *sitemapPoller) readRobots(ctx context.Context, run *pollRun) error {
	u := run.root.URL
	resp, err := p.get(ctx, u, storage.SitemapState{})
	if err != nil {
		p.log.Warn("robots.txt not read", "url", u, "err", err)
		return ctx.Err()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.log.Warn("robots.txt not read", "url", u, "status", resp.StatusCode)
		return nil
	}
	maps, err := sitemap.RobotsSitemaps(resp.Body)
	if err != nil {
		p.log.Warn("robots.txt read in part", "url", u, "err", err)
	}
	p.log.Info("robots.txt read", "url", u, "sitemaps", len(maps))
	for _, m := range maps {
		if err := p.readFile(ctx, run, m, 1, nil); err != nil {
			return err
		}
	}
	return nil
}

// get fetches u after the private-address check, with the validators of st.
func (p *sitemapPoller) get(ctx context.Context, u string, st storage.SitemapState) (*http.Response, error) {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", u)
	}
	if err := p.guard.Check(ctx, pu); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "prerenderd-sitemaps/1")
	if st.ETag != "" {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	return p.client.Do(req)
}

// readFile reads one sitemap file at depth (the root is 1) and, for an index, the
// files it lists. ancestors are the indexes above it, to tell a loop from a file
// two indexes share.
func (p *sitemapPoller) readFile(ctx context.Context, run *pollRun, u string, depth int, ancestors []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if run.visited[u] {
		if slices.Contains(ancestors, u) {
			p.m.readErrors.Inc()
			p.log.Error("sitemap index loop", "url", u, "via", ancestors[len(ancestors)-1], "root", run.root.URL)
		}
		return nil
	}
	run.visited[u] = true
	start := time.Now()
	prev, err := p.store.GetSitemap(u)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.log.Warn("sitemap state unreadable, reading the file whole", "url", u, "err", err)
		prev = storage.SitemapState{}
	}
	st := prev
	st.PolledAt = p.clock()
	fctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := p.get(fctx, u, prev)
	if err != nil {
		p.m.fetches["error"].Inc()
		p.log.Error("sitemap fetch failed", "url", u, "err", err)
		st.LastError = err.Error()
		p.save(u, st)
		return ctx.Err()
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		p.m.fetches["not_modified"].Inc()
		st.LastError = ""
		p.save(u, st)
		p.log.Info("sitemap not modified", "url", u, "kind", st.Kind, "urls", st.URLs)
		if st.Kind == sitemap.KindIndex.String() {
			return p.readChildren(ctx, run, u, st.Children, depth, ancestors)
		}
		return nil
	case http.StatusOK:
	default:
		p.m.fetches["error"].Inc()
		p.log.Error("sitemap fetch failed", "url", u, "status", resp.StatusCode)
		st.LastError = fmt.Sprintf("answered %d", resp.StatusCode)
		p.save(u, st)
		return nil
	}
	p.m.fetches["ok"].Inc()
	var children []string
	queuedBefore := run.queued
	stats, perr := sitemap.Parse(resp.Body, p.limits, func(k sitemap.Kind, e sitemap.Entry) error {
		if k == sitemap.KindIndex {
			if depth > maxIndexDepth {
				return errIndexTooDeep
			}
			children = append(children, e.Loc)
			return nil
		}
		if err := p.take(ctx, run, e); err != nil {
			return err
		}
		if n := run.found; n%progressEvery == 0 {
			p.log.Info("sitemap progress", "url", u, "found", n, "queued", run.queued, "skipped", run.skipped)
		}
		return nil
	})
	st.Kind, st.URLs, st.Children = stats.Kind.String(), stats.Entries, nil
	if stats.Kind == sitemap.KindIndex {
		st.Children = children
	}
	if perr != nil && (errors.Is(perr, errQueue) || errors.Is(perr, context.Canceled)) {
		return perr
	}
	if perr != nil {
		// Keep what was read (it is queued already); no validators, so the next
		// poll reads the whole file again.
		p.m.readErrors.Inc()
		p.log.Error("sitemap read stopped", "url", u, "kind", st.Kind, "entries_kept", stats.Entries,
			"bytes", stats.Bytes, "err", perr)
		st.ETag, st.LastModified, st.LastError = "", "", perr.Error()
	} else {
		st.ETag, st.LastModified, st.LastError = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), ""
	}
	p.save(u, st)
	p.log.Info("sitemap read", "url", u, "kind", st.Kind, "entries", stats.Entries, "bytes", stats.Bytes,
		"gzip", stats.Gzip, "queued", run.queued-queuedBefore, "depth", depth, "duration", time.Since(start))
	if stats.Kind == sitemap.KindIndex {
		return p.readChildren(ctx, run, u, children, depth, ancestors)
	}
	return nil
}

func (p *sitemapPoller) readChildren(ctx context.Context, run *pollRun, u string, children []string, depth int, ancestors []string) error {
	ancestors = append(slices.Clip(ancestors), u)
	for _, c := range children {
		cu, err := url.Parse(c)
		if err != nil || !p.hostOK(ctx, run.root.Host, cu) {
			p.m.readErrors.Inc()
			p.log.Warn("sitemap skipped: not on the site's host nor in security.allow_hosts", "url", c, "index", u, "site", run.root.Host)
			continue
		}
		if err := p.readFile(ctx, run, c, depth+1, ancestors); err != nil {
			return err
		}
	}
	return nil
}

// take queues one URL of a urlset, for each variant of the root, when it is new
// or when its lastmod is newer than the stored render of that variant.
func (p *sitemapPoller) take(ctx context.Context, run *pollRun, e sitemap.Entry) error {
	run.found++
	p.m.found.Inc()
	// The page is rendered at its URL as the sitemap lists it and stored under
	// its normalized key, as a crawler's request for it would be.
	load, err := cachekey.Load(e.Loc, p.strip)
	var u *url.URL
	if err == nil {
		u, err = cachekey.Normalize(load.String(), p.strip)
	}
	if err != nil {
		run.skipped++
		p.m.skipped["bad_url"].Inc()
		return nil
	}
	if !p.hostOK(ctx, run.root.Host, u) {
		run.skipped++
		p.m.skipped["off_host"].Inc()
		return nil
	}
	for _, variant := range run.root.Variants {
		key := cachekey.Key(variant, u)
		sum, err := p.store.Summary(key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return err
		case !e.LastMod.IsZero() && e.LastMod.After(sum.RenderedAt):
		default:
			run.skipped++
			p.m.skipped["unchanged"].Inc()
			continue
		}
		run.batch = append(run.batch, queueItem{Key: key, URL: load.String()})
		if len(run.batch) >= queueBatch {
			if err := p.flush(ctx, run); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *sitemapPoller) flush(ctx context.Context, run *pollRun) error {
	if len(run.batch) == 0 {
		return nil
	}
	if err := p.queue(ctx, run.batch); err != nil {
		return fmt.Errorf("%w: %w", errQueue, err)
	}
	run.queued += len(run.batch)
	p.m.queued.Add(len(run.batch))
	run.batch = run.batch[:0]
	return nil
}

// hostOK: a URL is taken from a site's sitemaps when it is on the site's own host,
// or on a host of security.allow_hosts.
func (p *sitemapPoller) hostOK(ctx context.Context, site string, u *url.URL) bool {
	if strings.EqualFold(u.Host, site) {
		return true
	}
	return p.allowHosts && p.hostGuard.Check(ctx, u) == nil
}
