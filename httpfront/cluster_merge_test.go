package httpfront

import (
	"encoding/json"
	"testing"
	"time"

	"prerenderd/api"
)

func TestClusterSitemapListNamesEachSitemapOnceWithItsLastPoll(t *testing.T) {
	polled := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	body := func(items ...api.SitemapItem) []byte {
		b, _ := json.Marshal(api.SitemapList{Sitemaps: items})
		return b
	}
	// Every member knows the added sitemap; only its owner polled it.
	bodies := [][]byte{
		body(api.SitemapItem{URL: "https://b.example/sitemap.xml", Added: true}),
		body(api.SitemapItem{URL: "https://b.example/sitemap.xml", Added: true, Kind: "urlset", URLs: 6, PolledAt: polled},
			api.SitemapItem{URL: "https://a.example/sitemap.xml", URLs: 2, PolledAt: polled}),
		body(api.SitemapItem{URL: "https://b.example/sitemap.xml", Added: true}),
	}
	out, err := mergeSitemaps(bodies)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(api.SitemapList).Sitemaps
	if len(got) != 2 || got[0].URL != "https://a.example/sitemap.xml" || got[1].URL != "https://b.example/sitemap.xml" {
		t.Fatalf("merged list %+v, want a.example's then b.example's, once each", got)
	}
	if b := got[1]; !b.Added || b.URLs != 6 || b.Kind != "urlset" || !b.PolledAt.Equal(polled) {
		t.Errorf("b.example's sitemap merged as %+v, want the owner's poll state and added", b)
	}
	if _, err := mergeSitemaps([][]byte{[]byte("not json")}); err == nil {
		t.Error("a member's answer that is not JSON merged without an error")
	}
}
