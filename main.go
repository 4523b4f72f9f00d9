// Command prerenderd renders JavaScript pages for crawlers and serves them from a
// cache. main reads like its start-up script: flags, config, storage, actors, HTTP,
// wait for a signal, then stop in reverse order, each step logged with its duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"prerenderd/actors"
	"prerenderd/analytics"
	"prerenderd/browser"
	"prerenderd/crawlers"
	"prerenderd/egress"
	"prerenderd/httpfront"
	"prerenderd/httpfront/client"
	"prerenderd/storage"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "cache":
			// `prerenderd cache …` is a client of a running appliance, not a start-up.
			os.Exit(client.Main(os.Args[2:], defaultListen(), os.Stdout, os.Stderr))
		case "crawlers":
			// `prerenderd crawlers` prints the crawler list for configs and scripts.
			os.Exit(crawlers.Main(os.Args[2:], os.Stdout, os.Stderr))
		case "version":
			fmt.Print(currentBuild())
			return
		}
	}
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `usage: prerenderd [flags]        start the appliance
       prerenderd cache <command>  ls, purge or recache on a running appliance (prerenderd cache -h)
       prerenderd crawlers [-format text|json|nginx|caddy|regex]  print the crawler list
       prerenderd version          print the version, commit and Go version

flags:
`)
		flag.PrintDefaults()
	}
	configPath := flag.String("config", "", "path to a config.toml; its keys override the embedded default")
	printConfig := flag.Bool("print-config", false, "print the embedded default config.toml and exit")
	showVersion := flag.Bool("version", false, "print the version, commit and Go version and exit")
	flag.Parse()
	switch {
	case *showVersion:
		fmt.Print(currentBuild())
		return
	case *printConfig:
		fmt.Print(defaultConfigTOML)
		return
	case flag.Arg(0) == "help":
		flag.CommandLine.SetOutput(os.Stdout)
		flag.Usage()
		return
	case flag.NArg() > 0:
		fmt.Fprintf(os.Stderr, "prerenderd: unknown command %q: the commands are cache and version, the rest are flags (prerenderd -h)\n", flag.Arg(0))
		os.Exit(2)
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "prerenderd: %v\n", err)
		os.Exit(2)
	}
	log := newLogger(cfg)
	build := currentBuild()
	source := *configPath
	if source == "" {
		source = "embedded default"
	}
	log.Info("starting prerenderd", "version", build.Version, "commit", build.Commit, "modified", build.Modified,
		"go", build.GoVersion, "config", source)
	if err := run(cfg, log, build); err != nil {
		log.Error("prerenderd stopped with an error", "err", err)
		if stderrIsTerminal() {
			// The JSON line above is for log collectors; a person at a terminal gets
			// the message as a sentence too.
			fmt.Fprintf(os.Stderr, "\nprerenderd: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(cfg *Config, log *slog.Logger, build buildDesc) error {
	startedAt := time.Now()

	chromium, err := browser.FindChromium(cfg.Chromium)
	if err != nil {
		return err
	}
	log.Info("found chromium", "path", chromium)
	log.Info("pool shape", "browsers", cfg.Browsers, "tabs_per_browser", cfg.TabsPerBrowser, "tabs", cfg.Browsers*cfg.TabsPerBrowser,
		"why", cfg.PoolShape, "cpus", cfg.Machine.CPUs, "memory_mib", cfg.Machine.Memory>>20)

	t := time.Now()
	store, err := storage.Open(storage.Options{
		Dir:          cfg.StorageDir,
		BlockCache:   cfg.BlockCache,
		HotCache:     hotCache(cfg.HotCache),
		MaxBytes:     cfg.MaxBytes,
		MinFreeBytes: cfg.MinFree,
		Logger:       log,
	})
	if err != nil {
		if errors.Is(err, storage.ErrLocked) {
			return fmt.Errorf("%w: stop that process first, or set storage.dir to another directory for this one", err)
		}
		return err
	}
	log.Info("opened storage", "dir", cfg.StorageDir, "pages", store.PageCount(), "ms", time.Since(t).Milliseconds())
	defer func() {
		t := time.Now()
		if err := store.Close(); err != nil {
			log.Error("closing storage", "err", err)
		}
		log.Info("closed storage", "ms", time.Since(t).Milliseconds())
	}()

	var stats *analytics.Recorder // nil: analytics.enabled = false
	if cfg.Analytics {
		t = time.Now()
		hosts := make([]string, len(cfg.Sites))
		for i, site := range cfg.Sites {
			hosts[i] = site.Host
		}
		stats, err = analytics.Open(analytics.Options{Sites: hosts, FlushInterval: cfg.AnalyticsFlushEvery, Logger: log}, store)
		if err != nil {
			return fmt.Errorf("cannot start analytics: %w", err)
		}
		log.Info("started analytics", "sites", len(hosts), "flush_interval", cfg.AnalyticsFlushEvery.String(), "ms", time.Since(t).Milliseconds())
		defer func() {
			t := time.Now()
			if err := stats.Close(); err != nil {
				log.Error("closing analytics", "err", err)
			}
			log.Info("stopped analytics", "ms", time.Since(t).Milliseconds())
		}()
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %q: another process listens there: stop it, or set server.listen to another address: %w", cfg.Listen, err)
		}
		return fmt.Errorf("cannot listen on %q (server.listen): %w", cfg.Listen, err)
	}

	t = time.Now()
	app, err := actors.Start(actorsConfig(cfg, chromium, ln.Addr().String(), httpfront.RenderHook(stats), log), store)
	if err != nil {
		ln.Close()
		return err
	}
	log.Info("started actors", "shards", cfg.Shards, "browsers", cfg.Browsers, "tabs_per_browser", cfg.TabsPerBrowser, "ms", time.Since(t).Milliseconds())

	front := httpfront.New(httpfront.Config{
		Listen:     ln.Addr().String(),
		Tokens:     cfg.Tokens,
		StripQuery: cfg.StripQuery,
		AllowHosts: cfg.AllowHosts,
		Policy:     cfg.Policy,
		Logger:     log,
		Version:    build.Version,
		Commit:     build.Commit,
		Variants:   cfg.Variants,

		TimeoutStatus: cfg.TimeoutStatus,
		WriteTimeout:  cfg.WriteTimeout,
		Analytics:     stats,
		Store:         store,
	}, app)
	if cfg.Cluster.Enabled {
		t = time.Now()
		if err := app.JoinCluster(front); err != nil {
			ln.Close()
			return errors.Join(err, app.Stop(context.Background()))
		}
		log.Info("joined cluster", "cluster", cfg.Cluster.Name, "ms", time.Since(t).Milliseconds())
	}
	failed := app.Serve(front.Listener(ln))
	log.Info("listening", "addr", ln.Addr().String())

	readyCtx, stopReady := context.WithCancel(context.Background())
	defer stopReady()
	go announceReady(readyCtx, app, log, ln.Addr().String(), startedAt)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	var runErr error
	select {
	case s := <-sigs:
		log.Info("stopping", "signal", s.String(), "deadline", cfg.ShutdownTimeout.String())
	case err := <-failed:
		runErr = fmt.Errorf("http server: %w", err)
	}
	signal.Stop(sigs)
	stopReady()

	t = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := app.Stop(ctx); err != nil {
		log.Warn("stopped actors with errors", "err", err)
	}
	log.Info("stopped http, renders, actors and chromium", "ms", time.Since(t).Milliseconds())
	return runErr
}

// defaultListen is server.listen of the embedded config: where `prerenderd cache`
// looks for the appliance unless told otherwise.
func defaultListen() string {
	if c, err := loadConfig(""); err == nil {
		return c.Listen
	}
	return "127.0.0.1:3000"
}

// announceReady logs once when the first browser answers, with a command to try.
func announceReady(ctx context.Context, app *actors.Appliance, log *slog.Logger, addr string, since time.Time) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := app.Ready(c)
		cancel()
		if err == nil {
			try := fmt.Sprintf("curl -i http://%s/http://%s/demo/", addr, addr)
			log.Info("ready", "ms_since_start", time.Since(since).Milliseconds(), "try", try)
			if stderrIsTerminal() {
				fmt.Fprint(os.Stderr, readyBanner(addr, try))
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// readyBanner is the ready line in plain words, for a person who just typed make run.
func readyBanner(addr, try string) string {
	return fmt.Sprintf("\nprerenderd is ready on http://%s\n  try it:  %s\n  (run it twice: MISS, then HIT; Ctrl-C stops it)\n\n", addr, try)
}

// stderrIsTerminal: the log is JSON for collectors, and a person at a terminal gets
// a few plain lines on top. A pipe or a file gets the log alone.
func stderrIsTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newLogger(cfg *Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// actorsConfig is what the actor tree gets of the configuration: listen is
// the HTTP listener (the one address a page may load, for the demo), onRender
// the analytics hook (nil when analytics are off).
func actorsConfig(cfg *Config, chromium, listen string, onRender func(actors.RenderEvent), log *slog.Logger) actors.Config {
	return actors.Config{
		Shards:               cfg.Shards,
		TTL:                  cfg.TTL,
		StaleWhileRevalidate: cfg.StaleWhileRevalidate,
		Browsers:             cfg.Browsers,
		TabsPerBrowser:       cfg.TabsPerBrowser,
		MaxQueue:             cfg.MaxQueue,
		QueueTimeout:         cfg.QueueTimeout,
		ReservedLive:         cfg.ReservedLive,
		RendersPerBrowser:    cfg.RendersPer,
		MaxBrowserAge:        cfg.MaxBrowserAge,
		MaxBrowserRSS:        cfg.MaxBrowserRSS,
		MaxBytes:             cfg.MaxBytes,
		RecacheURLsPerHour:   cfg.RecacheURLsPerHour,
		Sitemaps: actors.SitemapsConfig{
			Interval:   cfg.SitemapInterval,
			Sites:      cfg.Sites,
			StripQuery: cfg.StripQuery,
			AllowHosts: cfg.AllowHosts,
			Variants:   cfg.Variants,
		},
		Egress: egress.Options{
			Policy: cfg.Policy,
			Self:   listen,
		},
		MobileDevice: cfg.MobileDevice,
		NoMarkdown:   !cfg.Markdown,
		Browser: browser.Options{
			Path:        chromium,
			UserAgent:   cfg.UserAgent,
			IdleWindow:  cfg.IdleWindow,
			PageTimeout: cfg.PageTimeout,
			Block:       cfg.Block,
			BlockURLs:   cfg.BlockURLs,

			MaxHTMLBytes: cfg.MaxHTMLBytes,
		},
		Cluster:  cfg.Cluster,
		OnRender: onRender,
		Logger:   log,
	}
}

// hotCache is storage.hot_cache for storage.Options, where 0 means the default:
// "0" in config.toml turns the cache off.
func hotCache(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}
