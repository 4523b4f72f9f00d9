package actors

import (
	"math"
	"testing"
	"time"

	"prerenderd/actors/clusterpb"
	"prerenderd/storage"
)

func TestClusterMembersShareTheRecachePaceByTheirVirtualShards(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		perHour, owned, shards int
		want                   float64
	}{
		{"a single node paces at the whole rate", 3600, 0, 0, 3600},
		{"automatic stays automatic in a cluster", 0, 85, 256, 0},
		{"a member owning a third of the shards paces a third", 36000, 85, 255, 12000},
		{"a member owning every shard paces at the whole rate", 7200, 256, 256, 7200},
		{"a member owning no shard yet paces at one shard's part", 25600, 0, 256, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := paceShare(tc.perHour, tc.owned, tc.shards); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("paceShare(%d, %d, %d) = %v, want %v", tc.perHour, tc.owned, tc.shards, got, tc.want)
			}
		})
	}
	// The members' parts add up to the cluster's rate, however the shards fall.
	for _, split := range [][]int{{86, 85, 85}, {64, 64, 64, 64}, {1, 255}} {
		var sum float64
		for _, owned := range split {
			sum += paceShare(3600, owned, 256)
		}
		if math.Abs(sum-3600) > 1e-9 {
			t.Errorf("members owning %v of 256 shards pace %v URLs/hour together, want 3600", split, sum)
		}
	}
}

func TestQueueItemsCrossTheClusterUnchanged(t *testing.T) {
	it := storage.QueueItem{Seq: 42, Key: "mobile|https://shop.example/p/1", URL: "https://shop.example/p/1", Source: "sitemap",
		EnqueuedAt: time.Date(2026, 12, 2, 1, 2, 3, 456789, time.UTC)}
	got := itemOf(entryOf(it))
	if got != it {
		t.Errorf("itemOf(entryOf(%+v)) = %+v", it, got)
	}
	if e := (&clusterpb.QueueEntry{}); !itemOf(e).EnqueuedAt.Equal(time.Unix(0, 0)) {
		t.Errorf("an entry without a time became %v", itemOf(e).EnqueuedAt)
	}
}
