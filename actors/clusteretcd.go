package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdProvider is protoactor's ClusterProvider over etcd: each member holds
// one key under /prerenderd/<cluster>/ bound to a lease it keeps alive, and
// every member watches the prefix and hands the members to protoactor's
// member list. It replaces protoactor's clusterproviders/etcd (v0 2024-08),
// which (1) watches from "now" instead of the revision it read, so a member
// registering in between (nodes started together) is never seen, (2) drops
// itself from its own view for good when its lease lapses once (and the
// others block its id for good), and (3) fixes the lease at 3 s, shorter than
// a stall of a busy 2-core machine. A member whose lease lapses registers
// again under a new id (generation).
type etcdProvider struct {
	client *clientv3.Client
	prefix string
	ttl    time.Duration
	log    *slog.Logger

	c      *cluster.Cluster
	self   etcdMember
	key    string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	members map[string]etcdMember // by id, self included
	stopped bool
	// generation counts the registrations after a lost lease; self.ID and
	// key change with it (keepAlive owns them; Shutdown reads key after
	// keepAlive ended).
	generation int
}

// etcdMember is a member's value in etcd.
type etcdMember struct {
	ID    string   `json:"id"`
	Host  string   `json:"host"`
	Port  int      `json:"port"`
	Kinds []string `json:"kinds"`
}

func newEtcdProvider(endpoints []string, name string, ttl time.Duration, log *slog.Logger) (*etcdProvider, error) {
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	return &etcdProvider{client: client, prefix: etcdPrefix + "/" + name + "/", ttl: ttl, log: log, members: map[string]etcdMember{}}, nil
}

// StartMember registers this member and starts watching the others. It
// returns once both are done, or the first error.
func (p *etcdProvider) StartMember(c *cluster.Cluster) error {
	p.c = c
	host, port, err := splitHostPort(c.ActorSystem.Address())
	if err != nil {
		return fmt.Errorf("member address %q: %w", c.ActorSystem.Address(), err)
	}
	p.self = etcdMember{ID: c.Config.Name + "@" + c.ActorSystem.ID, Host: host, Port: port, Kinds: c.GetClusterKinds()}
	p.key = p.prefix + p.self.ID
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	lease, err := p.register(ctx)
	if err != nil {
		cancel()
		return err
	}
	rev, err := p.read(ctx)
	if err != nil {
		cancel()
		return err
	}
	p.publish()
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.keepAlive(ctx, lease) }()
	go func() { defer p.wg.Done(); p.watch(ctx, rev) }()
	return nil
}

// StartClient is not used: every prerenderd is a member.
func (p *etcdProvider) StartClient(*cluster.Cluster) error {
	return errors.New("prerenderd's etcd provider has members only")
}

// Shutdown removes this member's key, so the others place its virtual
// shards at once, and stops watching.
func (p *etcdProvider) Shutdown(bool) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	p.mu.Unlock()
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := p.client.Delete(ctx, p.key)
	return errors.Join(err, p.client.Close())
}

// register puts this member's key under a new lease.
func (p *etcdProvider) register(ctx context.Context) (clientv3.LeaseID, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	g, err := p.client.Grant(rctx, int64(p.ttl/time.Second))
	if err != nil {
		return 0, fmt.Errorf("etcd lease: %w", err)
	}
	b, _ := json.Marshal(p.self)
	if _, err := p.client.Put(rctx, p.key, string(b), clientv3.WithLease(g.ID)); err != nil {
		return 0, fmt.Errorf("etcd put %s: %w", p.key, err)
	}
	return g.ID, nil
}

// read loads every member and returns the revision read.
func (p *etcdProvider) read(ctx context.Context) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := p.client.Get(rctx, p.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("etcd get %s: %w", p.prefix, err)
	}
	p.mu.Lock()
	p.members = map[string]etcdMember{p.self.ID: p.self}
	for _, kv := range resp.Kvs {
		var m etcdMember
		if json.Unmarshal(kv.Value, &m) == nil && m.ID != "" {
			p.members[m.ID] = m
		}
	}
	p.mu.Unlock()
	return resp.Header.Revision, nil
}

// keepAlive keeps the lease; a lease that lapsed anyway (etcd unreachable
// for longer than the TTL) is replaced and the key put again.
func (p *etcdProvider) keepAlive(ctx context.Context, lease clientv3.LeaseID) {
	for ctx.Err() == nil {
		ch, err := p.client.KeepAlive(ctx, lease)
		if err == nil {
			for range ch {
			}
		}
		if ctx.Err() != nil {
			return
		}
		// Under a new id: protoactor's member list blocks for good an id that
		// left, and the others saw this one leave.
		p.mu.Lock()
		delete(p.members, p.self.ID)
		p.generation++
		p.self.ID = fmt.Sprintf("%s@%s.%d", p.c.Config.Name, p.c.ActorSystem.ID, p.generation)
		p.key = p.prefix + p.self.ID
		p.members[p.self.ID] = p.self
		p.mu.Unlock()
		p.log.Warn("cluster: etcd lease lost, registering again", "member", p.self.ID, "err", err)
		for ctx.Err() == nil {
			if lease, err = p.register(ctx); err == nil {
				break
			}
			p.log.Warn("cluster: cannot register in etcd", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// watch follows the members from the revision after rev; a watch that ends
// (etcd restarted, the revision compacted) reads them again.
func (p *etcdProvider) watch(ctx context.Context, rev int64) {
	for ctx.Err() == nil {
		for resp := range p.client.Watch(ctx, p.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if resp.Err() != nil {
				p.log.Warn("cluster: etcd watch", "err", resp.Err())
				break
			}
			p.mu.Lock()
			for _, ev := range resp.Events {
				id := path.Base(string(ev.Kv.Key))
				switch ev.Type {
				case clientv3.EventTypePut:
					var m etcdMember
					if json.Unmarshal(ev.Kv.Value, &m) == nil && m.ID != "" {
						p.members[m.ID] = m
					}
				case clientv3.EventTypeDelete:
					// This member stays in its own view: its lease is put again
					// (keepAlive) and it still answers what it is sent.
					if id != p.self.ID {
						delete(p.members, id)
					}
				}
			}
			p.mu.Unlock()
			rev = resp.Header.Revision
			p.publish()
		}
		if ctx.Err() != nil {
			return
		}
		var err error
		for ctx.Err() == nil {
			if rev, err = p.read(ctx); err == nil {
				p.publish()
				break
			}
			p.log.Warn("cluster: cannot read the members from etcd", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// publish hands the members to protoactor's member list, which places the
// identities and publishes the topology (cluster.go's setView).
func (p *etcdProvider) publish() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	list := make([]*cluster.Member, 0, len(p.members))
	for _, m := range p.members {
		list = append(list, &cluster.Member{Id: m.ID, Host: m.Host, Port: int32(m.Port), Kinds: m.Kinds})
	}
	p.mu.Unlock()
	p.c.MemberList.UpdateClusterTopology(list)
}
