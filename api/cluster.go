package api

import "time"

// Cluster is the answer of GET /api/cluster: the members of the cluster as
// the member asked sees them.
type Cluster struct {
	Time    time.Time `json:"time"`
	Enabled bool      `json:"enabled"`
	Name    string    `json:"name,omitempty"`
	// Node and Address are the member that answered.
	Node          string          `json:"node,omitempty"`
	Address       string          `json:"address,omitempty"`
	VirtualShards int             `json:"virtual_shards,omitempty"`
	Members       []ClusterMember `json:"members"`
	// Forwarded is what the member that answered sent to and answered for
	// the others since it started (absent outside a cluster).
	Forwarded *ClusterForwarded `json:"forwarded,omitempty"`
	// Key and Owner answer GET /api/cluster?url=…: the page's cache key and
	// the member that owns it.
	Key   string         `json:"key,omitempty"`
	Owner *ClusterMember `json:"owner,omitempty"`
}

// ClusterMember is one member and what it owns.
type ClusterMember struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Self    bool   `json:"self,omitempty"`
	// VirtualShards is how many of the cluster's virtual shards it owns.
	VirtualShards int   `json:"virtual_shards"`
	Pages         int64 `json:"pages"`
	// Error: the member did not answer the question who it is.
	Error string `json:"error,omitempty"`
}

// ClusterForwarded counts one member's requests between members.
type ClusterForwarded struct {
	// Out: requests for pages (and admin requests) this member sent to their
	// owner; In: requests other members sent to this one.
	Out uint64 `json:"out"`
	In  uint64 `json:"in"`
	// Errors: requests whose owner did not answer, even after a failover.
	Errors uint64 `json:"errors"`
	// HopMeanSeconds is the mean time of a forwarded page request, as the
	// sender sees it: the hop plus the owner's work (a hit or a render).
	HopMeanSeconds float64 `json:"hop_mean_seconds"`
}
