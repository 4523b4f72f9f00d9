package actors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"prerenderd/actors/clusterpb"
)

// This file makes prerenderd nodes one cache: protoactor's cluster (remote
// over gRPC, members from etcd through clusteretcd.go, identities placed by
// disthash's rendezvous hashing). A key's virtual shard is keyHash(key) % VirtualShards; each
// virtual shard is a cluster identity of kind "shard", placed on one member,
// its owner. The owner renders, dedups, writes and recaches the key, and keeps
// its page in its own Pebble: a request another member takes is forwarded to
// the owner's "shard" grain, which answers it through the owner's own HTTP
// handler (one hop). Admin requests go to every member's node actor.

// shardKind is the cluster kind of the virtual shards.
const shardKind = "shard"

// nodeActorName is the actor every member runs for requests addressed to the
// member rather than to a key (cluster-wide admin, member information).
const nodeActorName = "prerender-node"

// etcdPrefix is the etcd key prefix of every prerenderd cluster; the
// cluster's name follows it.
const etcdPrefix = "/prerenderd"

// ErrClusterUnavailable: the member that owns the request's key could not be
// reached, once more after a change of membership.
var ErrClusterUnavailable = errors.New("the owner of this page in the cluster did not answer")

// clusterNode is this process's membership of the cluster. Its fields are set
// by JoinCluster before any request reaches it; view is replaced whole on each
// change of membership.
type clusterNode struct {
	app      *Appliance
	cfg      ClusterConfig
	c        *cluster.Cluster
	provider *etcdProvider
	handler  http.Handler
	self     string // this member's address
	node     *actor.PID
	replicas *actor.PID
	sub      *eventstream.Subscription
	view     atomic.Pointer[clusterView]
	m        clusterMetrics
	left     atomic.Bool
}

// clusterView is one membership and the owner it gives each virtual shard.
type clusterView struct {
	members []string // addresses, sorted
	ids     map[string]bool
	owners  []string // the owner's address, by virtual shard
	// backups is, by virtual shard, the member that keeps copies of its
	// owner's priority items: the one it is placed on if the owner leaves ("" in
	// a cluster of one).
	backups []string
	owned   int // virtual shards this member owns
	// pids caches each virtual shard's grain, so a forward is one hop (the
	// identity lookup asks the owner's activator otherwise).
	pids []atomic.Pointer[actor.PID]
	// changed is closed when the view is replaced.
	changed chan struct{}
}

type clusterMetrics struct {
	forwardedOut  *metrics.Counter
	forwardedIn   *metrics.Counter
	forwardErrors *metrics.Counter
	failovers     *metrics.Counter
	changes       *metrics.Counter
	hop           *metrics.PrometheusHistogram
	copyErrors    *metrics.Counter
	handedOver    *metrics.Counter
	moved         *metrics.Counter
	// hopNanos and hopCount give the dashboard the mean hop, which the
	// histogram's buckets cannot.
	hopNanos atomic.Int64
	hopCount atomic.Int64
}

// observeHop records one forwarded request that started at start.
func (m *clusterMetrics) observeHop(start time.Time) {
	d := time.Since(start)
	m.hop.Update(d.Seconds())
	m.hopNanos.Add(int64(d))
	m.hopCount.Add(1)
}

