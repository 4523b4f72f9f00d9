// Package egress is the one way out of prerenderd's Chromium: an in-process HTTP
// and CONNECT forward proxy on loopback, given to every Chromium with
// --proxy-server, that checks every connection at dial time. For each request it
// resolves the host once (netguard.Resolve), refuses the request unless every
// address is allowed by the one address rule (netguard.Policy: public, or listed
// in security.allow_addresses, or security.allow_private), then dials exactly
// the addresses it checked, with the same rule as the dialer's control: a DNS
// answer that changes between a check and a dial (rebinding) cannot slip
// through, and neither can a redirect, a script navigation, a meta refresh, a
// form post, a subresource, a websocket or a worker, since they all leave
// Chromium the same way.
//
// prerenderd's own listener is always refused except for GET and HEAD of the
// built-in demo (/demo/…), so a page can never reach the admin API from
// loopback, not even with allow_private; so is the proxy's own address.
//
// Every refusal and failed dial is remembered for a while per host:port
// (Proxy.Failure), so the browser can tell a main document the egress refused
// (403 private-address) from one the origin failed to send.
//
// This package must never:
//   - import chromedp, pebble, protoactor or a prerenderd layer other than
//     netguard: it is a proxy and an address rule, nothing else;
//   - resolve a host twice for one request, or dial a host name: it dials the
//     addresses it checked;
//   - keep a goroutine past Close: Close stops the listener, ends every tunnel
//     and in-flight request and waits for them;
//   - add headers that identify prerenderd to the origin (X-Forwarded-For, Via).
package egress
