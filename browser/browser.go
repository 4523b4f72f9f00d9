package browser

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

const (
	// openTimeout bounds opening a tab ahead of time, when no caller's
	// context does: a browser that cannot open a tab in this time is sick.
	openTimeout = 10 * time.Second

	// gracefulClose bounds Browser.close; past it the process is killed.
	gracefulClose = 2 * time.Second

	// maxSocketPath is the size of sun_path, NUL included, and
	// singletonSuffix what Chromium adds to TMPDIR for its singleton socket.
	maxSocketPath   = 108
	singletonSuffix = "/org.chromium.Chromium.XXXXXX/SingletonSocket"

	// bindingName is the page-side function the ready script reports
	// window.prerenderReady through. js/ready.js uses the same name.
	bindingName = "__prerenderdReady"

	// rendersPerTab bounds the renders one tab serves before it is closed
	// and a fresh one (a fresh browser context) replaces it: a renderer
	// process that served many pages keeps some of their memory.
	rendersPerTab = 20

	// resetTimeout bounds clearing a tab for its next render; past it the
	// tab is closed instead.
	resetTimeout = 5 * time.Second

	// workerGrace bounds the wait for a service worker whose registration
	// resetTab just cleared: Chromium stops it soon after, not at once (seen: 1
	// reset in 15 still listed it).
	workerGrace = time.Second
)

//go:embed js/ready.js
var readyJS string

// Browser is one Chromium process that renders up to Options.Tabs pages at
// once.
type Browser struct {
	opts      Options
	log       *slog.Logger
	path      string
	root      string   // holds dataDir and Chromium's TMPDIR, removed on Close
	dataDir   string   // --user-data-dir
	userAgent string   // default User-Agent of a render
	blocked   []string // Network.setBlockedURLs patterns

	// mobileUserAgent is the default User-Agent of a render on a Mobile
	// device: userAgent's Chrome on an Android phone.
	mobileUserAgent string

	// ctx is the chromedp browser context. INVARIANT: it has no deadline; its
	// end kills Chromium.
	ctx          context.Context
	cancelParent context.CancelFunc // ends ctx without waiting
	waitBrowser  context.CancelFunc // chromedp's cancel: returns once the process is reaped
	cancelAlloc  context.CancelFunc
	cdp          *chromedp.Browser
	pid          int
	lost         <-chan struct{} // closed when the CDP connection is gone

	slots chan struct{} // one token per running render
	// ready holds tabs waiting for a render: opened ahead of time, or reset
	// after a render. It has room for Options.Tabs.
	ready chan *tab
	// wake gets a token (if it has room) whenever keepReady may have to open a
	// tab: a slot was freed, a ready tab taken, a tab closed for good.
	wake      chan struct{}
	resetting atomic.Int32 // tabs being reset: they will be ready soon
	// resetEnded gets a token (if it has room) whenever a reset ends.
	resetEnded chan struct{}
	// closingCtx ends when Close starts; closing is its Done channel.
	closingCtx  context.Context
	stopClosing context.CancelFunc
	closing     <-chan struct{}
	done        chan struct{} // closed when the process exited or the connection was lost

	mu     sync.Mutex
	closed bool // INVARIANT: once set under mu, renders.Add is never called again

	renders sync.WaitGroup // running Render calls
	keeper  sync.WaitGroup // the goroutine that keeps a tab ready
	closers sync.WaitGroup // tabs being closed
	watcher sync.WaitGroup // the goroutine that closes done

	closeOnce sync.Once
	closeErr  error
}

// tab is one page target in a browser context of its own. It serves up to
// rendersPerTab renders, its context cleared between two (resetTab).
type tab struct {
	ctx      context.Context    // chromedp context of the tab; ends when the tab is closed
	cancel   context.CancelFunc // starts closing the tab and disposing of its browser context
	wait     context.CancelFunc // chromedp's cancel: returns once the tab is closed
	target   *chromedp.Target
	context  cdp.BrowserContextID
	detached <-chan struct{}
	// crashed is set when the tab's renderer crashes (a renderer process can
	// take several tabs down with it).
	crashed atomic.Bool
	// requested is set by a render once the tab asked for its document.
	requested bool
	// origins are those of every document of the last render (all frames).
	origins []string
	renders int // renders served, set by the render that holds the tab
	// device is the screen the tab emulates (nil: Chromium's window), known
	// when emulated is set; see emulate.
	device   *Device
	emulated bool
	// hung is set by a render whose page did not answer: its script is
	// terminated before the tab is closed.
	hung bool
}