// hopBuckets are the seconds of a forwarded request, from a hit on another
// member (about a millisecond) to a render there.
var hopBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// JoinCluster makes this appliance a member of the cluster of
// Config.Cluster, whose forwarded requests h answers (the HTTP front). It
// returns when the member is registered, or with the reason it could not
// join. Without Cluster.Enabled it does nothing.
func (a *Appliance) JoinCluster(h http.Handler) error {
	cc := a.cfg.Cluster
	if !cc.Enabled {
		return nil
	}
	if a.cluster.Load() != nil {
		return errors.New("cannot join the cluster twice")
	}
	cn := &clusterNode{app: a, cfg: cc, handler: h}
	host, port, err := splitHostPort(cc.Bind)
	if err != nil {
		return fmt.Errorf("cannot join cluster %q: bind: %w", cc.Name, err)
	}
	size := cc.MaxMessageBytes
	ropts := []remote.ConfigOption{
		remote.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(size), grpc.MaxCallSendMsgSize(size))),
		remote.WithServerOptions(grpc.MaxRecvMsgSize(size), grpc.MaxSendMsgSize(size)),
	}
	if cc.Advertise != cc.Bind {
		ropts = append(ropts, remote.WithAdvertisedHost(cc.Advertise))
	}
	provider, err := newEtcdProvider(cc.EtcdEndpoints, cc.Name, cc.Lease, a.log)
	if err != nil {
		return fmt.Errorf("cannot join cluster %q: etcd client for %v: %w", cc.Name, cc.EtcdEndpoints, err)
	}
	cn.provider = provider
	kind := cluster.NewKind(shardKind, actor.PropsFromProducer(func() actor.Actor { return &shardGrain{node: cn} }))
	ccfg := cluster.Configure(cc.Name, provider, disthash.New(), remote.Configure(host, port, ropts...),
		cluster.WithKinds(kind), cluster.WithRequestTimeout(cc.ForwardTimeout))
	cn.c = cluster.New(a.system, ccfg)
	cn.registerMetrics(a.metrics.set)
	cn.setView(nil)
	// Subscribed before the member starts: its first topology must not be missed.
	cn.sub = a.system.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*cluster.ClusterTopology); ok {
			cn.setView(t.Members)
		}
	})
	cn.node, err = a.system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &nodeActor{node: cn} }), nodeActorName)
	if err != nil {
		a.system.EventStream.Unsubscribe(cn.sub)
		return fmt.Errorf("cannot join cluster %q: spawn node actor: %w", cc.Name, err)
	}
	cn.replicas, err = a.system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &replicaActor{node: cn} }), replicaActorName)
	if err != nil {
		a.system.EventStream.Unsubscribe(cn.sub)
		return fmt.Errorf("cannot join cluster %q: spawn replica actor: %w", cc.Name, err)
	}
	if err := startMember(cn.c); err != nil {
		a.system.EventStream.Unsubscribe(cn.sub)
		_ = provider.Shutdown(false)
		return fmt.Errorf("cannot join cluster %q through etcd %v: %w", cc.Name, cc.EtcdEndpoints, err)
	}
	cn.self = a.system.Address()
	a.cluster.Store(cn)
	a.log.Info("cluster joined", "cluster", cc.Name, "node", cc.Node, "address", cn.self,
		"members", len(cn.view.Load().members), "virtual_shards", cc.VirtualShards)
	return nil
}

// startMember starts protoactor's member, which panics when it cannot (an
// etcd that does not answer).
func startMember(c *cluster.Cluster) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	c.StartMember()
	return nil
}

// leave deregisters this member from etcd, so the others place its virtual
// shards at once instead of when its lease expires. Stop calls it first.
func (cn *clusterNode) leave() {
	if cn.left.Swap(true) {
		return
	}
	if err := cn.provider.Shutdown(true); err != nil {
		cn.app.log.Warn("cluster leave", "err", err)
	}
}

// shutdown ends the member's part in the actor system, after the actors
// stopped: the grains, the gossip and the gRPC server.
func (cn *clusterNode) shutdown() {
	cn.leave()
	cn.app.system.EventStream.Unsubscribe(cn.sub)
	cn.c.IdentityLookup.Shutdown()
	cn.c.Gossip.Shutdown()
	cn.c.Remote.Shutdown(false)
}

