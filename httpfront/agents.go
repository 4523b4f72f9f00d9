package httpfront

import (
	"hash/maphash"
	"strings"
	"sync/atomic"

	"prerenderd/analytics"
	"prerenderd/cachekey"
)

// agentCache remembers what a User-Agent means to the render route: the
// variant it is served (cachekey.VariantFor) and its crawler class
// (analytics.Classify). Both scan the whole User-Agent, case-folded, against
// lists of words: 1.9 µs per hit through the binary (pprof during wrk, issue
// 17), the largest share of the handler's own time, for an answer that depends
// on the User-Agent alone, and crawlers send the same few again and again.
//
// It is direct-mapped and lock-free: a slot holds the last User-Agent whose
// hash picked it, so a read is one hash, one atomic load and one comparison,
// with no write to memory the other cores read. Two User-Agents that share a
// slot take turns in it and cost a scan each; nothing is ever wrong, only
// slower. It holds at most agentSlots User-Agents of maxCachedUALen bytes.
type agentCache struct {
	seed     maphash.Seed
	variants []string
	slots    [agentSlots]atomic.Pointer[agentEntry]
}

const (
	agentSlots     = 256 // a power of two
	maxCachedUALen = 512
)

type agentEntry struct {
	ua      string
	variant string
	class   analytics.Class
}

func newAgentCache(variants []string) *agentCache {
	return &agentCache{seed: maphash.MakeSeed(), variants: variants}
}

// of returns the variant and crawler class of ua.
func (c *agentCache) of(ua string) (variant string, class analytics.Class) {
	if len(ua) > maxCachedUALen {
		return cachekey.VariantFor(ua, c.variants), analytics.Classify(ua)
	}
	slot := &c.slots[maphash.String(c.seed, ua)&(agentSlots-1)]
	if e := slot.Load(); e != nil && e.ua == ua {
		return e.variant, e.class
	}
	// The clone keeps the slot from pinning the request's header memory.
	e := &agentEntry{ua: strings.Clone(ua), variant: cachekey.VariantFor(ua, c.variants), class: analytics.Classify(ua)}
	slot.Store(e)
	return e.variant, e.class
}