// Start starts one Chromium process, checks that it answers and opens the
// first tab ahead of time. ctx bounds the start only: the process outlives it
// and lives until Close.
func Start(ctx context.Context, opts Options) (*Browser, error) {
	begin := time.Now()
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("cannot start browser: %w", err)
	}
	path, err := FindChromium(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("cannot start browser: %w", err)
	}
	root, err := makeRoot()
	if err == nil {
		err = errors.Join(os.Mkdir(filepath.Join(root, "tmp"), 0o700), os.Mkdir(filepath.Join(root, "home"), 0o700))
	}
	if err != nil {
		return nil, fmt.Errorf("cannot start chromium %q: cannot create user data dir: %w", path, errors.Join(err, os.RemoveAll(root)))
	}
	b := &Browser{
		opts:    opts,
		log:     opts.Logger.With("component", "browser"),
		path:    path,
		root:    root,
		dataDir: filepath.Join(root, "profile"),
		blocked: opts.blockPatterns(),
		slots:   make(chan struct{}, opts.Tabs),
		ready:   make(chan *tab, opts.Tabs),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),

		resetEnded: make(chan struct{}, opts.Tabs),
	}
	b.closingCtx, b.stopClosing = context.WithCancel(context.Background())
	b.closing = b.closingCtx.Done()
	if err := writePreferences(b.dataDir, opts.Egress != nil); err != nil {
		b.stopClosing()
		return nil, fmt.Errorf("cannot start chromium %q: %w", path, errors.Join(err, os.RemoveAll(root)))
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), b.allocatorOptions()...)
	parent, cancelParent := context.WithCancel(allocCtx)
	bctx, waitBrowser := chromedp.NewContext(parent, chromedp.WithBrowserOption(
		chromedp.WithBrowserLogf(b.chromedpLog(slog.LevelDebug)),
		chromedp.WithBrowserErrorf(b.chromedpLog(slog.LevelDebug)),
	))
	b.ctx, b.cancelParent, b.waitBrowser, b.cancelAlloc = bctx, cancelParent, waitBrowser, cancelAlloc

	// The first Do binds Chromium's life to bctx, so the caller's deadline
	// must not reach it: it only aborts the start.
	stop := context.AfterFunc(ctx, cancelParent)
	err = chromedp.Do(bctx)
	if !stop() && err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		b.stopClosing()
		b.stopProcess()
		return nil, fmt.Errorf("cannot start chromium %q: %w", path, errors.Join(err, b.cleanup()))
	}
	c := chromedp.FromContext(bctx)
	b.cdp = c.Browser
	b.lost = c.Browser.LostConnection
	if p := c.Browser.Process(); p != nil {
		b.pid = p.Pid
		if err := writeGroup(root, b.pid); err != nil {
			return nil, errors.Join(fmt.Errorf("cannot start chromium %q: %w", path, err), b.Close())
		}
	}
	b.log = b.log.With("pid", b.pid)
	b.watcher.Go(b.watch)

	version, err := b.startChecks(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cannot start chromium %q: %w", path, err), b.Close())
	}
	b.log.Info("chromium started", "path", path, "version", version, "tabs", opts.Tabs,
		"user_data_dir", b.dataDir, "took", time.Since(begin))
	return b, nil
}

