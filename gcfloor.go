package main

// gcFloor raises the heap size at which Go collects garbage while the live
// heap is small, which it is while prerenderd answers hits: ~6 MB live, so
// with GOGC=100 a collection every ~6 MB allocated, ~4 per second at 10,000
// hits/s, each paying a fixed cost (goroutine stacks, globals, idle mark
// workers on the cores a hit leaves idle) that came to ~3 µs of CPU per hit
// through the binary, more than its handler's own work (issue 17; GC CPU per
// hit from go_gc_cpu_seconds_total over wrk runs: 3.1–3.4 µs without it,
// 0.5–1.2 µs with a heap goal this much higher).
//
// The collector counts the floor as live heap, so the heap goal is
// (live + gcFloorBytes) × GOGC/100 instead of live × GOGC/100: at most
// gcFloorBytes more garbage between collections (RSS under a hit load +20 MB
// measured), nothing more at a large live heap (a render of a big page), and
// the floor itself costs no memory: a pointer-free block never written is
// never scanned nor paged in. GOGC and GOMEMLIMIT still apply as usual.
var gcFloor = make([]byte, gcFloorBytes)

const gcFloorBytes = 16 << 20
