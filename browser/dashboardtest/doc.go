// Package dashboardtest drives prerenderd's dashboard (GET /) in real headless
// Chromium through chromedp, against the built binary with real traffic: the
// numbers the page shows must be those of /api/stats, and a purge from the page
// must empty the cache of that page. `make screenshot` runs the same test to
// write docs/dashboard.png.
//
// It has no code but its tests. It lives under browser/ because only browser/
// may import chromedp, tests included.
package dashboardtest
