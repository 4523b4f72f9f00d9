package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"prerenderd/browser"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTheEmbeddedDefaultLoads(t *testing.T) {
	c, err := loadConfig("")
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	if c.Listen != "127.0.0.1:3000" || c.PageTimeout != 15*time.Second || c.IdleWindow != 200*time.Millisecond || c.BlockCache != 64<<20 || c.MaxBytes != 10<<30 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.MaxHTMLBytes != 8<<20 || c.TimeoutStatus != 200 || c.WriteTimeout != 10*time.Second {
		t.Fatalf("unexpected hardening defaults: max_html_bytes %d, timeout_status %d, write_timeout %s", c.MaxHTMLBytes, c.TimeoutStatus, c.WriteTimeout)
	}
}

func TestVariantsAndTheMobileViewportAreConfigured(t *testing.T) {
	c, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Variants, []string{"desktop", "mobile"}) || c.MobileDevice != browser.DefaultMobileDevice {
		t.Fatalf("default variants %q, mobile device %+v", c.Variants, c.MobileDevice)
	}
	c, err = loadConfig(writeConfig(t, "[render]\nvariants = [\"desktop\"]\nmobile_viewport = \"360x800@3\"\n[[sites]]\nhost = \"a.example\"\nrobots = true\nvariants = [\"desktop\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := browser.Device{Width: 360, Height: 800, Scale: 3, Mobile: true}
	if !slices.Equal(c.Variants, []string{"desktop"}) || c.MobileDevice != want || !slices.Equal(c.Sites[0].Variants, []string{"desktop"}) {
		t.Fatalf("variants %q, mobile device %+v, site variants %q", c.Variants, c.MobileDevice, c.Sites[0].Variants)
	}
}

func TestAFileOverridesOnlyTheKeysItSets(t *testing.T) {
	c, err := loadConfig(writeConfig(t, "[render]\nbrowsers = 3\n[storage]\nblock_cache = \"1.5GiB\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	// tabs_per_browser stays the default, "auto": spread over the 3 browsers.
	_, wantTabs, _ := autoShape(c.Machine, 3, 0)
	if c.Browsers != 3 || c.BlockCache != 3<<29 || c.TabsPerBrowser != wantTabs {
		t.Fatalf("got browsers=%d block_cache=%d tabs=%d, want tabs=%d", c.Browsers, c.BlockCache, c.TabsPerBrowser, wantTabs)
	}
}

func TestTheRenderUserAgentIsRead(t *testing.T) {
	c, err := loadConfig(writeConfig(t, "[render]\nuser_agent = \"Mozilla/5.0 (X11) Chrome/150 Prerender (shop)\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.UserAgent != "Mozilla/5.0 (X11) Chrome/150 Prerender (shop)" {
		t.Fatalf("render.user_agent = %q", c.UserAgent)
	}
	if d, _ := loadConfig(""); d.UserAgent != "" {
		t.Fatalf("the default render.user_agent is %q, want \"\" (Chromium's own plus the Prerender suffix)", d.UserAgent)
	}
}

func TestAllowAddressesLetsExactlyItsAddressesThrough(t *testing.T) {
	c, err := loadConfig(writeConfig(t, "[security]\nallow_addresses = [\"10.1.2.3:8080\", \"192.168.0.0/24\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for addr, allowed := range map[string]bool{
		"10.1.2.3:8080": true, "10.1.2.3:8081": false, "192.168.0.9:443": true, "192.168.1.9:443": false,
		"127.0.0.1:8080": false, "169.254.169.254:80": false, "93.184.216.34:443": true,
	} {
		if err := c.Policy.Allowed(netip.MustParseAddrPort(addr)); (err == nil) != allowed {
			t.Errorf("%s: allowed = %v, want %v", addr, err == nil, allowed)
		}
	}
	def, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if def.Policy.Allowed(netip.MustParseAddrPort("127.0.0.1:3000")) == nil {
		t.Error("the default config lets loopback through")
	}
}

func TestBadConfigIsRefusedNamingTheKey(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"an unknown key", "[render]\nbrowsrs = 2\n", "render.browsrs"},
		{"an unknown table", "[rendering]\nbrowsers = 2\n", "rendering"},
		{"a bad duration", "[render]\npage_timeout = \"15 parsecs\"\n", "render.page_timeout"},
		{"a duration without a unit", "[cache]\nttl = \"24\"\n", "cache.ttl"},
		{"a bad size", "[storage]\nblock_cache = \"lots\"\n", "storage.block_cache"},
		{"a negative size", "[storage]\nmin_free = \"-1MiB\"\n", "storage.min_free"},
		{"a bad cache bound", "[storage]\nmax_bytes = \"ten gigs\"\n", "storage.max_bytes"},
		{"a bad sitemap interval", "[sitemaps]\ninterval = \"often\"\n", "sitemaps.interval"},
		{"a sitemap interval under a minute", "[sitemaps]\ninterval = \"5s\"\n", "sitemaps.interval"},
		{"a site without host", "[[sites]]\nsitemaps = [\"https://a.example/s.xml\"]\n", "sites[0].host"},
		{"a site host with a path", "[[sites]]\nhost = \"a.example/shop\"\nrobots = true\n", "sites[0].host"},
		{"a sitemap that is not a URL", "[[sites]]\nhost = \"a.example\"\nsitemaps = [\"sitemap.xml\"]\n", "sites[0].sitemaps"},
		{"a site with nothing to read", "[[sites]]\nhost = \"a.example\"\n", "sites[0]"},
		{"an unknown site key", "[[sites]]\nhost = \"a.example\"\nrobot = true\n", "sites.robot"},
		{"zero browsers", "[render]\nbrowsers = 0\n", "render.browsers"},
		{"an unknown strip mode", "[cache]\nstrip_query = \"some\"\n", "cache.strip_query"},
		{"an unknown log format", "[server]\nlog_format = \"xml\"\n", "server.log_format"},
		{"an allowed address that is a host name", "[security]\nallow_addresses = [\"10.1.2.3:8080\", \"intranet.example:80\"]\n", "security.allow_addresses[1]"},
		{"an allowed address with port 0", "[security]\nallow_addresses = [\"10.1.2.3:0\"]\n", "security.allow_addresses[0]"},
		{"an allowed network with a bad mask", "[security]\nallow_addresses = [\"192.168.0.0/33\"]\n", "security.allow_addresses[0]"},
		{"an unknown resource type", "[render]\nblock = [\"video\"]\n", "render.block"},
		{"an idle window longer than the timeout", "[render]\nidle_window = \"20s\"\n", "render.idle_window"},
		{"zero renders per browser", "[render]\nrenders_per_browser = 0\n", "render.renders_per_browser"},
		{"a browser age without a unit", "[render]\nmax_browser_age = \"60\"\n", "render.max_browser_age"},
		{"a browser age under a minute", "[render]\nmax_browser_age = \"10s\"\n", "render.max_browser_age"},
		{"a bad memory limit", "[render]\nmax_browser_rss = \"much\"\n", "render.max_browser_rss"},
		{"a memory limit too small for Chromium", "[render]\nmax_browser_rss = \"1MiB\"\n", "render.max_browser_rss"},
		{"a negative live share", "[render]\nreserved_live = -0.1\n", "render.reserved_live"},
		{"a live share over one", "[render]\nreserved_live = 1.5\n", "render.reserved_live"},
		{"a value of the wrong type", "[render]\nbrowsers = \"two\"\n", "browsers"},
		{"a user agent of two lines", "[render]\nuser_agent = \"Bot\\r\\nX-Evil: 1\"\n", "render.user_agent"},
		{"an unknown variant", "[render]\nvariants = [\"tablet\"]\n", "render.variants"},
		{"no variant", "[render]\nvariants = []\n", "render.variants"},
		{"a variant named twice", "[render]\nvariants = [\"mobile\", \"mobile\"]\n", "render.variants"},
		{"a mobile viewport without a height", "[render]\nmobile_viewport = \"412\"\n", "render.mobile_viewport"},
		{"a mobile viewport of zero width", "[render]\nmobile_viewport = \"0x915\"\n", "render.mobile_viewport"},
		{"a mobile viewport with a bad scale", "[render]\nmobile_viewport = \"412x915@big\"\n", "render.mobile_viewport"},
		{"a site warming a variant that is not rendered", "[render]\nvariants = [\"desktop\"]\n[[sites]]\nhost = \"a.example\"\nrobots = true\nvariants = [\"mobile\"]\n", "sites[0].variants"},
		{"a site with an unknown variant", "[[sites]]\nhost = \"a.example\"\nrobots = true\nvariants = [\"tv\"]\n", "sites[0].variants"},
		{"a bad document cap", "[render]\nmax_html_bytes = \"big\"\n", "render.max_html_bytes"},
		{"a document cap under a KiB", "[render]\nmax_html_bytes = \"100B\"\n", "render.max_html_bytes"},
		{"a timeout status that is not an answer", "[render]\ntimeout_status = 101\n", "render.timeout_status"},
		{"a timeout status of a client error", "[render]\ntimeout_status = 404\n", "render.timeout_status"},
		{"a write timeout without a unit", "[server]\nwrite_timeout = \"10\"\n", "server.write_timeout"},
		{"broken TOML", "[render\n", "toml"},
		{"a cluster without etcd", "[cluster]\nenabled = true\netcd_endpoints = []\n", "cluster.etcd_endpoints"},
		{"an etcd endpoint without a port", "[cluster]\nenabled = true\netcd_endpoints = [\"etcd.example\"]\n", "cluster.etcd_endpoints"},
		{"an unknown cluster provider", "[cluster]\nenabled = true\nprovider = \"consul\"\n", "cluster.provider"},
		{"a cluster name with a slash", "[cluster]\nenabled = true\nname = \"a/b\"\n", "cluster.name"},
		{"a bind address without a port", "[cluster]\nenabled = true\nbind = \"10.0.0.1\"\n", "cluster.bind"},
		{"an unspecified address others cannot dial", "[cluster]\nenabled = true\nbind = \"0.0.0.0:7946\"\n", "cluster"},
		{"an advertise address without a host", "[cluster]\nenabled = true\nadvertise = \":7946\"\n", "cluster.advertise"},
		{"zero virtual shards", "[cluster]\nenabled = true\nvirtual_shards = 0\n", "cluster.virtual_shards"},
		{"a forward timeout without a unit", "[cluster]\nforward_timeout = \"60\"\n", "cluster.forward_timeout"},
		{"a lease of a fraction of a second", "[cluster]\nlease = \"2500ms\"\n", "cluster.lease"},
		{"a lease under two seconds", "[cluster]\nlease = \"1s\"\n", "cluster.lease"},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			_, err := loadConfig(writeConfig(t, tc.body))
			if err == nil {
				t.Fatalf("config %q was accepted", tc.body)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

func TestTheClusterIsOffByDefaultAndReadWhenOn(t *testing.T) {
	c, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.Enabled || c.Cluster.VirtualShards != 256 || c.Cluster.Lease != 5*time.Second {
		t.Fatalf("default [cluster] = %+v", c.Cluster)
	}
	c, err = loadConfig(writeConfig(t, "[cluster]\nenabled = true\nnode = \"render-1\"\netcd_endpoints = [\"10.0.0.5:2379\"]\nbind = \"0.0.0.0:7946\"\nadvertise = \"10.0.0.11:7946\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Cluster.Enabled || c.Cluster.Node != "render-1" || c.Cluster.Advertise != "10.0.0.11:7946" || c.Cluster.EtcdEndpoints[0] != "10.0.0.5:2379" {
		t.Fatalf("[cluster] read as %+v", c.Cluster)
	}
}

func TestSitesAndSitemapsAreRead(t *testing.T) {
	c, err := loadConfig(writeConfig(t, "[sitemaps]\ninterval = \"30m\"\n[[sites]]\nhost = \"shop.example\"\nsitemaps = [\"https://shop.example/sitemap.xml\", \"https://cdn.example/s.xml.gz\"]\n[[sites]]\nhost = \"http://blog.example:8080\"\nrobots = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.SitemapInterval != 30*time.Minute || len(c.Sites) != 2 || len(c.Sites[0].Sitemaps) != 2 || !c.Sites[1].Robots || c.Sites[1].Host != "http://blog.example:8080" {
		t.Fatalf("got interval %s, sites %+v", c.SitemapInterval, c.Sites)
	}
	d, err := loadConfig("")
	if err != nil || d.SitemapInterval != 6*time.Hour || len(d.Sites) != 0 {
		t.Fatalf("default: %v %s %d sites", err, d.SitemapInterval, len(d.Sites))
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "64MiB": 64 << 20, "10GiB": 10 << 30, "1KB": 1000, "2 MiB": 2 << 20, "100B": 100} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func FuzzLoadConfig(f *testing.F) {
	f.Add(defaultConfigTOML)
	f.Add("[render]\nbrowsers = 2\n")
	f.Add("[storage]\nblock_cache = \"1e300GiB\"\n")
	f.Fuzz(func(t *testing.T, body string) {
		var fc fileConfig
		if _, err := decodeStrict(defaultConfigTOML, &fc); err != nil {
			t.Fatal(err)
		}
		if _, err := decodeStrict(body, &fc); err != nil {
			return
		}
		_, _ = fc.check() // must not panic, whatever the input
	})
}
