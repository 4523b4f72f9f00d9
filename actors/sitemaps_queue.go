package actors

import (
	"context"

	"prerenderd/storage"
)

// queueSitemapURLs hands a poll's new and changed URLs to the persisted priority
// queue (the Recache façade of the freshness issue), marked as coming from a
// sitemap. In a cluster each URL goes to the queue of the member that owns
// it, which renders and stores it where it is served.
func (a *Appliance) queueSitemapURLs(ctx context.Context, items []queueItem) error {
	now := a.cfg.Clock()
	qi := make([]storage.QueueItem, len(items))
	for i, it := range items {
		qi[i] = storage.QueueItem{Key: it.Key, URL: it.URL, Source: "sitemap", EnqueuedAt: now}
	}
	_, err := a.queueOnOwners(ctx, qi)
	return err
}

// SitemapKey is the cluster key of the sitemap (or robots.txt) at u: the
// member that owns it polls it, and no other.
func SitemapKey(u string) string { return "sitemap|" + u }

// pollsSitemap reports whether this member polls the sitemap at u: always
// outside a cluster.
func (a *Appliance) pollsSitemap(u string) bool {
	_, mine := a.OwnerOf(SitemapKey(u))
	return mine
}
