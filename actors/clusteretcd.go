package actors

import (
	"context"
	"path"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// protoactor's etcd provider reads the members once, then watches for
// changes from "now" rather than from the revision it read: a member that
// registers between the two (nodes started together, as systemd or a
// StatefulSet does) is never seen by the one starting, until it registers
// again. resyncEvery, every member compares the members registered in etcd
// with its own view and writes each one it misses again, unchanged and under
// its own lease: the Put reaches every member's watch, and the member joins
// their views.
const resyncEvery = 2 * time.Second

// resyncLoop runs until ctx ends (the appliance's background context).
func (cn *clusterNode) resyncLoop(ctx context.Context, client *clientv3.Client) {
	defer client.Close()
	prefix := etcdPrefix + "/" + cn.cfg.Name + "/"
	t := time.NewTicker(resyncEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if cn.left.Load() {
			return
		}
		cn.resync(ctx, client, prefix)
	}
}

func (cn *clusterNode) resync(ctx context.Context, client *clientv3.Client, prefix string) {
	rctx, cancel := context.WithTimeout(ctx, resyncEvery)
	defer cancel()
	resp, err := client.Get(rctx, prefix, clientv3.WithPrefix())
	if err != nil {
		cn.app.log.Warn("cluster resync: cannot read etcd", "err", err)
		return
	}
	known := map[string]bool{}
	for _, m := range cn.c.MemberList.Members().Members() {
		known[m.Id] = true
	}
	blocked := cn.c.Remote.BlockList()
	for _, kv := range resp.Kvs {
		id := path.Base(string(kv.Key))
		if known[id] || blocked.IsBlocked(id) || kv.Lease == 0 {
			continue
		}
		if _, err := client.Put(rctx, string(kv.Key), string(kv.Value), clientv3.WithLease(clientv3.LeaseID(kv.Lease))); err != nil {
			cn.app.log.Warn("cluster resync: cannot announce member again", "member", id, "err", err)
			continue
		}
		cn.app.log.Info("cluster resync: member announced again", "member", id)
	}
}
