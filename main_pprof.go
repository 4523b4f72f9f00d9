//go:build pprof

package main

import (
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // the profiles of a pprof build, on their own listener
	"os"
)

// A binary built with -tags pprof (make bench-scale's profiles) serves Go's
// /debug/pprof on PRERENDERD_PPROF_ADDR (host:port), a listener of its own so that
// the profile handlers never sit on the port crawlers reach. The default build has
// none of it. The listener lives as long as the process: the profiled binary is a
// benchmark's, stopped with it.
func init() {
	addr := os.Getenv("PRERENDERD_PPROF_ADDR")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		slog.Error("cannot listen for pprof", "addr", addr, "err", err)
		os.Exit(1)
	}
	go func() { _ = http.Serve(ln, http.DefaultServeMux) }()
}
