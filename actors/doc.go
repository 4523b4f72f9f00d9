// Package actors is prerenderd's actor system: the appliance supervisor, the cache
// shard owners with their per-URL render children, the browser pool with one actor
// per Chromium, and the actor that owns the HTTP server's lifecycle.
//
// It is the only package that imports protoactor-go. The rest of the program sees the
// façade in appliance.go (Start, Render, ViewPage, Ready, Serve, Stop) and never a
// PID. Actors never block in Receive: browser and disk work runs in goroutines owned
// by the actor that started them, and reports back by message.
package actors