// startChecks asks Chromium for its version, derives the default User-Agent
// and opens the first tab ahead of time, so a broken binary or a bad block pattern
// fails Start rather than the first render.
func (b *Browser) startChecks(ctx context.Context) (string, error) {
	v, err := cdp.Call(ctx, b.cdp, cdpbrowser.GetVersion, cdp.Empty{})
	if err != nil {
		return "", fmt.Errorf("chromium does not answer Browser.getVersion: %w", err)
	}
	b.userAgent = b.opts.UserAgent
	if b.userAgent == "" {
		b.userAgent = defaultUserAgent(v.UserAgent)
	}
	b.mobileUserAgent = mobileUserAgent(b.userAgent)
	t, err := b.openTab(ctx)
	if err != nil {
		return "", fmt.Errorf("cannot open a tab: %w", err)
	}
	b.ready <- t
	// Chromium starts with a blank tab in its default context, which
	// chromedp attaches b.ctx to; no render uses it (each tab has a context
	// of its own), and its renderer process held ~20 MiB for the browser's
	// life. Headless Chromium runs on without a tab.
	if first := chromedp.FromContext(b.ctx).Target; first != nil {
		if _, err := cdp.Call(ctx, b.cdp, target.CloseTarget, target.CloseTargetParams{TargetID: first.TargetID}); err != nil {
			return "", fmt.Errorf("cannot close the first tab: %w", err)
		}
	}
	b.keeper.Go(b.keepReady)
	return v.Product, nil
}

// defaultUserAgent makes Chromium's own User-Agent look like a desktop
// Chrome, because sites serve "HeadlessChrome" a bot page, and appends
// UserAgentSuffix, the marker that prerender-aware sites look for.
func defaultUserAgent(ua string) string {
	return strings.ReplaceAll(ua, "HeadlessChrome", "Chrome") + UserAgentSuffix
}

func (b *Browser) allocatorOptions() []chromedp.ExecAllocatorOption {
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(b.path),
		chromedp.UserDataDir(b.dataDir),
		chromedp.CombinedOutput(&lineLogger{log: b.log.With("source", "chromium")}),
		chromedp.ModifyCmdFunc(setProcessGroup),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // we run as root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Headless Chromium 156 otherwise builds ~150MB of omnibox UI per
		// browser context.
		// A tab is reused, and a page kept in the back/forward cache of a
		// reused tab would hold its renderer's memory for nothing.
		// The spare renderer Chromium keeps warm for the next navigation is
		// one more process per browser, idle or not: the tab opened ahead of
		// time (keepReady) already is the warm renderer of the next render.
		chromedp.Flag("disable-features", "WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup,PreloadTopChromeWebUI,Translate,BackForwardCache,SpareRendererForSitePerProcess"),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		// No crash report is written or sent; a dump Chromium writes anyway goes
		// under root, which Close removes.
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("crash-dumps-dir", filepath.Join(b.root, "crashes")),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-hang-monitor", true),
		chromedp.Flag("disable-popup-blocking", true),
		chromedp.Flag("disable-prompt-on-repost", true),
		// A tab that is not focused must still run its timers at full
		// speed, or a render waits for throttled setTimeout calls.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		// A desktop layout: responsive sites render their full content.
		chromedp.Flag("window-size", fmt.Sprintf("%d,%d", DesktopDevice.Width, DesktopDevice.Height)),
	}
	// Chromium leaves its singleton socket and, with disable-dev-shm-usage,
	// its shared memory files in TMPDIR; a killed browser does not remove
	// them, so they go under root too, unless that would make the socket
	// path longer than a Unix socket allows: Chromium dies on that.
	if tmp := filepath.Join(b.root, "tmp"); len(tmp)+len(singletonSuffix) < maxSocketPath {
		flags = append(flags, chromedp.Env("TMPDIR="+tmp))
	}
	// Chromium writes its config, crashpad database and caches under HOME and
	// the XDG directories: they go under root too, not into the user's home.
	home := filepath.Join(b.root, "home")
	flags = append(flags, chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state")))
	if e := b.opts.Egress; e != nil {
		proxyHost, _, _ := net.SplitHostPort(e.Addr())
		flags = append(flags,
			chromedp.ProxyServer("http://"+e.Addr()),
			// Chromium sends loopback directly unless told otherwise.
			chromedp.Flag("proxy-bypass-list", "<-loopback>"),
			// Chromium resolves nothing itself: a path that would go around
			// the proxy by name finds no address.
			chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE "+proxyHost),
			// The headless shell reads the WebRTC policy from this switch, a
			// full Chromium from the profile's preferences (writePreferences).
			chromedp.Flag("force-webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		)
	}
	if b.opts.blocks("image") {
		// URL patterns miss images served without an extension; Blink's
		// own switch never fetches any image.
		flags = append(flags, chromedp.Flag("blink-settings", "imagesEnabled=false"))
	}
	return flags
}

// preferences are written into the profile before Chromium starts: for a full
// Chromium the WebRTC policy is a preference of the profile (the
// --force-webrtc-ip-handling-policy switch, also passed, is read by
// content_shell and the old headless shell only), and incognito contexts read
// their parent's.
// "disable_non_proxied_udp" keeps WebRTC to TCP through the proxy: without
// it a page's RTCPeerConnection sends UDP (STUN) to any address it names,
// past the proxy.
const proxiedPreferences = `{"webrtc":{"ip_handling_policy":"disable_non_proxied_udp","multiple_routes_enabled":false,"nonproxied_udp_enabled":false}}`

// writePreferences writes the profile's Default/Preferences when Chromium goes
// through the egress proxy.
func writePreferences(dataDir string, proxied bool) error {
	if !proxied {
		return nil
	}
	dir := filepath.Join(dataDir, "Default")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot write chromium preferences: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Preferences"), []byte(proxiedPreferences), 0o600); err != nil {
		return fmt.Errorf("cannot write chromium preferences: %w", err)
	}
	return nil
}

// openTab opens a page in a new incognito browser context and prepares it:
// blocked URLs and the prerenderReady hook. ctx bounds the opening only; the
// tab lives until closeTab.
func (b *Browser) openTab(ctx context.Context) (*tab, error) {
	parent, cancel := context.WithCancel(b.ctx)
	tctx, wait := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	// A new tab shows Chromium's window: no emulation to undo.
	t := &tab{ctx: tctx, cancel: cancel, wait: wait, emulated: true}
	// The first Do on tctx ties the tab's event loop to tctx, so ctx may
	// only abort it, never become its parent.
	stop := context.AfterFunc(ctx, cancel)
	err := chromedp.Do(tctx)
	if err == nil {
		err = b.prepareTab(ctx, t)
	}
	if !stop() && err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		b.closeTab(t)
		return nil, err
	}
	return t, nil
}

