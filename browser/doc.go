// Package browser owns the Chromium processes of prerenderd: it starts them,
// renders one URL per tab, and stops them without leaving a process or a
// profile directory behind.
//
// A render takes a ready tab (each tab has an incognito browser context of its
// own; it was opened ahead of time, or reset after an earlier render), navigates, waits until the page is done by the rules of DESIGN.md
// §4 (the load event and a quiet network, then the page settled: its short
// timers and queued work ran, see js/ready.js; or window.prerenderReady), and
// returns the serialized DOM with the status and headers the page asks for.
// A request may name the screen to emulate (Device: the mobile variant's
// phone, or a width and height; device.go) and ask for a screenshot, a PDF or
// a HAR of the done page instead of its HTML (Output; capture.go, har.go).
// Errors that callers act on are typed: ErrBrowserClosed (retry on another
// browser), ErrTabCrashed, ErrTabHung and ErrNavigation; for a document
// that cannot be the page ErrDocumentIncomplete, ErrNavigationLoop,
// ErrEmptyDocument and ErrTooLarge (docwatch.go: decided from what Chromium
// reports of the main document's network events); and a *netguard.Rejection
// when the egress proxy refused the page's own document. Options.PageTimeout
// bounds the whole render, serialization included; a document's size is
// measured in the page, so no more than Options.MaxHTMLBytes crosses to
// prerenderd.
//
// Egress: with Options.Egress, Chromium is started with the egress proxy as its
// only way out (--proxy-server, loopback not bypassed, no name resolved by
// Chromium itself, WebRTC kept to proxied TCP by a profile preference). When the
// main document fails, or is answered by the proxy itself (403/502 with its
// X-Prerender-Egress header), the render asks the proxy why (Egress.Failure)
// and ends with its refusal.
//
// Isolation: a tab serves up to rendersPerTab renders. Between two, off the
// render's path, its page is unloaded and its context's cookies, HTTP cache and
// every storage of the render's origin are cleared (resetTab); a render that
// ended badly, had a document from a second origin (third-party storage is
// partitioned, out of reach of that clearing) or left a popup or worker behind
// closes its tab instead, which disposes of the context. A render that finds
// no ready tab while one is being reset waits for it rather than open another,
// so at full load the browser holds one tab (one renderer process) per slot;
// the blank tab Chromium starts with is closed once the first tab is open. Measured against a
// fresh context per render (BenchmarkVersusNaive, 4 tabs, 2 cores, quiet):
// Chromium CPU per page 228 ms against 314 ms, 6.3 against 4.4 pages/s, for
// about 125 MiB more peak PSS (465 against 340 MiB: reused renderers keep
// part of their heaps, so a tab is replaced after rendersPerTab renders).
//
// This package must never:
//   - import a higher layer (actors, storage, httpfront): it knows nothing of
//     caches, queues or HTTP clients;
//   - let chromedp or cdproto types escape its API: it is the only package
//     that imports them;
//   - keep state between two renders (cookies, storage, cache, popups): a
//     tab is reused only after resetTab cleared all of it, else closed; the
//     device it emulates is set again by every render that differs;
//   - block a render on closing a tab: tabs close in goroutines that the
//     Browser owns and that Close waits for;
//   - put a deadline on the context that starts Chromium or opens a tab,
//     because chromedp ends the process or the tab with that context;
//   - leave a Chromium process, a profile or a temporary file behind after
//     Close, or let Chromium write into the user's home (its HOME and XDG
//     directories are under the browser's own directory);
//   - remove a directory of a prerenderd that still runs (RemoveStaleProfiles
//     checks the owner's pid and start time).
package browser
