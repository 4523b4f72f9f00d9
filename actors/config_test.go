package actors

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidateNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"negative shards", func(c *Config) { c.Shards = -1 }, "Config.Shards"},
		{"a negative TTL", func(c *Config) { c.TTL = -time.Second }, "Config.TTL"},
		{"a negative stale window", func(c *Config) { c.StaleWhileRevalidate = -time.Second }, "Config.StaleWhileRevalidate"},
		{"negative browsers", func(c *Config) { c.Browsers = -2 }, "Config.Browsers"},
		{"negative tabs", func(c *Config) { c.TabsPerBrowser = -1 }, "Config.TabsPerBrowser"},
		{"a share of live tabs above 1", func(c *Config) { c.ReservedLive = 1.5 }, "Config.ReservedLive"},
		{"a share of live tabs below 0", func(c *Config) { c.ReservedLive = -0.1 }, "Config.ReservedLive"},
		{"a recache speed out of range", func(c *Config) { c.RecacheURLsPerHour = 100 }, "Config.RecacheURLsPerHour"},
		{"a negative cache bound", func(c *Config) { c.MaxBytes = -1 }, "Config.MaxBytes"},
		{"an unknown sitemap variant", func(c *Config) { c.Sitemaps.Variants = []string{"tablet"} }, "Config.Sitemaps.Variants"},
		{"a page timeout shorter than the idle window", func(c *Config) {
			c.Browser.PageTimeout, c.Browser.IdleWindow = time.Second, 2*time.Second
		}, "Config.Browser"},
		{"a mobile viewport of no width", func(c *Config) { c.MobileDevice.Width = -1 }, "Config.MobileDevice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			tc.mutate(&c)
			c.EnsureDefaults()
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

func TestTheZeroConfigIsValidOnceDefaulted(t *testing.T) {
	var c Config
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Browsers != 2 || c.Shards != 8 || c.TTL != 24*time.Hour {
		t.Fatalf("defaults: %d browsers, %d shards, TTL %s", c.Browsers, c.Shards, c.TTL)
	}
}