func (b *Browser) prepareTab(ctx context.Context, t *tab) error {
	t.target = chromedp.FromContext(t.ctx).Target
	t.context = chromedp.FromContext(t.ctx).BrowserContextID
	detached, err := chromedp.Detached(t.ctx)
	if err != nil {
		return err
	}
	t.detached = detached
	if err := b.quietDOM(ctx, t); err != nil {
		return err
	}
	if err := chromedp.Listen(t.ctx, func(ev any) {
		if _, ok := ev.(*inspector.EventTargetCrashed); ok {
			t.crashed.Store(true)
		}
	}); err != nil {
		return err
	}
	patterns := make([]*network.BlockPattern, len(b.blocked))
	for i, p := range b.blocked {
		patterns[i] = &network.BlockPattern{URLPattern: p, Block: true}
	}
	// A download would write into the user data dir and never render.
	if _, err := cdp.Call(ctx, b.cdp, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior:         cdpbrowser.SetDownloadBehaviorBehaviorDeny,
		BrowserContextID: t.context,
	}); err != nil {
		return fmt.Errorf("cannot deny downloads: %w", err)
	}
	if _, err := cdp.Call(ctx, t.target, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: patterns}); err != nil {
		return fmt.Errorf("cannot set blocked URLs: %w", err)
	}
	if _, err := cdp.Call(ctx, t.target, runtime.AddBinding, runtime.AddBindingParams{Name: bindingName}); err != nil {
		return fmt.Errorf("cannot add binding: %w", err)
	}
	if _, err := cdp.Call(ctx, t.target, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: readyJS}); err != nil {
		return fmt.Errorf("cannot add ready script: %w", err)
	}
	return nil
}

// closeTab closes t off the caller's path: closing a target and disposing of
// its browser context takes 60–290 ms.
func (b *Browser) closeTab(t *tab) {
	b.signal()
	b.closers.Go(func() {
		begin := time.Now()
		if t.hung {
			b.terminateScript(t)
		}
		b.detachTab(t)
		t.cancel()
		t.wait()
		b.log.Debug("tab closed", "took", time.Since(begin))
	})
}

// signal wakes keepReady.
func (b *Browser) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// usable reports whether t can take a render: its renderer is alive.
func (t *tab) usable() bool {
	select {
	case <-t.detached:
		return false
	default:
		return !t.crashed.Load()
	}
}

