package api

import (
	"encoding/json"
	"time"
)

// SearchRequest is the body of POST /search (prerender.io's fields).
type SearchRequest struct {
	Token        string `json:"prerenderToken,omitempty"`
	Query        string `json:"query,omitempty"`
	ExactMatch   string `json:"exactMatch,omitempty"`
	Start        int    `json:"start,omitempty"`
	AdaptiveType string `json:"adaptiveType,omitempty"`
}

// SearchItem is one result of POST /search.
type SearchItem struct {
	URL        string     `json:"url"`
	Variant    string     `json:"adaptive_type"`
	Status     int        `json:"status"`
	RenderedAt time.Time  `json:"rendered_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	Hits       int64      `json:"hits"`
	LastHit    *time.Time `json:"last_hit,omitempty"`
	Size       int        `json:"size"`
}

// SearchResponse is the answer of POST /search.
type SearchResponse struct {
	Total   int          `json:"total"`
	Start   int          `json:"start"`
	Results []SearchItem `json:"results"`
}

// ClearRequest is the body of POST /cache-clear: one URL, or a pattern with %.
type ClearRequest struct {
	Token        string `json:"prerenderToken,omitempty"`
	Query        string `json:"query"`
	AdaptiveType string `json:"adaptiveType,omitempty"`
}

// ClearResponse is the answer of POST /cache-clear and GET /cache-clear-status.
type ClearResponse struct {
	Status     string     `json:"status"` // "done", "running", "failed", "none"
	ID         uint64     `json:"id,omitempty"`
	Query      string     `json:"query,omitempty"`
	Matched    int        `json:"matched"`
	Deleted    int        `json:"deleted"`
	Busy       int        `json:"rendering,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// TokenOnly is the body of POST /cache-clear-status.
type TokenOnly struct {
	Token string `json:"prerenderToken"`
}

// RecacheRequest is the body of POST /recache (prerender.io's Recache API).
type RecacheRequest struct {
	Token        string   `json:"prerenderToken,omitempty"`
	URL          string   `json:"url,omitempty"`
	URLs         []string `json:"urls"`
	AdaptiveType string   `json:"adaptiveType,omitempty"`
}

// RecacheAnswer is the answer of POST /recache.
type RecacheAnswer struct {
	Queued    int          `json:"queued"`
	Duplicate int          `json:"duplicate"`
	Invalid   []InvalidURL `json:"invalid,omitempty"`
}

// InvalidURL is one URL /recache refused, with its reject reason.
type InvalidURL struct {
	URL    string `json:"url"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// RecacheSpeedRequest is the body of POST /change-recache-speed.
type RecacheSpeedRequest struct {
	Token       string       `json:"prerenderToken,omitempty"`
	URLsPerHour *json.Number `json:"urlsPerHour"`
}

// RecacheSpeed is the answer of POST /change-recache-speed, in prerender.io's
// fields: isAutomaticDelay for 0, and the pace as recacheMetrics.
type RecacheSpeed struct {
	URLsPerHour      int            `json:"urlsPerHour"`
	IsAutomaticDelay bool           `json:"isAutomaticDelay"`
	RecacheMetrics   RecacheMetrics `json:"recacheMetrics"`
}

// RecacheMetrics is the priority queue's pace. Automatic (urlsPerHour 0) is not
// paced: the queue renders as fast as the tabs it may use allow, and every
// figure is 0.
type RecacheMetrics struct {
	DelayBetweenURLs int64 `json:"delayBetweenURLs"` // milliseconds between two URLs
	Num1Hour         int   `json:"num1Hour"`         // URLs per hour
	Num1Day          int   `json:"num1Day"`          // URLs per day
}

// SitemapRequest is the body of POST /sitemap.
type SitemapRequest struct {
	Token string `json:"prerenderToken,omitempty"`
	URL   string `json:"url"`
}

// SitemapAdded is the answer of POST /sitemap.
type SitemapAdded struct {
	Status string `json:"status"` // "added"
	URL    string `json:"url"`
}

// SitemapList is the answer of GET /sitemap.
type SitemapList struct {
	Sitemaps []SitemapItem `json:"sitemaps"`
}

// SitemapItem is one sitemap file in the answer of GET /sitemap.
type SitemapItem struct {
	URL       string    `json:"url"`
	Added     bool      `json:"added"`
	Kind      string    `json:"kind,omitempty"`
	URLs      int       `json:"urls"`
	Children  int       `json:"children,omitempty"`
	PolledAt  time.Time `json:"polled_at"`
	LastError string    `json:"last_error,omitempty"`
}