// setView runs in the goroutine that publishes the topology (protoactor's
// member list, under its lock): members are read here and nowhere else, since
// protoactor's MemberList.Members is not safe to read beside its writer.
//
// setView rebuilds the owners from a membership (disthash's rendezvous over
// the members, the placement protoactor uses) and publishes it.
func (cn *clusterNode) setView(members []*cluster.Member) {
	n := cn.cfg.VirtualShards
	v := &clusterView{owners: make([]string, n), backups: make([]string, n), pids: make([]atomic.Pointer[actor.PID], n), changed: make(chan struct{}), ids: map[string]bool{}}
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(members)
	for _, m := range members {
		if m.HasKind(shardKind) {
			v.members = append(v.members, m.Address())
			v.ids[m.Id] = true
		}
	}
	slices.Sort(v.members)
	self := cn.app.system.Address()
	// The backup of a virtual shard is its owner in the membership without the
	// owner: rendezvous over the rest, one per owner.
	without := map[string]*cluster.Rendezvous{}
	for i := range v.owners {
		id := cluster.NewClusterIdentity(strconv.Itoa(i), shardKind)
		o := rdv.GetByClusterIdentity(id)
		v.owners[i] = o
		if o == self {
			v.owned++
		}
		r, ok := without[o]
		if !ok {
			r = cluster.NewRendezvous()
			r.UpdateMembers(slices.DeleteFunc(slices.Clone(members), func(m *cluster.Member) bool { return m.Address() == o }))
			without[o] = r
		}
		v.backups[i] = r.GetByClusterIdentity(id)
	}
	old := cn.view.Swap(v)
	if old == nil {
		return
	}
	close(old.changed)
	if slices.Equal(old.members, v.members) {
		return
	}
	cn.m.changes.Inc()
	cn.app.log.Info("cluster membership changed", "members", len(v.members), "owned_virtual_shards", v.owned)
	// The backups changed with the membership: the queue sends its copies again.
	cn.app.system.Root.Send(cn.app.priority, &replicateAll{})
	for _, m := range old.members {
		if !slices.Contains(v.members, m) {
			// A member left: the copies of its queued recaches go to their new owners.
			cn.app.system.Root.Send(actor.NewPID(self, replicaActorName), &handOver{})
			break
		}
	}
}

// virtualShard is key's virtual shard.
func (cn *clusterNode) virtualShard(key string) int {
	return int(keyHash(key) % uint32(cn.cfg.VirtualShards))
}

func (cn *clusterNode) registerMetrics(s *metrics.Set) {
	cn.m = clusterMetrics{
		forwardedOut:  s.NewCounter(`prerender_cluster_forwarded_total{direction="out"}`),
		forwardedIn:   s.NewCounter(`prerender_cluster_forwarded_total{direction="in"}`),
		forwardErrors: s.NewCounter("prerender_cluster_forward_errors_total"),
		failovers:     s.NewCounter("prerender_cluster_failovers_total"),
		changes:       s.NewCounter("prerender_cluster_membership_changes_total"),
		hop:           s.NewPrometheusHistogramExt("prerender_cluster_hop_seconds", hopBuckets),
		copyErrors:    s.NewCounter("prerender_cluster_queue_copy_errors_total"),
		handedOver:    s.NewCounter("prerender_cluster_queue_handed_over_total"),
		moved:         s.NewCounter("prerender_cluster_queue_moved_total"),
	}
	s.NewGauge("prerender_cluster_members", func() float64 {
		if v := cn.view.Load(); v != nil {
			return float64(len(v.members))
		}
		return 0
	})
	s.NewGauge("prerender_cluster_virtual_shards_owned", func() float64 {
		if v := cn.view.Load(); v != nil {
			return float64(v.owned)
		}
		return 0
	})
	s.NewGauge("prerender_cluster_virtual_shards", func() float64 { return float64(cn.cfg.VirtualShards) })
}

// forwardedKey marks the context of a request another member forwarded: it
// is answered here, whatever this member's view of its owner.
type forwardedKey struct{}

// Forwarded reports whether ctx is a request another member of the cluster
// forwarded to this one.
func Forwarded(ctx context.Context) bool {
	f, _ := ctx.Value(forwardedKey{}).(bool)
	return f
}

// Clustered reports whether this appliance is configured as a member of a
// cluster (it joins in JoinCluster).
func (a *Appliance) Clustered() bool { return a.cfg.Cluster.Enabled }