// takeTab returns a ready tab when there is one. Else, while a tab is being
// reset, it waits for that reset to end (resetTimeout bounds it) rather than
// open one more tab: a render that opened a tab whenever none was ready left
// every reset tab waiting in ready beside the new one, twice the tabs (and
// renderer processes) of the slots at full load, and a new renderer process
// costs more CPU than the reset. Else it opens one.
func (b *Browser) takeTab(ctx context.Context) (*tab, error) {
	for {
		select {
		case t := <-b.ready:
			if b.takeReady(t) {
				return t, nil
			}
			continue
		default:
		}
		if b.resetting.Load() == 0 {
			return b.openTab(ctx)
		}
		select {
		case t := <-b.ready:
			if b.takeReady(t) {
				return t, nil
			}
		case <-b.resetEnded:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-b.closing:
			return nil, ErrBrowserClosed
		case <-b.lost:
			return nil, ErrBrowserClosed
		}
	}
}

// takeReady takes t, just received from ready, for a render: it reports
// whether t can still render, and closes it when it cannot.
func (b *Browser) takeReady(t *tab) bool {
	b.signal()
	if t.usable() {
		return true
	}
	b.closeTab(t)
	return false
}

// releaseTab ends a render's hold on t. After a render that ended well
// (endedWell) the tab is reset for the next render off the caller's path, unless
// its page had documents from more than one origin: third-party storage is
// partitioned by site, out of reach of resetTab. Any other tab is closed.
func (b *Browser) releaseTab(t *tab, endedWell bool) {
	t.renders++
	if !endedWell || len(t.origins) != 1 || t.renders >= rendersPerTab || !t.usable() || b.gone() {
		b.closeTab(t)
		return
	}
	b.resetting.Add(1)
	b.closers.Go(func() {
		begin := time.Now()
		if err := b.resetTab(t); err != nil {
			b.log.Debug("cannot reset tab, closing it", "err", err)
			b.resetting.Add(-1)
			b.resetDone()
			b.closeTab(t) // wakes keepReady: no tab is coming from here
			return
		}
		// Ready before no longer resetting: keepReady must never see
		// neither and open a tab that is not needed.
		select {
		case b.ready <- t:
			b.log.Debug("tab reset", "took", time.Since(begin))
		default: // enough tabs wait already
			b.closeTab(t)
		}
		b.resetting.Add(-1)
		b.resetDone()
		b.signal()
	})
}

// resetDone tells a render waiting in takeTab that a reset ended, whether its
// tab is ready or was closed.
func (b *Browser) resetDone() {
	select {
	case b.resetEnded <- struct{}{}:
	default:
	}
}

