package api

import (
	"math"
	"strconv"
	"time"
)

// Float is a number that may be missing (a hit rate without requests, a render
// time without renders): NaN is written as null, which charts draw as a gap.
type Float float64

// MarshalJSON writes NaN and infinities as null and the rest with at most 4
// decimals.
func (f Float) MarshalJSON() ([]byte, error) { return f.appendJSON(nil), nil }

func (f Float) appendJSON(b []byte) []byte {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, math.Round(v*1e4)/1e4, 'f', -1, 64)
}

// UnmarshalJSON reads null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Floats is a series of Float. It writes itself in one pass: a 48-hour series
// of minutes is 2,880 numbers, and a method call per number through
// encoding/json's reflection was a third of the answer's time.
type Floats []Float

// MarshalJSON writes the series as an array, NaN as null.
func (fs Floats) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+8*len(fs))
	b = append(b, '[')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = f.appendJSON(b)
	}
	return append(b, ']'), nil
}

// Series is a series of counts, written in one pass like Floats.
type Series []uint64

// MarshalJSON writes the series as an array of integers.
func (s Series) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+4*len(s))
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, v, 10)
	}
	return append(b, ']'), nil
}

// Stats is the answer of GET /api/stats: the counters of a window as series of
// points (one value per point in every series, column by column, as charts
// take them) and the window's totals.
type Stats struct {
	// Site is what the numbers cover: "all", "other" (hosts not in [[sites]])
	// or a configured host. Sites lists what site= may name.
	Site  string    `json:"site"`
	Sites []string  `json:"sites"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// Step is the width of a point in seconds; Resolution the stored buckets
	// read: "minute" (last 48 hours) or "hour" (90 days).
	Step       int64  `json:"step"`
	Resolution string `json:"resolution"`
	// Time is the Unix time (seconds) at which each point starts.
	Time []int64 `json:"time"`
	// Requests counts answers of the render route by cache result (HIT, STALE,
	// MISS, BYPASS, REVALIDATED, PRERENDER, error).
	Requests map[string]Series `json:"requests"`
	// Status counts the same answers by status class (1xx…5xx).
	Status map[string]Series `json:"status"`
	// Bytes is the body bytes sent.
	Bytes Series `json:"bytes"`
	// HitRate is the share of answers served from the cache (HIT, STALE,
	// PRERENDER) among all answers; null without answers.
	HitRate Floats `json:"hit_rate"`
	// Renders counts finished renders by result (ok, incomplete, error,
	// overloaded), RendersByQueue by who waited (live, priority, normal).
	Renders        map[string]Series `json:"renders"`
	RendersByQueue map[string]Series `json:"renders_by_queue"`
	// Render times in milliseconds (renders that ran; an overloaded one did
	// not), from fixed histogram buckets; null without renders.
	RenderP50 Floats `json:"render_p50_ms"`
	RenderP95 Floats `json:"render_p95_ms"`
	RenderAvg Floats `json:"render_avg_ms"`
	// CrawlerGroups counts answers by crawler group (search, social,
	// ai_training, ai_search, ai_user, seo, other, other_bots, unknown).
	CrawlerGroups map[string]Series `json:"crawler_groups"`
	// CrawlerRequests counts answers by crawler, for every crawler with an
	// answer in the window.
	CrawlerRequests map[string]Series `json:"crawler_requests"`
	// Total sums the window; Crawlers breaks it down by crawler, busiest first.
	Total    StatsTotal     `json:"total"`
	Crawlers []CrawlerStats `json:"crawlers"`
}

// StatsTotal is the sum of a window.
type StatsTotal struct {
	Requests       uint64            `json:"requests"`
	ByResult       map[string]uint64 `json:"by_result"`
	ByStatus       map[string]uint64 `json:"by_status"`
	Bytes          uint64            `json:"bytes"`
	HitRate        Float             `json:"hit_rate"`
	Renders        uint64            `json:"renders"`
	RendersBy      map[string]uint64 `json:"renders_by_result"`
	RendersByQueue map[string]uint64 `json:"renders_by_queue"`
	RenderP50      Float             `json:"render_p50_ms"`
	RenderP95      Float             `json:"render_p95_ms"`
	RenderAvg      Float             `json:"render_avg_ms"`
}

// CrawlerStats is one crawler's share of a window: its answers, how many came
// from the cache (HIT, STALE, PRERENDER) and how many were renders it waited
// for (MISS, REVALIDATED, BYPASS); the rest were errors.
type CrawlerStats struct {
	Name     string `json:"name"`
	Group    string `json:"group"`
	Requests uint64 `json:"requests"`
	Cached   uint64 `json:"cached"`
	Rendered uint64 `json:"rendered"`
}

// Top is the answer of GET /api/stats/top: the URLs of a window ranked by By.
type Top struct {
	// By is "requested", "missed" or "slowest"; Unit says what Value counts:
	// "answers" or "ms" (the longest wait of a crawler for a render, or the
	// longest render of a recache).
	By   string `json:"by"`
	Unit string `json:"unit"`
	// Crawler is the crawler asked for, "" for all of them.
	Crawler string    `json:"crawler"`
	Site    string    `json:"site"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Resolution is "hour" or "day": top lists are kept per hour for the last
	// 48 hours and per day for 90 days, so a window is widened to whole ones.
	Resolution string    `json:"resolution"`
	Items      []TopItem `json:"items"`
}

// TopItem is one URL of a top list.
type TopItem struct {
	URL   string `json:"url"`
	Value uint64 `json:"value"`
	// MaxError is how much Value may overstate the count (the top lists keep
	// bounded memory; see README); absent when exact.
	MaxError uint64 `json:"max_error,omitempty"`
}
