package main

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

func TestTheHeapGoalStaysAboveTheGCFloor(t *testing.T) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	goal, live := s[0].Value.Uint64(), s[1].Value.Uint64()
	if goal < gcFloorBytes || live < gcFloorBytes {
		t.Fatalf("after a collection the heap holds %d bytes and its goal is %d: the %d-byte floor is not counted", live, goal, gcFloorBytes)
	}
	if len(gcFloor) != gcFloorBytes {
		t.Fatalf("the floor is %d bytes, want %d", len(gcFloor), gcFloorBytes)
	}
}
