package httpfront

import (
	"hash/maphash"
	"sync"

	"prerenderd/cachekey"
	"prerenderd/httpfront/target"
)

// resolvedPage is a render request's target, resolved once: its URLs (never to be
// changed: a resolved page is shared by every request for it), the URL Chromium
// loads as a string, and its cache key per variant.
type resolvedPage struct {
	urls target.URLs
	load string
	// keys[i] is the cache key of the page for variant variants[i] of the
	// server that resolved it.
	keys []string
}

// newPage resolves the strings of urls for a server's variants.
func newPage(urls target.URLs, variants []string) *resolvedPage {
	p := &resolvedPage{urls: urls, load: urls.Load.String(), keys: make([]string, len(variants))}
	for i, v := range variants {
		p.keys[i] = cachekey.Key(v, urls.Key)
	}
	return p
}

// key is the cache key of the page for variant.
func (p *resolvedPage) key(variant string, variants []string) string {
	for i, v := range variants {
		if v == variant {
			return p.keys[i]
		}
	}
	return cachekey.Key(variant, p.urls.Key)
}

// targetCache remembers the pages of recent request URIs. Recovering,
// validating and normalizing a target (target.Parse) was a third of the
// handler's time on a cache hit (pprof of BenchmarkHitHandler), and crawlers
// ask for the same URIs again and again. It is a pure function of the request
// URI, the integration header and the server's strip mode, so a remembered
// answer is never wrong; errors are not remembered. Bounded: a shard that
// fills is emptied, so URIs that are asked once cost one parse each and evict
// nothing worse than a parse.
type targetCache struct {
	seed   maphash.Seed
	shards [targetShards]targetShard
}

const (
	targetShards    = 16
	targetsPerShard = 1024
	maxCachedURILen = 2048
)

type targetShard struct {
	mu sync.RWMutex
	m  map[string]targetEntry
}

type targetEntry struct {
	integration string
	page        *resolvedPage
}

func newTargetCache() *targetCache {
	return &targetCache{seed: maphash.MakeSeed()}
}

// resolve returns the page of a request URI, parsed by target.Parse.
func (c *targetCache) resolve(requestURI, integration string, mode cachekey.StripMode, variants []string) (*resolvedPage, error) {
	if len(requestURI) > maxCachedURILen {
		urls, err := target.Parse(requestURI, integration, mode)
		if err != nil {
			return nil, err
		}
		return newPage(urls, variants), nil
	}
	sh := &c.shards[maphash.String(c.seed, requestURI)%targetShards]
	sh.mu.RLock()
	e, ok := sh.m[requestURI]
	sh.mu.RUnlock()
	if ok && e.integration == integration {
		return e.page, nil
	}
	urls, err := target.Parse(requestURI, integration, mode)
	if err != nil {
		return nil, err
	}
	p := newPage(urls, variants)
	sh.mu.Lock()
	if sh.m == nil || len(sh.m) >= targetsPerShard {
		sh.m = make(map[string]targetEntry, targetsPerShard)
	}
	sh.m[requestURI] = targetEntry{integration: integration, page: p}
	sh.mu.Unlock()
	return p, nil
}
