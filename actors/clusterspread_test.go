package actors

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/asynkron/protoactor-go/cluster"
)

// TestVirtualShardsSpreadAsTheREADMESays places the virtual shards over
// members with LAN addresses the way setView does (protoactor's rendezvous,
// the placement disthash uses) and logs the fewest and most any member owns:
// the table of README "Capacity planning". The hash spreads unevenly (FNV-1a
// of the shard name then the address, no final mixing), which is protoactor's;
// what is checked is the README's advice: with virtual_shards at least 40 times
// the members, no member owns more than 1.7 times its share.
func TestVirtualShardsSpreadAsTheREADMESays(t *testing.T) {
	tests := []struct {
		members, shards int
		advised         bool
	}{
		{3, 256, true},
		{3, 4096, true},
		{10, 256, false},
		{10, 4096, true},
		{100, 256, false},
		{100, 4096, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d members over %d virtual shards", tc.members, tc.shards), func(t *testing.T) {
			share := float64(tc.shards) / float64(tc.members)
			fewest, most := tc.shards, 0
			for draw := range 5 {
				rng := rand.New(rand.NewPCG(uint64(tc.members), uint64(draw)))
				owned := spread(addresses(rng, tc.members), tc.shards)
				for _, n := range owned {
					fewest, most = min(fewest, n), max(most, n)
				}
			}
			t.Logf("share %.1f: fewest %d, most %d (%.2fx the share)", share, fewest, most, float64(most)/share)
			if tc.advised && float64(most) > 1.7*share {
				t.Errorf("a member owns %d virtual shards, %.2fx its share of %.1f: over the 1.7x README promises at 40 shards a member", most, float64(most)/share, share)
			}
		})
	}
}

// addresses are n distinct members on 10.0.0.0/22, port 7946.
func addresses(rng *rand.Rand, n int) []*cluster.Member {
	seen := map[string]bool{}
	var out []*cluster.Member
	for len(out) < n {
		host := fmt.Sprintf("10.0.%d.%d", rng.IntN(4), 1+rng.IntN(250))
		if seen[host] {
			continue
		}
		seen[host] = true
		out = append(out, &cluster.Member{Host: host, Port: 7946, Id: "m" + strconv.Itoa(len(out)), Kinds: []string{shardKind}})
	}
	return out
}

// spread is how many of the virtual shards each member owns.
func spread(members []*cluster.Member, shards int) []int {
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(members)
	count := map[string]int{}
	for i := range shards {
		count[rdv.GetByClusterIdentity(cluster.NewClusterIdentity(strconv.Itoa(i), shardKind))]++
	}
	out := make([]int, 0, len(members))
	for _, m := range members {
		out = append(out, count[m.Address()])
	}
	return out
}
