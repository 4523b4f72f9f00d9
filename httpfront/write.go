package httpfront

import (
	"fmt"
	"net/http"
	"time"
)

const (
	// writeChunk is how much of a body goes out per write, each with its own
	// deadline. A body this small or smaller fits the socket buffers of any
	// client, so it is written without one.
	writeChunk = 64 << 10

	defaultWriteTimeout = 10 * time.Second
)

// writeBody sends body so that a slow reader cannot pin the server: every
// writeChunk bytes must leave within WriteTimeout, else the write fails, the
// connection is closed and the handler's goroutines end. A cached page of
// several MB held by a client that never reads would otherwise keep a
// goroutine, a connection and its buffers until the client leaves. The
// deadline scales with the body (one WriteTimeout per chunk), so a client
// reading at least writeChunk per WriteTimeout (6.4 KB/s at the default) gets
// everything.
func (s *Server) writeBody(w http.ResponseWriter, body []byte) {
	if len(body) <= writeChunk {
		_, _ = w.Write(body)
		return
	}
	rc := http.NewResponseController(w)
	for len(body) > 0 {
		n := min(len(body), writeChunk)
		if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
			// A writer without deadlines (a test recorder): write plainly.
			_, _ = w.Write(body)
			return
		}
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
	}
	// The last bytes still sit in the response's buffer: they go out under the
	// deadline too, then the connection is free of it for its next request.
	if err := rc.Flush(); err != nil {
		return
	}
	_ = rc.SetWriteDeadline(time.Time{})
}

// timeoutError answers a page still busy at the page timeout when
// TimeoutStatus is not 200.
func (s *Server) timeoutError() error {
	return &clientError{status: s.cfg.TimeoutStatus, reason: "timeout",
		msg: fmt.Sprintf("the page was not done within render.page_timeout (render.timeout_status = %d)", s.cfg.TimeoutStatus)}
}
