// Package actors is prerenderd's actor system: the appliance supervisor, the cache
// shard owners with their per-URL render children, the browser pool with one actor
// per Chromium, the sitemaps actor, and the actor that owns the HTTP server's
// lifecycle; the egress proxy every Chromium connects through (package egress:
// started before the first browser, closed after the last); and the cache manager (search, clear, eviction: cachemgr.go), whose
// deletes go through the shard owners like every other write. The sitemap parser
// is the pure sub-package sitemap.
//
// It is the only package that imports protoactor-go. The rest of the program sees the
// façade (Start, Render, ViewPage, Ready, Serve, Stop in appliance.go; Search,
// ClearURL, StartClear, ClearProgress in cachemgr.go; AddSitemap, Sitemaps in
// sitemapsactor.go; RefuseLoop in loops.go, which knows the URLs tabs are loading
// so that a renderer's own request sent back to prerenderd is refused, not
// joined; State, the live view of browsers, tabs and queues, and the
// Config.OnRender hook of finished renders in state.go) and never a PID. Actors never block in Receive: browser and disk work runs in goroutines owned
// by the actor that started them, and reports back by message.
package actors
