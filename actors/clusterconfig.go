package actors

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// The defaults of ClusterConfig, the same as config.toml's [cluster].
const (
	defaultClusterName        = "prerenderd"
	defaultClusterProvider    = "etcd"
	defaultClusterBind        = "127.0.0.1:7946"
	defaultVirtualShards      = 4096
	defaultForwardTimeout     = 2 * time.Minute
	defaultFailoverWait       = 15 * time.Second
	defaultClusterMessageSize = 64 << 20
	defaultClusterLease       = 5 * time.Second
)

// ClusterConfig is [cluster] of config.toml: the members of one cluster share
// one cache, each key owned by one member (cluster.go).
type ClusterConfig struct {
	// Enabled makes this process a member of the cluster Name. Off, nothing of
	// the cluster starts: no gRPC listener, no etcd client.
	Enabled bool
	// Name is the cluster's name: members of one name form one cluster (the
	// etcd key prefix); default "prerenderd".
	Name string
	// Node is this member's name, sent as X-Prerender-Node; default the host
	// name. Unique per member.
	Node string
	// Provider finds the members: "etcd" (the only one built in).
	Provider string
	// EtcdEndpoints are the etcd servers ("host:port").
	EtcdEndpoints []string
	// Bind is the host:port the cluster's gRPC listens on (port 0: any free
	// port, for tests).
	Bind string
	// Advertise is the host:port the other members dial; default Bind, which
	// then must name a host, not 0.0.0.0.
	Advertise string
	// VirtualShards is how many owner identities the keys are spread over. It
	// is fixed for the life of a cluster: a key's virtual shard is its hash
	// modulo this number, so every member must use the same.
	VirtualShards int
	// ForwardTimeout bounds a request one member forwards to another.
	ForwardTimeout time.Duration
	// FailoverWait is how long a request whose owner died waits for the
	// membership to change before it is sent, once, to the new owner.
	FailoverWait time.Duration
	// Lease is the TTL of a member's etcd key: a member killed with -9 is
	// gone from the others' views this long after, at most; a member that
	// cannot reach etcd for longer is dropped (default 5s, whole seconds).
	Lease time.Duration
	// MaxMessageBytes bounds one gRPC message between members (a page with
	// its headers); default 64 MiB.
	MaxMessageBytes int
}

// EnsureDefaults fills the zero fields. The node name defaults to the host's.
func (c *ClusterConfig) EnsureDefaults() {
	if c.Name == "" {
		c.Name = defaultClusterName
	}
	if c.Provider == "" {
		c.Provider = defaultClusterProvider
	}
	if c.Bind == "" {
		c.Bind = defaultClusterBind
	}
	if c.Advertise == "" {
		c.Advertise = c.Bind
	}
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	setDefault(&c.VirtualShards, defaultVirtualShards)
	setDefault(&c.ForwardTimeout, defaultForwardTimeout)
	setDefault(&c.FailoverWait, defaultFailoverWait)
	setDefault(&c.MaxMessageBytes, defaultClusterMessageSize)
	setDefault(&c.Lease, defaultClusterLease)
}

// Validate names the first field that cannot work. A cluster that is not
// enabled is not checked: its keys may hold anything.
func (c *ClusterConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	switch {
	case c.Name == "":
		return errors.New("invalid Cluster.Name: must not be empty")
	case c.Node == "":
		return errors.New("invalid Cluster.Node: must not be empty (the host name could not be read)")
	case c.Provider != "etcd":
		return fmt.Errorf("invalid Cluster.Provider %q: the provider built in is \"etcd\"", c.Provider)
	case len(c.EtcdEndpoints) == 0:
		return errors.New("invalid Cluster.EtcdEndpoints: the etcd provider needs at least one endpoint")
	case c.VirtualShards <= 0 || c.VirtualShards > 65536:
		return fmt.Errorf("invalid Cluster.VirtualShards %d: must be between 1 and 65536", c.VirtualShards)
	case c.ForwardTimeout <= 0:
		return fmt.Errorf("invalid Cluster.ForwardTimeout %s: must be positive", c.ForwardTimeout)
	case c.FailoverWait <= 0:
		return fmt.Errorf("invalid Cluster.FailoverWait %s: must be positive", c.FailoverWait)
	case c.Lease < 2*time.Second || c.Lease%time.Second != 0:
		return fmt.Errorf("invalid Cluster.Lease %s: must be whole seconds, at least 2s", c.Lease)
	case c.MaxMessageBytes < 1<<20:
		return fmt.Errorf("invalid Cluster.MaxMessageBytes %d: must be at least 1 MiB (a page travels in one message)", c.MaxMessageBytes)
	}
	for _, e := range c.EtcdEndpoints {
		if _, _, err := splitHostPort(e); err != nil {
			return fmt.Errorf("invalid Cluster.EtcdEndpoints %q: %w", e, err)
		}
	}
	if _, _, err := splitHostPort(c.Bind); err != nil {
		return fmt.Errorf("invalid Cluster.Bind %q: %w", c.Bind, err)
	}
	ahost, aport, err := splitHostPort(c.Advertise)
	if err != nil {
		return fmt.Errorf("invalid Cluster.Advertise %q: %w", c.Advertise, err)
	}
	if ip := net.ParseIP(ahost); ahost == "" || ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("invalid Cluster.Advertise %q: the other members cannot dial an unspecified host; set advertise to this member's reachable host:port", c.Advertise)
	}
	if aport == 0 && c.Advertise != c.Bind {
		return fmt.Errorf("invalid Cluster.Advertise %q: port 0 is only for a bind address without advertise", c.Advertise)
	}
	return nil
}

// splitHostPort parses "host:port" with a port from 0 to 65535.
func splitHostPort(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("not host:port: %w", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", p)
	}
	return host, port, nil
}
