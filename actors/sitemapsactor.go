package actors

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/storage"
)

// sitemapsActor polls the sitemaps of config.toml's [[sites]] (and their
// robots.txt), and those added with POST /sitemap, every Interval, and feeds new and
// changed URLs to the priority queue. One poll runs at a time, in a goroutine the
// appliance owns; the actor keeps the schedule and writes the poll state.
type sitemapsActor struct {
	app     *Appliance
	poller  *sitemapPoller
	config  []sitemapRoot   // from [[sites]]
	added   map[string]bool // added through the API, persisted in s/
	running bool
	// Asked for while a poll ran: a poll of everything, or of these roots.
	pendingAll   bool
	pendingRoots []sitemapRoot
	timer        *time.Timer
}

func newSitemapsActor(a *Appliance) *sitemapsActor {
	cfg := a.cfg.Sitemaps
	p := newSitemapPoller(cfg, a.store, a.log, &a.metrics.sitemap, a.cfg.Clock)
	p.queue = a.queueSitemapURLs
	s := &sitemapsActor{app: a, poller: p, added: map[string]bool{}}
	for _, site := range cfg.Sites {
		scheme, host := siteHost(site.Host)
		for _, u := range site.Sitemaps {
			s.config = append(s.config, sitemapRoot{URL: u, Host: host, Source: "config", Variants: site.Variants})
		}
		if site.Robots {
			s.config = append(s.config, sitemapRoot{URL: scheme + "://" + host + "/robots.txt", Host: host, Robots: true, Source: "robots", Variants: site.Variants})
		}
	}
	return s
}

// siteHost splits [[sites]] host: "shop.example" is https, "http://h:8080" says
// its scheme and port.
func siteHost(h string) (scheme, host string) {
	if u, err := url.Parse(h); err == nil && u.Scheme != "" && u.Host != "" {
		return strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	}
	return "https", strings.ToLower(h)
}

func (s *sitemapsActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.loadAdded()
		self, root := ctx.Self(), s.app.system.Root
		s.poller.save = func(u string, st storage.SitemapState) {
			root.Send(self, &sitemapPolled{URL: u, State: st})
		}
		ctx.Send(ctx.Self(), &pollSitemaps{})
	case *pollSitemaps:
		s.start(ctx, nil, true)
	case *addSitemap:
		s.add(ctx, m)
	case *sitemapPolled:
		m.State.Added = s.added[m.URL]
		// A synced write of a small value per file per poll: rare, and this actor's
		// mailbox serves nothing else.
		if err := s.app.store.PutSitemap(m.URL, m.State); err != nil {
			s.app.log.Error("cannot store sitemap state", "url", m.URL, "err", err)
		}
	case *sitemapsPolled:
		s.running = false
		if m.All {
			self := ctx.Self()
			root := s.app.system.Root
			s.timer = time.AfterFunc(s.app.cfg.Sitemaps.Interval, func() { root.Send(self, &pollSitemaps{}) })
		}
		switch {
		case s.pendingAll:
			s.pendingAll, s.pendingRoots = false, nil
			s.start(ctx, nil, true)
		case len(s.pendingRoots) > 0:
			roots := s.pendingRoots
			s.pendingRoots = nil
			s.start(ctx, roots, false)
		}
	case *actor.Restarting, *actor.Stopping:
		// It holds no waiter: an added sitemap is answered in the Receive that
		// takes it. A restart polls again.
		if s.timer != nil {
			s.timer.Stop()
		}
	}
}

// loadAdded reads the sitemaps added through the API from s/: a read of a few
// small values at start.
func (s *sitemapsActor) loadAdded() {
	err := s.app.store.ScanSitemaps(func(u string, st storage.SitemapState, err error) bool {
		if err != nil {
			s.app.log.Error("sitemap state unreadable", "url", u, "err", err)
			return true
		}
		if st.Added {
			s.added[u] = true
		}
		return true
	})
	if err != nil {
		s.app.log.Error("cannot read sitemap states", "err", err)
	}
}

