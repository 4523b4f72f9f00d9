// Package actors is prerenderd's actor system: the appliance supervisor, the cache
// shard owners with their per-URL render children, the browser pool with one actor
// per Chromium, the sitemaps actor, and the actor that owns the HTTP server's
// lifecycle; the egress proxy every Chromium connects through (package egress:
// started before the first browser, closed after the last); and the cache manager (search, clear, eviction: cachemgr.go), whose
// deletes go through the shard owners like every other write. The sitemap parser
// is the pure sub-package sitemap.
//
// It is the only package that imports protoactor-go. The rest of the program sees the
// façade and never a PID: Start, Serve, Stop (lifecycle.go); Render, Ready
// (appliance.go); Lookup and RenderFor, a crawler's request (lookup.go: the hit
// path reads the page and its shard's published flags with no actor hop, and
// policy decides); Recache, SetRecacheSpeed (recache.go); Capture (capture.go);
// Search, ClearURL, StartClear, ClearProgress (cachemgr.go); AddSitemap,
// Sitemaps (sitemapsactor.go); RefuseLoop (loops.go), which knows the URLs tabs
// are loading so that a renderer's own request sent back to prerenderd is
// refused, not joined; State, the live view of browsers, tabs and queues, and
// the Config.OnRender hook of finished renders (state.go); JoinCluster,
// OwnedElsewhere, OwnerOf, ForwardPage, ForwardToOwnerOf, Broadcast and
// ClusterState, the membership of a cluster of prerenderd nodes, each key owned
// by one member (cluster.go, clustergrain.go, clusteretcd.go; off unless
// Config.Cluster.Enabled), and the cluster's queues: copies of each queued
// priority recache on the member that takes over its key, handed to the new
// owners when a member leaves, sitemap URLs queued on their owners, the
// recache pace shared by virtual shards (clusterqueue.go). It also owns the
// cluster's gRPC (protoactor remote) and etcd client; nobody else talks to the
// other members.
//
// Each key belongs to one shard (shardFor), the only writer of its page and of
// its flags (keystate.go). Every message type is in messages.go, grouped by the
// actor that receives it. Actors never block in Receive: browser and disk work
// runs in goroutines owned by the actor that started them, and reports back by
// message. An actor that holds waiters answers them on Restarting as on
// Stopping. ARCHITECTURE.md draws the tree and the request paths.
package actors