// NodeName is this member's name (cluster.node), "" outside a cluster.
func (a *Appliance) NodeName() string {
	if !a.cfg.Cluster.Enabled {
		return ""
	}
	return a.cfg.Cluster.Node
}

// OwnedElsewhere reports whether another member owns key: the caller then
// forwards the request (ForwardPage). It is false outside a cluster and for
// a request that was forwarded here.
func (a *Appliance) OwnedElsewhere(ctx context.Context, key string) bool {
	cn := a.cluster.Load()
	if cn == nil || Forwarded(ctx) {
		return false
	}
	owner := cn.view.Load().owners[cn.virtualShard(key)]
	return owner != "" && owner != cn.self
}

// OwnerOf is the address of the member that owns key, and whether that is
// this one. Outside a cluster every key is this appliance's.
func (a *Appliance) OwnerOf(key string) (string, bool) {
	cn := a.cluster.Load()
	if cn == nil {
		return "", true
	}
	owner := cn.view.Load().owners[cn.virtualShard(key)]
	return owner, owner == "" || owner == cn.self
}

// HTTPRequest is a request one member forwards to another.
type HTTPRequest struct {
	Method     string
	RequestURI string
	Host       string
	RemoteAddr string
	Header     http.Header
	Body       []byte
}

// HTTPAnswer is the whole answer of a forwarded request.
type HTTPAnswer struct {
	Status int
	Header http.Header
	Body   []byte
	// Node names the member that answered.
	Node string
	// Address is that member's cluster address.
	Address string
}

func (r *HTTPRequest) message(vshard int) *clusterpb.ForwardedRequest {
	return &clusterpb.ForwardedRequest{
		Method: r.Method, RequestUri: r.RequestURI, Host: r.Host, RemoteAddr: r.RemoteAddr,
		Header: headersOf(r.Header), Body: r.Body, VirtualShard: int32(vshard),
	}
}

func headersOf(h http.Header) []*clusterpb.Header {
	out := make([]*clusterpb.Header, 0, len(h))
	for k, vs := range h {
		out = append(out, &clusterpb.Header{Name: k, Values: vs})
	}
	return out
}

func headerOf(hs []*clusterpb.Header) http.Header {
	h := make(http.Header, len(hs))
	for _, kv := range hs {
		h[kv.Name] = kv.Values
	}
	return h
}

