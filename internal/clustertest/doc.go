// Package clustertest runs prerenderd clusters for tests: several processes of
// the built binary, one etcd server, one JS origin, on one machine, through HTTP
// only, as a user runs them (issue 18). It holds no code of prerenderd; only its
// tests live here, and `make bench-cluster` runs them with more URLs.
package clustertest