func (s *sitemapsActor) roots() []sitemapRoot {
	roots := append([]sitemapRoot(nil), s.config...)
	for u := range s.added {
		roots = append(roots, apiRoot(u))
	}
	return roots
}

// apiRoot is a sitemap added through the API: its URLs are taken on its own
// host, for the default variants.
func apiRoot(u string) sitemapRoot {
	host := ""
	if pu, err := url.Parse(u); err == nil {
		host = pu.Host
	}
	return sitemapRoot{URL: u, Host: host, Source: "api"}
}

func (s *sitemapsActor) add(ctx actor.Context, m *addSitemap) {
	if !s.added[m.URL] {
		st, err := s.app.store.GetSitemap(m.URL)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			st = storage.SitemapState{}
		}
		st.Added = true
		if err := s.app.store.PutSitemap(m.URL, st); err != nil {
			m.Reply <- fmt.Errorf("cannot add sitemap %q: %w", m.URL, err)
			return
		}
		s.added[m.URL] = true
		s.app.log.Info("sitemap added", "url", m.URL)
	}
	m.Reply <- nil
	s.start(ctx, []sitemapRoot{apiRoot(m.URL)}, false)
}

// start runs a poll of roots (every root when all) unless one runs; then it is
// remembered and runs next.
func (s *sitemapsActor) start(ctx actor.Context, roots []sitemapRoot, all bool) {
	if s.running {
		if all {
			s.pendingAll = true
		} else {
			s.pendingRoots = append(s.pendingRoots, roots...)
		}
		return
	}
	if all {
		roots = s.roots()
	}
	// In a cluster every member knows every sitemap and polls those it owns:
	// each is fetched once per interval across the cluster, and a member that
	// comes to own one (another left) polls it from its next interval.
	roots = slices.DeleteFunc(roots, func(r sitemapRoot) bool { return !s.app.pollsSitemap(r.URL) })
	if len(roots) == 0 {
		if all {
			// Nothing to poll yet: look again at the next interval (an added
			// sitemap is polled when added).
			self, root := ctx.Self(), s.app.system.Root
			s.timer = time.AfterFunc(s.app.cfg.Sitemaps.Interval, func() { root.Send(self, &pollSitemaps{}) })
		}
		return
	}
	self, sys, p := ctx.Self(), s.app.system.Root, s.poller
	started := s.app.goBackground(func(bg context.Context) {
		defer sys.Send(self, &sitemapsPolled{All: all})
		for _, r := range roots {
			if err := p.poll(bg, r); err != nil && bg.Err() != nil {
				return
			}
		}
	})
	s.running = started
}

// AddSitemap adds a sitemap to poll (POST /sitemap): it is persisted, polled at
// once in the background, then every sitemaps.interval. u must be a normalized,
// checked http(s) URL; its URLs are taken when on its host (or allow_hosts).
func (a *Appliance) AddSitemap(ctx context.Context, u string) error {
	if a.stopping.Load() {
		return ErrStopping
	}
	pid := a.sitemaps.Load()
	if pid == nil {
		return ErrStopping
	}
	reply := make(chan error, 1)
	a.system.Root.Send(pid, &addSitemap{URL: u, Reply: reply})
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SitemapInfo is one known sitemap file and its last poll.
type SitemapInfo struct {
	URL   string
	State storage.SitemapState
}

// Sitemaps lists every sitemap file known (added, configured or reached through an
// index or robots.txt that has been polled), in URL order.
func (a *Appliance) Sitemaps() ([]SitemapInfo, error) {
	var out []SitemapInfo
	err := a.store.ScanSitemaps(func(u string, st storage.SitemapState, err error) bool {
		if err == nil {
			out = append(out, SitemapInfo{URL: u, State: st})
		}
		return true
	})
	return out, err
}
