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
