package analytics

import (
	"math/rand/v2"
	"sync/atomic"
)

// stripes is how many copies of the counters a minute slot keeps. A request adds
// to one copy picked at random, so two cores counting at once rarely write the
// same cache line; the flusher adds the copies up.
const stripes = 4

// slot counts one minute of every site, with atomic adds only: the hit path
// takes no lock. It is replaced (not reset) when the minute ends, so a request
// that loaded it just before still counts into it, and the flusher folds it
// into the minute's total one flush interval later.
type slot struct {
	minute int64 // Unix seconds of the minute's start
	nsites int
	c      []atomic.Uint64 // stripes × nsites × countsLen
	// closedTick is the flush tick during which the slot was replaced; the
	// flusher folds it at a later tick.
	closedTick uint64
}

func newSlot(minute int64, nsites int) *slot {
	return &slot{minute: minute, nsites: nsites, c: make([]atomic.Uint64, stripes*nsites*countsLen)}
}

// row returns the counters of site in a random stripe.
func (s *slot) row(site int) []atomic.Uint64 {
	base := (int(rand.Uint32()%stripes)*s.nsites + site) * countsLen
	return s.c[base : base+countsLen : base+countsLen]
}

// sumInto adds the counters of site, all stripes, into c.
func (s *slot) sumInto(site int, c Counts) {
	for st := range stripes {
		base := (st*s.nsites + site) * countsLen
		row := s.c[base : base+countsLen]
		for i := range row {
			if v := row[i].Load(); v != 0 {
				c[i] += v
			}
		}
	}
}