// resetTab leaves t as a fresh browser context would be for the next render:
// the page is unloaded first (its unload handlers run before anything is
// cleared), then the context's cookies, its HTTP cache, and every kind of
// storage of each origin the render had a document from (local and session
// storage, IndexedDB, Cache Storage, service workers…) are cleared, and a
// context with any other target left (a popup) is refused. The isolation
// tests prove it; measured, this costs less CPU than a fresh context per
// render (see the package doc).
func (b *Browser) resetTab(t *tab) error {
	ctx, cancel := context.WithTimeout(t.ctx, resetTimeout)
	defer cancel()
	stop := context.AfterFunc(b.closingCtx, cancel)
	defer stop()
	if _, err := cdp.Call(ctx, t.target, page.Navigate, page.NavigateParams{URL: "about:blank"}); err != nil {
		return fmt.Errorf("cannot unload the page: %w", err)
	}
	// A round trip to the blank document: the events of its load come before
	// the answer, so none reaches the next render's watch.
	if res, err := cdp.Call(ctx, t.target, runtime.Evaluate, runtime.EvaluateParams{Expression: "location.href", ReturnByValue: new(true)}); err != nil {
		return fmt.Errorf("cannot reach the blank page: %w", err)
	} else if res.Result == nil || string(res.Result.Value) != `"about:blank"` {
		return errors.New("the page did not unload")
	}
	// The heap of the page just unloaded is garbage now; collected here, off
	// the request path, a reused renderer holds ~65 MiB less at 4 tabs.
	if _, err := cdp.Call(ctx, t.target, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
		return fmt.Errorf("cannot collect garbage: %w", err)
	}
	if _, err := cdp.Call(ctx, b.cdp, storage.ClearCookies, storage.ClearCookiesParams{BrowserContextID: t.context}); err != nil {
		return fmt.Errorf("cannot clear cookies: %w", err)
	}
	if err := b.clearOrigins(ctx, t); err != nil {
		return err
	}
	if _, err := cdp.Call(ctx, t.target, network.ClearBrowserCache, cdp.Empty{}); err != nil {
		return fmt.Errorf("cannot clear the cache: %w", err)
	}
	// A popup the page opened, or a worker that outlived it, lives in the
	// context and could write into it later: only disposing of the context
	// ends them. A service worker is the exception that ends by itself:
	// clearing its origin unregistered it, and Chromium stops it shortly
	// after; once it is gone, what it may have written meanwhile is cleared
	// again.
	waited := false
	for deadline := time.Now().Add(workerGrace); ; {
		left, err := b.leftTargets(ctx, t)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			break
		}
		if !onlyServiceWorkers(left) || time.Now().After(deadline) {
			return fmt.Errorf("the page left a %s target behind", left[0])
		}
		waited = true
		select {
		case <-ctx.Done():
			return fmt.Errorf("the page left a %s target behind: %w", left[0], context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if waited {
		if err := b.clearOrigins(ctx, t); err != nil {
			return err
		}
	}
	if !t.usable() {
		return ErrTabCrashed
	}
	return nil
}

// clearOrigins clears the storage of every origin the tab's page had a
// document from: local and session storage, IndexedDB, Cache Storage, service
// worker registrations…
func (b *Browser) clearOrigins(ctx context.Context, t *tab) error {
	for _, o := range t.origins {
		if _, err := cdp.Call(ctx, t.target, storage.ClearDataForOrigin, storage.ClearDataForOriginParams{Origin: o, StorageTypes: "all"}); err != nil {
			return fmt.Errorf("cannot clear the storage of %s: %w", o, err)
		}
	}
	return nil
}

// leftTargets returns the types of the targets of the tab's browser context
// other than the tab itself.
func (b *Browser) leftTargets(ctx context.Context, t *tab) ([]string, error) {
	targets, err := cdp.Call(ctx, b.cdp, target.GetTargets, target.GetTargetsParams{})
	if err != nil {
		return nil, fmt.Errorf("cannot list targets: %w", err)
	}
	var left []string
	for _, info := range targets.TargetInfos {
		if info.BrowserContextID == t.context && info.TargetID != t.target.TargetID {
			left = append(left, info.Type)
		}
	}
	return left, nil
}

func onlyServiceWorkers(types []string) bool {
	for _, typ := range types {
		if typ != "service_worker" {
			return false
		}
	}
	return true
}

// keepReady keeps one tab open ahead of time so a render does not pay for
// opening it, unless a tab is ready or being reset already.
func (b *Browser) keepReady() {
	for {
		// While every slot renders, the pool is saturated: opening a tab
		// now would take CPU from the renders in flight, and no render can
		// use it before one of them ends. The next tab is opened when a
		// slot frees (and by the render itself if it comes first).
		for len(b.ready) > 0 || b.resetting.Load() > 0 || len(b.slots) == cap(b.slots) {
			select {
			case <-b.wake:
			case <-b.closing:
				return
			case <-b.lost:
				return
			}
		}
		ctx, cancel := context.WithTimeout(b.ctx, openTimeout)
		// Close must not wait for a slow opening.
		stop := context.AfterFunc(b.closingCtx, cancel)
		t, err := b.openTab(ctx)
		stop()
		cancel()
		if err != nil {
			if b.gone() {
				return
			}
			b.log.Warn("cannot open a tab ahead of time", "err", err)
			select {
			case <-b.closing:
				return
			case <-b.lost:
				return
			case <-time.After(time.Second):
			}
			continue
		}
		select {
		case b.ready <- t:
		default:
			b.closeTab(t)
		}
	}
}

// watch closes done when Chromium goes away, whoever asked for it.
func (b *Browser) watch() {
	select {
	case <-b.lost:
	case <-b.ctx.Done():
	}
	select {
	case <-b.closing:
	default:
		b.log.Warn("chromium went away")
	}
	close(b.done)
}

// gone reports whether renders on b can no longer succeed.
func (b *Browser) gone() bool {
	select {
	case <-b.lost:
		return true
	case <-b.closing:
		return true
	case <-b.ctx.Done():
		return true
	default:
		return false
	}
}

// Version returns Chromium's product string, such as "Chrome/156.0.8078.79".
// It is a round trip to the browser process, so /readyz and liveness checks
// use it.
func (b *Browser) Version(ctx context.Context) (string, error) {
	if b.gone() {
		return "", fmt.Errorf("cannot get chromium version: %w", ErrBrowserClosed)
	}
	v, err := cdp.Call(ctx, b.cdp, cdpbrowser.GetVersion, cdp.Empty{})
	if err != nil {
		if b.gone() {
			return "", fmt.Errorf("cannot get chromium version: %w: %w", ErrBrowserClosed, err)
		}
		return "", fmt.Errorf("cannot get chromium version: %w", err)
	}
	return v.Product, nil
}

// PID is the process id of the Chromium browser process.
func (b *Browser) PID() int { return b.pid }

// Done is closed when the Chromium process exited or its connection was lost:
// crash, kill -9, or Close.
func (b *Browser) Done() <-chan struct{} { return b.done }

// Close stops Chromium and waits for the process, for every tab being closed
// and for the removal of the user data dir. Running renders end with
// ErrBrowserClosed. It is safe to call more than once.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Browser) close() error {
	begin := time.Now()
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.stopClosing()

	// Order matters: renders and the keeper are the only ones that start
	// closers, so they end before closers are waited for. A reset that ended
	// meanwhile may have put its tab back: ready is drained until it stays
	// empty.
	b.renders.Wait()
	b.keeper.Wait()
	for {
		b.closers.Wait()
		select {
		case t := <-b.ready:
			b.closeTab(t)
			continue
		default:
		}
		break
	}

	select {
	case <-b.lost:
	default:
		// A graceful close lets Chromium take its children down itself.
		ctx, cancel := context.WithTimeout(b.ctx, gracefulClose)
		if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			b.log.Debug("graceful close failed", "err", err)
		}
		cancel()
	}
	b.stopProcess()
	b.watcher.Wait()
	err := b.cleanup()
	b.log.Info("chromium stopped", "took", time.Since(begin))
	if err != nil {
		return fmt.Errorf("cannot close chromium %q: %w", b.path, err)
	}
	return nil
}

