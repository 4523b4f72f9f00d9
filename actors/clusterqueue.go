package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"prerenderd/actors/clusterpb"
	"prerenderd/storage"
)

// This file keeps a cluster's priority queues whole when a member is killed
// for good, queues work on the member that owns it, and shares the cluster's
// recache pace among the members.
//
// Each item the owner of a key queues is copied to the key's virtual shard's
// backup: the member rendezvous hashing places the shard on once the owner
// is gone, so that the copy is already where the work goes. The owner tells
// every member when it rendered the item, and they drop their copies. When a
// member leaves the membership, each member hands the copies of its items to
// the new owner of their keys (itself, mostly) and drops them once that
// owner acknowledged them. The alternative, the member that took the /recache
// keeping it until the owner confirms, protects nothing the owner queued
// itself (stale and retry recaches, sitemap URLs, a /recache sent to the
// owner): copies held by the successor protect every item.

// replicaActorName is the actor each member runs to keep the copies of the
// other members' priority items.
const replicaActorName = "prerender-replicas"

// copyBatch bounds the items of one ReplicaPut or QueueOnOwner message.
const copyBatch = 500

// copyTimeout bounds how long an acknowledged recache waits for the backups
// to store their copies; the owner has persisted the items either way.
const copyTimeout = 5 * time.Second

func entryOf(it storage.QueueItem) *clusterpb.QueueEntry {
	return &clusterpb.QueueEntry{Seq: it.Seq, Key: it.Key, Url: it.URL, Source: it.Source, EnqueuedAtUnixNano: it.EnqueuedAt.UnixNano()}
}

func itemOf(e *clusterpb.QueueEntry) storage.QueueItem {
	return storage.QueueItem{Seq: e.Seq, Key: e.Key, URL: e.Url, Source: e.Source, EnqueuedAt: time.Unix(0, e.EnqueuedAtUnixNano).UTC()}
}

// sendCopies sends copies of items to the backups of their virtual shards,
// in batches. With ack it returns the futures of the backups' answers;
// without, the copies are sent and not waited for.
func (cn *clusterNode) sendCopies(items []storage.QueueItem, ack bool) []*actor.Future {
	v := cn.view.Load()
	by := map[string][]*clusterpb.QueueEntry{}
	for _, it := range items {
		b := v.backups[cn.virtualShard(it.Key)]
		if b == "" || b == cn.self {
			continue
		}
		by[b] = append(by[b], entryOf(it))
	}
	root := cn.app.system.Root
	var futs []*actor.Future
	for b, es := range by {
		pid := actor.NewPID(b, replicaActorName)
		for len(es) > 0 {
			n := min(len(es), copyBatch)
			msg := &clusterpb.ReplicaPut{Owner: cn.self, Items: es[:n]}
			es = es[n:]
			if ack {
				futs = append(futs, root.RequestFuture(pid, msg, copyTimeout))
			} else {
				root.Send(pid, msg)
			}
		}
	}
	return futs
}

// dropCopies tells every other member that this one rendered the items of
// seqs: whichever keeps their copies (the backup may have changed since they
// were sent) drops them.
func (cn *clusterNode) dropCopies(seqs ...uint64) {
	v := cn.view.Load()
	msg := &clusterpb.ReplicaDone{Owner: cn.self, Seqs: seqs}
	for _, m := range v.members {
		if m != cn.self {
			cn.app.system.Root.Send(actor.NewPID(m, replicaActorName), msg)
		}
	}
}

// waitCopies waits for the backups' answers; a backup that failed is
// logged, not returned: the owner has the items on disk.
func (cn *clusterNode) waitCopies(futs []*actor.Future) {
	for _, f := range futs {
		res, err := f.Result()
		if ack, ok := res.(*clusterpb.ReplicaAck); err == nil && (!ok || ack.Error != "") {
			err = fmt.Errorf("answered %T %v", res, ack)
		}
		if err != nil {
			cn.m.copyErrors.Inc()
			cn.app.log.Warn("a backup did not keep copies of queued recaches; they are on this member's disk only", "backup", f.PID().Address, "err", err)
		}
	}
}

