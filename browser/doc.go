// Package browser owns the Chromium processes of prerenderd: it starts them,
// renders one URL per tab, and stops them without leaving a process or a
// profile directory behind.
//
// A render takes a tab opened ahead of time in a fresh incognito browser
// context, navigates, waits until the page is done by the rules of DESIGN.md
// §4 (the load event and a quiet network, then the page settled: its short
// timers and queued work ran, see js/ready.js; or window.prerenderReady), and
// returns the serialized DOM with the status and headers the page asks for.
// Errors that callers act on are typed: ErrBrowserClosed (retry on another
// browser), ErrTabCrashed and ErrNavigation.
//
// This package must never:
//   - import a higher layer (actors, storage, httpfront): it knows nothing of
//     caches, queues or HTTP clients;
//   - let chromedp or cdproto types escape its API: it is the only package
//     that imports them;
//   - keep state between two renders (cookies, storage, cache): each render
//     gets a browser context of its own;
//   - block a render on closing a tab: tabs close in goroutines that the
//     Browser owns and that Close waits for;
//   - put a deadline on the context that starts Chromium or opens a tab,
//     because chromedp ends the process or the tab with that context;
//   - leave a Chromium process, a profile or a temporary file behind after
//     Close.
package browser
