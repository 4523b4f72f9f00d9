// Package appliancebench measures prerenderd as a user runs it: the built binary,
// its whole process tree (prerenderd, every Chromium process, the crashpad handlers
// that detach from it), driven over HTTP with renders of the fixture pages. Beside
// it, in the same run, it measures the baselines users compare it with: the npm
// prerender server (5.21.6, installed with npm ci from testdata/npm-prerender) and
// the naive chromedp renderer (package browser/naive) on the same Chromium and the
// same pages.
//
// It holds benchmarks only (make bench-memory, make bench-shapes); no part of
// prerenderd imports it, and make test does not run its benchmarks.
//
// It must never report a figure that was not measured in the same run as its
// baseline, or measure prerenderd any other way than through its binary.
package appliancebench
