// Package deploy holds the files to run prerenderd in production, and the code that
// keeps their crawler matchers generated from crawlers/crawlers.json, so they never
// drift from the list the middleware and GET /crawlers use:
//
//	nginx-prerenderd.conf  nginx in front of a site: crawlers to prerenderd, the rest to the site
//	Caddyfile              the same for Caddy
//	prerenderd.service     a hardened systemd unit
//	prometheus.yml         a Prometheus scrape job for /metrics, with example queries
//	grafana-dashboard.json a Grafana board over /metrics (a test checks every metric it queries exists)
//
// The part of a file between "# BEGIN generated" and "# END generated" is written by
// `make deploy-files` (go generate ./deploy/); a test fails when the committed file
// differs from what Generate makes. The package is a tool of the repository: no part
// of prerenderd imports it, and it must never hold anything the binary needs.
package deploy

//go:generate go run ./gen