// replicaActor keeps the copies of other members' priority items in this
// member's Pebble. Its writes run in Receive: they are small and fsynced, one
// message at a time keeps each owner's puts and drops in the order they were
// sent, and its mailbox serves nothing else. Hand-overs, which wait for other
// members, run in a goroutine the appliance owns.
type replicaActor struct {
	node     *clusterNode
	handing  bool // a hand-over runs
	handMore bool // the membership changed again meanwhile
}

// handOver asks the replica actor to hand the copies of members that left to
// their keys' new owners; handedOver says a hand-over ended.
type handOver struct{}
type handedOver struct{}

func (r *replicaActor) Receive(ctx actor.Context) {
	st := r.node.app.store
	switch m := ctx.Message().(type) {
	case *clusterpb.ReplicaPut:
		items := make([]storage.QueueItem, len(m.Items))
		for i, e := range m.Items {
			items[i] = itemOf(e)
		}
		ack := &clusterpb.ReplicaAck{}
		if err := st.PutReplicas(m.Owner, items); err != nil {
			ack.Error = err.Error()
			r.node.app.log.Error("cannot keep copies of another member's queued recaches", "owner", m.Owner, "items", len(items), "err", err)
		}
		if ctx.Sender() != nil {
			ctx.Respond(ack)
		}
	case *clusterpb.ReplicaDone:
		if err := st.DeleteReplicas(m.Owner, m.Seqs...); err != nil {
			r.node.app.log.Warn("cannot drop copies of rendered recaches; they may be rendered once more if their owner leaves", "owner", m.Owner, "err", err)
		}
	case *handOver:
		if r.handing {
			r.handMore = true
			return
		}
		self, root := ctx.Self(), r.node.app.system.Root
		r.handing = r.node.app.goBackground(func(bg context.Context) {
			defer root.Send(self, &handedOver{})
			r.node.handOverCopies(bg)
		})
	case *handedOver:
		r.handing = false
		if r.handMore {
			r.handMore = false
			ctx.Send(ctx.Self(), &handOver{})
		}
	}
}

// handOverCopies queues the copies of every member that is no longer in the
// membership on their keys' owners, and drops them once queued there. Copies
// that could not be queued are kept for the next change of membership.
func (cn *clusterNode) handOverCopies(ctx context.Context) {
	v := cn.view.Load()
	live := map[string]bool{}
	for _, m := range v.members {
		live[m] = true
	}
	st := cn.app.store
	left := map[string][]storage.QueueItem{}
	err := st.ScanReplicas(func(owner string, it storage.QueueItem, err error) bool {
		if err != nil {
			cn.app.log.Error("a copy of a queued recache is unreadable; dropped", "owner", owner, "seq", it.Seq, "err", err)
			if owner != "" {
				_ = st.DeleteReplicas(owner, it.Seq)
			}
			return true
		}
		if !live[owner] {
			left[owner] = append(left[owner], it)
		}
		return true
	})
	if err != nil {
		cn.app.log.Error("cannot read the copies of queued recaches", "err", err)
	}
	for owner, items := range left {
		seqs := make([]uint64, len(items))
		for i := range items {
			seqs[i] = items[i].Seq
		}
		res, err := cn.app.queueOnOwners(ctx, items)
		if err != nil {
			cn.app.log.Warn("cannot hand the queued recaches of a member that left to their new owners; kept for the next change", "owner", owner, "items", len(items), "err", err)
			continue
		}
		if err := st.DeleteReplicas(owner, seqs...); err != nil {
			cn.app.log.Warn("cannot drop handed-over copies", "owner", owner, "err", err)
		}
		cn.m.handedOver.Add(len(items))
		cn.app.log.Info("queued recaches of a member that left handed to their new owners", "owner", owner,
			"items", len(items), "queued", res.Queued, "duplicate", res.Duplicate)
	}
}