// stopProcess kills Chromium if it still runs and waits until it is reaped
// and chromedp's allocator has let go of it.
func (b *Browser) stopProcess() {
	b.cancelParent()
	b.waitBrowser()
	b.cancelAlloc()
}

// cleanup kills what is left of Chromium's process tree and removes the user
// data dir and Chromium's TMPDIR. Children such as the zygote can outlive a
// killed browser process and keep writing into them.
func (b *Browser) cleanup() error {
	killLeftovers(b.root)
	// When TMPDIR could not be moved under root, the singleton socket's
	// directory is elsewhere; the profile's symlink names it.
	if target, err := os.Readlink(filepath.Join(b.dataDir, "SingletonSocket")); err == nil {
		if dir := filepath.Dir(target); strings.HasPrefix(filepath.Base(dir), "org.chromium.Chromium.") {
			_ = os.RemoveAll(dir)
		}
	}
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err = os.RemoveAll(b.root); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("cannot remove user data dir %q: %w", b.root, err)
	}
	return nil
}

// chromedpLog routes chromedp's printf-style logs into slog.
func (b *Browser) chromedpLog(level slog.Level) func(string, ...any) {
	return func(format string, args ...any) {
		b.log.Log(context.Background(), level, "chromedp", "msg", fmt.Sprintf(format, args...))
	}
}

// lineLogger logs Chromium's stdout and stderr one line per event. Chromium
// is chatty (D-Bus, GPU), so it logs at debug level.
type lineLogger struct {
	log *slog.Logger
	buf []byte
}

// Write is called from one goroutine only, chromedp's output copier.
func (l *lineLogger) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.buf[:i])); line != "" {
			l.log.Debug("chromium output", "line", line)
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.buf = l.buf[:0]
	}
	return len(p), nil
}
