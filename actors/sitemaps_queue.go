package actors

import "context"

// queueSitemapURLs hands a poll's new and changed URLs to the persisted priority
// queue (the Recache façade of the freshness issue), marked as coming from a
// sitemap.
func (a *Appliance) queueSitemapURLs(ctx context.Context, items []queueItem) error {
	rs := make([]RecacheItem, len(items))
	for i, it := range items {
		rs[i] = RecacheItem{Key: it.Key, URL: it.URL, Source: "sitemap"}
	}
	_, err := a.Recache(ctx, rs)
	return err
}