// queueOnOwners queues items in the priority queue of the member that owns
// each key: this one's directly, the others' through their node actor. It
// returns once every owner has persisted its items.
func (a *Appliance) queueOnOwners(ctx context.Context, items []storage.QueueItem) (RecacheResult, error) {
	cn := a.cluster.Load()
	if cn == nil {
		return a.queueItems(ctx, items)
	}
	v := cn.view.Load()
	by := map[string][]storage.QueueItem{}
	for _, it := range items {
		it.Seq = 0 // the owner's queue numbers it
		o := v.owners[cn.virtualShard(it.Key)]
		if o == "" {
			o = cn.self
		}
		by[o] = append(by[o], it)
	}
	var total RecacheResult
	var errs []error
	for o, its := range by {
		var r RecacheResult
		var err error
		if o == cn.self {
			r, err = a.queueItems(ctx, its)
		} else {
			r, err = cn.queueOn(ctx, o, its)
		}
		total.Queued += r.Queued
		total.Duplicate += r.Duplicate
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// queueOn asks member to queue items, in batches, and waits for its answers.
func (cn *clusterNode) queueOn(ctx context.Context, member string, items []storage.QueueItem) (RecacheResult, error) {
	var total RecacheResult
	pid := actor.NewPID(member, nodeActorName)
	for len(items) > 0 {
		n := min(len(items), copyBatch)
		msg := &clusterpb.QueueOnOwner{Items: make([]*clusterpb.QueueEntry, n)}
		for i, it := range items[:n] {
			msg.Items[i] = entryOf(it)
		}
		items = items[n:]
		if err := ctx.Err(); err != nil {
			return total, err
		}
		res, err := cn.app.system.Root.RequestFuture(pid, msg, cn.cfg.ForwardTimeout).Result()
		ans, ok := res.(*clusterpb.QueuedOnOwner)
		switch {
		case err != nil:
			return total, fmt.Errorf("cannot queue %d recaches on %s: %w", n, member, err)
		case !ok:
			return total, fmt.Errorf("cannot queue %d recaches on %s: answered %T", n, member, res)
		}
		total.Queued += int(ans.Queued)
		total.Duplicate += int(ans.Duplicate)
		if ans.Error != "" {
			return total, fmt.Errorf("cannot queue %d recaches on %s: %s", n, member, ans.Error)
		}
	}
	return total, nil
}

// serveQueueOnOwner queues the items another member sent this one (their
// keys' owner), in a goroutine the appliance owns, and answers the sender.
func (cn *clusterNode) serveQueueOnOwner(ctx actor.Context, m *clusterpb.QueueOnOwner) {
	sender := ctx.Sender()
	items := make([]storage.QueueItem, len(m.Items))
	for i, e := range m.Items {
		items[i] = itemOf(e)
		items[i].Seq = 0
	}
	root := cn.app.system.Root
	if !cn.app.goBackground(func(bg context.Context) {
		r, err := cn.app.queueItems(bg, items)
		ans := &clusterpb.QueuedOnOwner{Queued: int32(r.Queued), Duplicate: int32(r.Duplicate)}
		if err != nil {
			ans.Error = err.Error()
		}
		if sender != nil {
			root.Send(sender, ans)
		}
	}) && sender != nil {
		ctx.Respond(&clusterpb.QueuedOnOwner{Error: ErrStopping.Error()})
	}
}

// paceShare is one member's part of the cluster's priority pace perHour
// (URLs per hour): perHour × its virtual shards / all virtual shards, so that
// the members, each pacing the keys it owns, together keep perHour. A member
// that owns no virtual shard (yet) paces what it holds at one shard's part.
// Outside a cluster (shards 0) it is perHour.
func paceShare(perHour, owned, shards int) float64 {
	if shards <= 0 || perHour <= 0 {
		return float64(perHour)
	}
	return float64(perHour) * float64(min(max(owned, 1), shards)) / float64(shards)
}

// priorityShare is this member's part of the priority pace perHour.
func (a *Appliance) priorityShare(perHour int) float64 {
	cn := a.cluster.Load()
	if cn == nil {
		return float64(perHour)
	}
	return paceShare(perHour, cn.view.Load().owned, cn.cfg.VirtualShards)
}
