package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// SitemapState is what prerenderd remembers of one sitemap file, under
// s/<sitemap URL>. It is JSON: it is written once per file per poll, far from any
// hot path, and a readable value is worth more here than a few bytes.
type SitemapState struct {
	// Added: the sitemap was added through POST /sitemap, so it is polled on its
	// own and survives restarts; files only reached from an index or robots.txt are
	// not roots.
	Added bool `json:"added,omitempty"`
	// ETag and LastModified are the validators of the last 200, sent back as
	// If-None-Match and If-Modified-Since.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// Kind is "urlset" or "sitemapindex" once read.
	Kind string `json:"kind,omitempty"`
	// URLs is the number of entries read from the file at its last 200.
	URLs int `json:"urls"`
	// Children are the sitemaps an index listed at its last 200, so that a 304 of
	// the index still lets the poller visit them.
	Children []string  `json:"children,omitempty"`
	PolledAt time.Time `json:"polled_at"`
	// LastError is the error of the last poll, "" when it went well.
	LastError string `json:"last_error,omitempty"`
}

// GetSitemap returns the state of the sitemap at url, or ErrNotFound.
func (s *Store) GetSitemap(url string) (SitemapState, error) {
	if err := s.enter(); err != nil {
		return SitemapState{}, err
	}
	defer s.leave()
	val, closer, err := s.db.Get(appendKey(nil, prefixSitemap, url))
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return SitemapState{}, ErrNotFound
		}
		return SitemapState{}, fmt.Errorf("cannot read sitemap state %q: %w", url, err)
	}
	defer closer.Close()
	var st SitemapState
	if err := json.Unmarshal(val, &st); err != nil {
		return SitemapState{}, fmt.Errorf("cannot decode sitemap state %q: %w", url, corruptf("%v", err))
	}
	return st, nil
}

// PutSitemap replaces the state of the sitemap at url, synced: an added sitemap
// must survive kill -9.
//
// INVARIANT: only the sitemaps actor writes s/ keys.
func (s *Store) PutSitemap(url string, st SitemapState) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if url == "" {
		return errors.New("storage: sitemap state has an empty URL")
	}
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("cannot encode sitemap state %q: %w", url, err)
	}
	k := appendKey(nil, prefixSitemap, url)
	if err := s.checkFree(int64(len(k)+len(v)), s.opts.MinFreeBytes); err != nil {
		return fmt.Errorf("cannot store sitemap state %q: %w", url, err)
	}
	if err := s.db.Set(k, v, pebble.Sync); err != nil {
		return fmt.Errorf("cannot store sitemap state %q: %w", url, err)
	}
	return nil
}

// ScanSitemaps calls fn with every stored sitemap state in URL order until fn
// returns false. A value that does not decode is reported with its URL and the scan
// goes on.
func (s *Store) ScanSitemaps(fn func(url string, st SitemapState, err error) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	it, err := s.prefixIter(prefixSitemap, "")
	if err != nil {
		return fmt.Errorf("cannot scan sitemaps: %w", err)
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		url := string(it.Key()[len(prefixSitemap):])
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("cannot scan sitemaps at %q: %w", url, err)
		}
		var st SitemapState
		if err := json.Unmarshal(v, &st); err != nil {
			if !fn(url, st, fmt.Errorf("cannot decode sitemap state %q: %w", url, corruptf("%v", err))) {
				break
			}
			continue
		}
		if !fn(url, st, nil) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("cannot scan sitemaps: %w", err)
	}
	return nil
}
