package actors

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/actors/clusterpb"
)

// This file is the owner's side of a forwarded request: the "shard" grain
// (one per virtual shard this member owns) and the node actor (requests for
// the member itself) answer a ForwardedRequest through this member's HTTP
// handler, in a goroutine the appliance owns; neither blocks in Receive.

// shardGrain is the cluster identity of one virtual shard, activated on its
// owner by disthash. The keys' state lives in the owner's local shards; the
// grain is the identity other members address.
type shardGrain struct{ node *clusterNode }

func (g *shardGrain) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*clusterpb.ForwardedRequest); ok {
		g.node.serve(ctx, m)
	}
}

// nodeActor answers requests addressed to this member.
type nodeActor struct{ node *clusterNode }

func (n *nodeActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *clusterpb.ForwardedRequest:
		n.node.serve(ctx, m)
	case *clusterpb.QueueOnOwner:
		n.node.serveQueueOnOwner(ctx, m)
	case *clusterpb.NodeInfoRequest:
		v := n.node.view.Load()
		ctx.Respond(&clusterpb.NodeInfo{Name: n.node.cfg.Node, Address: n.node.self,
			OwnedShards: int32(v.owned), Pages: n.node.app.store.PageCount()})
	}
}

// serve answers m from a goroutine through the captured sender. A member
// that is stopping answers Moved, so the sender asks the new owner.
func (cn *clusterNode) serve(ctx actor.Context, m *clusterpb.ForwardedRequest) {
	sender := ctx.Sender()
	if sender == nil {
		return
	}
	cn.m.forwardedIn.Inc()
	root := cn.app.system.Root
	if !cn.app.goBackground(func(bg context.Context) {
		root.Send(sender, cn.answer(bg, m))
	}) {
		ctx.Respond(&clusterpb.ForwardedResponse{Moved: true, Node: cn.cfg.Node})
	}
}

// answer runs m through the HTTP handler with a recorder. The request's
// context marks it forwarded, so the handler answers it here.
func (cn *clusterNode) answer(bg context.Context, m *clusterpb.ForwardedRequest) *clusterpb.ForwardedResponse {
	ctx, cancel := context.WithTimeout(context.WithValue(bg, forwardedKey{}, true), cn.cfg.ForwardTimeout)
	// bg is the appliance's (a grain's goroutine) or the caller's (a request
	// that failed over to this member).
	defer cancel()
	u, err := url.ParseRequestURI(m.RequestUri)
	if err != nil {
		return &clusterpb.ForwardedResponse{Status: http.StatusBadRequest, Node: cn.cfg.Node,
			Header: []*clusterpb.Header{{Name: "X-Prerender-Reject-Reason", Values: []string{"bad-url"}}}}
	}
	req := (&http.Request{
		Method: m.Method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: headerOf(m.Header), Body: io.NopCloser(bytes.NewReader(m.Body)), ContentLength: int64(len(m.Body)),
		Host: m.Host, RemoteAddr: m.RemoteAddr, RequestURI: m.RequestUri,
	}).WithContext(ctx)
	rec := &recorder{header: http.Header{}}
	cn.handler.ServeHTTP(rec, req)
	if rec.status == 0 {
		if bg.Err() != nil {
			// Stopping: the handler gave up on the request; its new owner answers.
			return &clusterpb.ForwardedResponse{Moved: true, Node: cn.cfg.Node}
		}
		rec.status = http.StatusOK
	}
	return &clusterpb.ForwardedResponse{Status: int32(rec.status), Header: headersOf(rec.header), Body: rec.body.Bytes(), Node: cn.cfg.Node}
}

// recorder is the http.ResponseWriter of a forwarded request: the whole
// answer goes back in one message.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