// ForwardPage sends a request for key to the member that owns it and returns
// its answer. A member that does not answer (killed, leaving) is tried once
// more, after the membership changed or Cluster.FailoverWait passed.
func (a *Appliance) ForwardPage(ctx context.Context, key string, r *HTTPRequest) (*HTTPAnswer, error) {
	cn := a.cluster.Load()
	if cn == nil {
		return nil, errors.New("not a member of a cluster")
	}
	vs := cn.virtualShard(key)
	msg := r.message(vs)
	var last error
	for attempt := 0; attempt < 2; attempt++ {
		v := cn.view.Load()
		start := time.Now()
		if attempt > 0 && v.owners[vs] == cn.self {
			// Failed over to this member: answer here, as the owner does.
			r := cn.answer(ctx, msg)
			return &HTTPAnswer{Status: int(r.Status), Header: headerOf(r.Header), Body: r.Body, Node: r.Node, Address: cn.self}, nil
		}
		ans, err := cn.requestShard(ctx, v, vs, msg)
		if err == nil {
			cn.m.forwardedOut.Inc()
			cn.m.observeHop(start)
			return ans, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		v.pids[vs].Store(nil)
		if attempt == 0 {
			cn.m.failovers.Inc()
			a.log.Warn("cluster forward failed, failing over", "virtual_shard", vs, "owner", v.owners[vs], "err", err)
			cn.waitChange(ctx, v)
		}
	}
	cn.m.forwardErrors.Inc()
	return nil, fmt.Errorf("%w: virtual shard %d: %w", ErrClusterUnavailable, vs, last)
}

// waitChange waits until the view replaces v, or FailoverWait.
func (cn *clusterNode) waitChange(ctx context.Context, v *clusterView) {
	t := time.NewTimer(cn.cfg.FailoverWait)
	defer t.Stop()
	select {
	case <-v.changed:
	case <-t.C:
	case <-ctx.Done():
	}
}

// requestShard asks virtual shard vs's grain, wherever it is placed.
func (cn *clusterNode) requestShard(ctx context.Context, v *clusterView, vs int, msg *clusterpb.ForwardedRequest) (*HTTPAnswer, error) {
	start := time.Now()
	pid := v.pids[vs].Load()
	for pid == nil {
		// disthash's placement follows the same topology, maybe a moment later:
		// a lookup that finds no owner is tried again within FailoverWait.
		if pid = cn.c.Get(strconv.Itoa(vs), shardKind); pid != nil {
			v.pids[vs].Store(pid)
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Since(start) > cn.cfg.FailoverWait {
			return nil, fmt.Errorf("no member activates virtual shard %d", vs)
		}
	}
	return cn.request(ctx, pid, msg)
}

// request sends msg to pid and waits for its ForwardedResponse.
func (cn *clusterNode) request(ctx context.Context, pid *actor.PID, msg *clusterpb.ForwardedRequest) (*HTTPAnswer, error) {
	timeout := cn.cfg.ForwardTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	type result struct {
		res any
		err error
	}
	fut := cn.app.system.Root.RequestFuture(pid, msg, timeout)
	// The future ends by its timeout at the latest; this goroutine with it.
	// A member killed with -9 never answers, so the wait also ends when the
	// member leaves the membership, and the caller fails over at once.
	done := make(chan result, 1)
	go func() {
		res, err := fut.Result()
		done <- result{res, err}
	}()
	var res any
	for {
		v := cn.view.Load()
		if pid.Address != cn.self && !slices.Contains(v.members, pid.Address) {
			return nil, fmt.Errorf("forward to %s: the member left the cluster", pid.Address)
		}
		select {
		case r := <-done:
			if r.err != nil {
				return nil, fmt.Errorf("forward to %s: %w", pid.Address, r.err)
			}
			res = r.res
		case <-v.changed:
			continue
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		break
	}
	r, ok := res.(*clusterpb.ForwardedResponse)
	if !ok {
		return nil, fmt.Errorf("forward to %s: answered %T", pid.Address, res)
	}
	if r.Moved {
		return nil, fmt.Errorf("forward to %s: the member is leaving", pid.Address)
	}
	return &HTTPAnswer{Status: int(r.Status), Header: headerOf(r.Header), Body: r.Body, Node: r.Node, Address: pid.Address}, nil
}

// Broadcast sends r to every member, this one included, and returns their
// answers in the order of their addresses. A member that does not answer is
// asked once more after the membership changed (a killed member is then gone
// from it); the error names the members that still did not answer.
func (a *Appliance) Broadcast(ctx context.Context, r *HTTPRequest) ([]*HTTPAnswer, error) {
	cn := a.cluster.Load()
	if cn == nil {
		return nil, errors.New("not a member of a cluster")
	}
	msg := r.message(-1)
	v := cn.view.Load()
	answers, failed := cn.askAll(ctx, v.members, msg)
	if len(failed) == 0 {
		return answers, nil
	}
	cn.waitChange(ctx, v)
	v = cn.view.Load()
	var again []string
	for _, m := range failed {
		if slices.Contains(v.members, m) {
			again = append(again, m)
		}
	}
	more, still := cn.askAll(ctx, again, msg)
	answers = append(answers, more...)
	if len(still) > 0 {
		return answers, fmt.Errorf("%w: members %v", ErrClusterUnavailable, still)
	}
	return answers, nil
}

// ForwardToOwnerOf sends r to the member that owns key's virtual shard as the
// view has it now, through that member's node actor (not the key's grain: a
// request for many keys of one owner, /recache).
func (a *Appliance) ForwardToOwnerOf(ctx context.Context, key string, r *HTTPRequest) (*HTTPAnswer, error) {
	cn := a.cluster.Load()
	if cn == nil {
		return nil, errors.New("not a member of a cluster")
	}
	owner := cn.view.Load().owners[cn.virtualShard(key)]
	answers, failed := cn.askAll(ctx, []string{owner}, r.message(-1))
	if len(failed) > 0 {
		return nil, fmt.Errorf("%w: member %s", ErrClusterUnavailable, owner)
	}
	cn.m.forwardedOut.Inc()
	return answers[0], nil
}

// askAll asks the node actor of each member at once.
func (cn *clusterNode) askAll(ctx context.Context, members []string, msg *clusterpb.ForwardedRequest) ([]*HTTPAnswer, []string) {
	type result struct {
		ans *HTTPAnswer
		err error
	}
	results := make([]result, len(members))
	done := make(chan struct{}, len(members))
	for i, m := range members {
		go func() {
			defer func() { done <- struct{}{} }()
			ans, err := cn.request(ctx, actor.NewPID(m, nodeActorName), msg)
			results[i] = result{ans, err}
		}()
	}
	for range members {
		<-done
	}
	var answers []*HTTPAnswer
	var failed []string
	for i, r := range results {
		if r.err != nil {
			cn.app.log.Warn("cluster member did not answer", "member", members[i], "err", r.err)
			failed = append(failed, members[i])
			continue
		}
		answers = append(answers, r.ans)
	}
	return answers, failed
}

// ClusterState is the membership as this member sees it, for /api/cluster.
type ClusterState struct {
	Enabled       bool
	Name          string
	Node          string
	Address       string
	VirtualShards int
	Members       []ClusterMember
	// ForwardedOut and ForwardedIn count this member's requests sent to and
	// answered for other members since it started; ForwardErrors those that
	// found no owner even after a failover. Hops is how many forwarded page
	// requests HopMean averages.
	ForwardedOut, ForwardedIn, ForwardErrors uint64
	Hops                                     int64
	HopMean                                  time.Duration
}

// ClusterMember is one member and the virtual shards it owns.
type ClusterMember struct {
	Name          string
	Address       string
	Self          bool
	VirtualShards int
	Pages         int64
	// Err: the member did not say who it is.
	Err string
}

// ClusterState asks every member about itself.
func (a *Appliance) ClusterState(ctx context.Context) ClusterState {
	cn := a.cluster.Load()
	if cn == nil {
		return ClusterState{}
	}
	v := cn.view.Load()
	st := ClusterState{Enabled: true, Name: cn.cfg.Name, Node: cn.cfg.Node, Address: cn.self, VirtualShards: cn.cfg.VirtualShards,
		ForwardedOut: cn.m.forwardedOut.Get(), ForwardedIn: cn.m.forwardedIn.Get(), ForwardErrors: cn.m.forwardErrors.Get(),
		Hops: cn.m.hopCount.Load()}
	if st.Hops > 0 {
		st.HopMean = time.Duration(cn.m.hopNanos.Load() / st.Hops)
	}
	owned := map[string]int{}
	for _, o := range v.owners {
		owned[o]++
	}
	st.Members = make([]ClusterMember, len(v.members))
	done := make(chan struct{}, len(v.members))
	for i, m := range v.members {
		st.Members[i] = ClusterMember{Address: m, Self: m == cn.self, VirtualShards: owned[m]}
		if m == cn.self {
			st.Members[i].Name, st.Members[i].Pages = cn.cfg.Node, a.store.PageCount()
			done <- struct{}{}
			continue
		}
		go func() {
			defer func() { done <- struct{}{} }()
			res, err := a.system.Root.RequestFuture(actor.NewPID(m, nodeActorName), &clusterpb.NodeInfoRequest{}, 5*time.Second).Result()
			info, ok := res.(*clusterpb.NodeInfo)
			switch {
			case err != nil:
				st.Members[i].Err = err.Error()
			case !ok:
				st.Members[i].Err = fmt.Sprintf("answered %T", res)
			default:
				st.Members[i].Name, st.Members[i].Pages = info.Name, info.Pages
			}
		}()
	}
	for range v.members {
		<-done
	}
	return st
}
