// Package clusterbench is make bench-cluster's measurements of issue 18,
// through the built binary as users run it: renders/s of one, two and three
// cluster members on one fixture, hits on a page's owner against hits through
// another member, hits with [cluster] off against a build from before the
// cluster (the single-node appliance must not pay for it), and the failover
// time after kill -9 of a member. It is not part of make test: it starts
// etcd, several prerenderds and wrk, and takes minutes.
//
// It owns nothing of prerenderd and must never be imported: it talks to the
// processes over HTTP only.
package clusterbench
