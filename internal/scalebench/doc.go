// Package scalebench measures prerenderd at the size its users run it: a store of
// a million pages (SCALE_PAGES) of synthetic 30 KB product pages over 1,000 hosts,
// filled through storage's public API (PutPages), then served, searched, cleared
// and evicted by the built binary over loopback, as a user's middleware and admin
// scripts would (make bench-scale; README "Performance at a million pages").
//
// It holds the page generator and benchmarks only; no part of prerenderd imports
// it, and make test runs only its generator's unit test.
//
// It must never report a figure that was not measured in the run that prints it,
// measure serving any other way than through the binary, or leave its store
// behind: everything lives in one temporary directory, removed at the end. The
// one store it keeps is the one asked for with SCALE_STORE (filled once, reused by
// later runs, never changed by them: they work on a checkpoint of it), and it
// never removes or refills a directory it did not fill.
package scalebench
