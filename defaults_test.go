package main

import (
	"fmt"
	"testing"

	"prerenderd/actors"
)

// config.toml is the one source of each default; actors.Config.EnsureDefaults
// and browser.Options.EnsureDefaults give the same values to a program that
// starts the appliance without a config file (the tests, a Go embedder), so a
// default changed in one place and not the other fails here.
func TestTheDefaultsOfConfigTOMLAreTheAppliancesDefaults(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	fromFile := actorsConfig(cfg, "", "127.0.0.1:0", nil, nil)
	fromFile.EnsureDefaults()
	var zero actors.Config
	zero.EnsureDefaults()
	for _, f := range []struct {
		name       string
		file, zero any
	}{
		{"cache.shards", fromFile.Shards, zero.Shards},
		{"cache.ttl", fromFile.TTL, zero.TTL},
		{"render.max_queue", fromFile.MaxQueue, zero.MaxQueue},
		{"render.queue_timeout", fromFile.QueueTimeout, zero.QueueTimeout},
		{"render.renders_per_browser", fromFile.RendersPerBrowser, zero.RendersPerBrowser},
		{"render.max_browser_age", fromFile.MaxBrowserAge, zero.MaxBrowserAge},
		{"render.max_browser_rss", fromFile.MaxBrowserRSS, zero.MaxBrowserRSS},
		{"render.mobile_viewport", fromFile.MobileDevice, zero.MobileDevice},
		{"sitemaps.interval", fromFile.Sitemaps.Interval, zero.Sitemaps.Interval},
		{"render.page_timeout", fromFile.Browser.PageTimeout, zero.Browser.PageTimeout},
		{"render.idle_window", fromFile.Browser.IdleWindow, zero.Browser.IdleWindow},
		{"render.max_html_bytes", fromFile.Browser.MaxHTMLBytes, zero.Browser.MaxHTMLBytes},
		{"render.block", fmt.Sprint(fromFile.Browser.Block), fmt.Sprint(zero.Browser.Block)},
		{"render.markdown", fromFile.NoMarkdown, zero.NoMarkdown},
	} {
		if f.file != f.zero {
			t.Errorf("%s: config.toml says %v, the appliance's default is %v", f.name, f.file, f.zero)
		}
	}
	// render.browsers and render.tabs_per_browser default to "auto": the shape
	// is the machine's (poolshape.go), not a number actors.Config could share.
	// actors.Config's own 2 x 2 is for a program that sets neither.
	b, tabs, _ := autoShape(cfg.Machine, 0, 0)
	if cfg.Browsers != b || cfg.TabsPerBrowser != tabs {
		t.Errorf("render.browsers, render.tabs_per_browser: config.toml gives %d x %d, \"auto\" on this machine is %d x %d", cfg.Browsers, cfg.TabsPerBrowser, b, tabs)
	}
}
