// Package netguard holds prerenderd's one rule about where it may connect: the
// addresses that are public, plus those an operator allowed
// (security.allow_addresses, security.allow_private). The request-time check of a
// page URL (Guard), the dial-time check of Chromium's egress proxy and of the
// sitemaps fetcher (Policy.Control) all apply this rule, so they cannot disagree.
//
// It owns no dependency of Chromium: the HTTP front, the egress proxy and the
// sitemaps fetcher all use it, so it stands at the top level rather than inside
// the browser package.
//
// It must never fetch anything itself, nor import another package of
// prerenderd.
package netguard
