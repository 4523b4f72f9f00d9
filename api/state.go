package api

import "time"

// State is the answer of GET /api/state: what the appliance does right now.
type State struct {
	Time    time.Time `json:"time"`
	Version string    `json:"version"`
	// Browsers are the Chromium processes up (serving or draining before a
	// recycle); Starting counts the ones being started.
	Browsers []Browser `json:"browsers"`
	Starting int       `json:"browsers_starting"`
	// Waiting are the renders waiting for a tab, oldest first.
	Waiting         []Tab  `json:"waiting"`
	RendersInFlight int    `json:"renders_in_flight"`
	Queues          Queues `json:"queues"`
	Cache           Cache  `json:"cache"`
	// Sitemaps are the sitemap counters since start and every file known.
	Sitemaps Sitemaps `json:"sitemaps"`
	// Recent are the last renders, newest first.
	Recent []RecentRender `json:"recent_renders"`
}

// Browser is one Chromium process.
type Browser struct {
	ID         int       `json:"id"`
	PID        int       `json:"pid"`
	Generation uint64    `json:"generation"`
	State      string    `json:"state"` // "up" or "draining"
	Tabs       int       `json:"tabs"`
	Busy       int       `json:"busy"`
	Renders    int       `json:"renders"` // leases granted to this process
	UpSince    time.Time `json:"up_since"`
	RSS        int64     `json:"rss_bytes"`
	PSS        int64     `json:"pss_bytes"`
	Rendering  []Tab     `json:"rendering"`
}

// Tab is one render: on a tab (rendering) or waiting for one.
type Tab struct {
	URL     string    `json:"url"`
	Variant string    `json:"variant"`
	Queue   string    `json:"queue"` // live, priority, normal
	Since   time.Time `json:"since"`
}

// Queues are the lengths and paces of the wait for tabs and the two recache
// queues.
type Queues struct {
	TabWait  int        `json:"tab_wait"`
	TabsBusy int        `json:"tabs_busy"`
	Tabs     int        `json:"tabs"`
	Priority QueueState `json:"priority"`
	Normal   QueueState `json:"normal"`
}

// QueueState is one recache queue. A priority pace of 0 is automatic: as fast
// as its tabs allow. The normal queue's length is the pages past their TTL,
// counted once a minute.
type QueueState struct {
	Length      int64 `json:"length"`
	URLsPerHour int64 `json:"urls_per_hour"`
}

// Cache is the size of the cache against its bound (storage.max_bytes, 0 when
// unbounded).
type Cache struct {
	Pages       int64 `json:"pages"`
	StoredBytes int64 `json:"stored_bytes"`
	MaxBytes    int64 `json:"max_bytes"`
	DiskBytes   int64 `json:"disk_bytes"`
}

// Sitemaps are the sitemap counters since start (a poll in progress shows in
// them as it reads) and every sitemap file known.
type Sitemaps struct {
	Polls      uint64        `json:"polls"`
	URLsFound  uint64        `json:"urls_found"`
	URLsQueued uint64        `json:"urls_queued"`
	ReadErrors uint64        `json:"read_errors"`
	Files      []SitemapFile `json:"files"`
}

// SitemapFile is one sitemap file and its last poll.
type SitemapFile struct {
	URL       string    `json:"url"`
	Added     bool      `json:"added"`
	Kind      string    `json:"kind,omitempty"`
	URLs      int       `json:"urls"`
	PolledAt  time.Time `json:"polled_at"`
	LastError string    `json:"last_error,omitempty"`
}

// RecentRender is one finished render.
type RecentRender struct {
	Time     time.Time `json:"time"`
	URL      string    `json:"url"`
	Variant  string    `json:"variant"`
	Status   int       `json:"status"`
	Result   string    `json:"result"`
	Queue    string    `json:"queue"`
	Ms       int64     `json:"ms"`
	Attempts int       `json:"attempts,omitempty"`
	Error    string    `json:"error,omitempty"`
}
