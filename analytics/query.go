package analytics

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"prerenderd/api"
)

// QueryError is a bad parameter of a query. Reason is a short word for
// X-Prerender-Reject-Reason ("bad-site", "bad-step"…).
type QueryError struct {
	Reason string
	Msg    string
}

func (e *QueryError) Error() string { return e.Msg }

// StatsQuery asks for the counters of a window.
type StatsQuery struct {
	// From and To bound the window (To excluded); zero To is now, zero From is
	// 24 hours before To. Both are widened to whole steps; a From before the 90
	// days kept is moved to their start.
	From, To time.Time
	// Step is the width of a point: a multiple of a minute (of an hour past the
	// last 48 hours), rounded up; 0 picks one that gives at most 360 points.
	Step time.Duration
	// Site is "" or "all", "other", or a configured host.
	Site string
}

// MaxPoints bounds the points of one answer.
const MaxPoints = 5000

var autoSteps = []int64{60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}

const autoPoints = 360

func floorInt(x, size int64) int64 {
	f := x / size * size
	if f > x {
		f -= size
	}
	return f
}

// Stats answers a StatsQuery from the stored rows and what is still in memory
// (the minute being counted is in the answer).
func (r *Recorder) Stats(q StatsQuery) (*api.Stats, error) {
	now := r.opts.Clock()
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-24 * time.Hour)
	}
	// Nothing is kept longer than HourRetention: a window reaching further
	// back starts there.
	if keep := now.Add(-HourRetention); q.From.Before(keep) && q.To.After(keep) {
		q.From = keep
	}
	if !q.From.Before(q.To) {
		return nil, &QueryError{"bad-window", fmt.Sprintf("from (%s) must be before to (%s)", q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))}
	}
	if q.Step < 0 {
		return nil, &QueryError{"bad-step", "step must not be negative"}
	}
	row, ok := r.sites.rowName(q.Site)
	if !ok {
		return nil, &QueryError{"bad-site", fmt.Sprintf("site %q is not one of all, %s", q.Site, strings.Join(r.sites.apiNames(), ", "))}
	}
	res, kind, resName := int64(60), kindMinute, "minute"
	if q.Step >= time.Hour || q.From.Unix() < floorTo(now.Add(-MinuteRetention), 60) {
		res, kind, resName = 3600, kindHour, "hour"
	}
	from, to := q.From.Unix(), q.To.Unix()
	step := int64(q.Step / time.Second)
	if step == 0 {
		step = autoSteps[len(autoSteps)-1]
		for _, s := range autoSteps {
			if s >= res && (to-from+s-1)/s <= autoPoints {
				step = s
				break
			}
		}
	}
	if step%res != 0 {
		step = (step/res + 1) * res
	}
	start := floorInt(from, step)
	end := floorInt(to-1, step) + step
	n := (end - start) / step
	if n > MaxPoints {
		return nil, &QueryError{"bad-step", fmt.Sprintf("%d points: at most %d per answer; use a step of at least %ds", n, MaxPoints, (end-start)/MaxPoints+1)}
	}
	out := newStats(int(n))
	out.Site = q.Site
	if out.Site == "" || out.Site == rowTotal {
		out.Site = SiteAll
	}
	out.Sites = r.sites.apiNames()
	out.From, out.To = time.Unix(start, 0).UTC(), time.Unix(end, 0).UTC()
	out.Step, out.Resolution = step, resName
	for i := range out.Time {
		out.Time[i] = start + int64(i)*step
	}

	live := r.liveCounts(kind, res, row)
	acc, total := newCounts(), newCounts()
	point := int64(-1)
	take := func(bucket int64, add func(Counts) error) error {
		p := (bucket - start) / step
		if bucket < start || p >= n {
			return nil
		}
		if p != point {
			if point >= 0 {
				setPoint(out, int(point), acc)
				total.add(acc)
			}
			acc.reset()
			point = p
		}
		return add(acc)
	}
	li := 0
	takeLive := func(before int64) {
		for ; li < len(live) && live[li].bucket < before; li++ {
			c := live[li].c
			_ = take(live[li].bucket, func(acc Counts) error { acc.add(c); return nil })
		}
	}
	inMemory := make(map[int64]bool, len(live))
	for _, l := range live {
		inMemory[l.bucket] = true
	}
	if r.store != nil {
		var decodeErr error
		err := r.store.ScanAnalytics(kind, row, start, end, func(bucket int64, v []byte) bool {
			if inMemory[bucket] {
				return true
			}
			takeLive(bucket)
			if err := take(bucket, func(acc Counts) error { return acc.addEncoded(v) }); err != nil && decodeErr == nil {
				decodeErr = fmt.Errorf("row %s/%s/%d: %w", string(kind), row, bucket, err)
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("cannot read analytics: %w", err)
		}
		if decodeErr != nil {
			r.opts.Logger.Warn("a stored analytics row does not decode; the answer leaves it out", "err", decodeErr)
		}
	}
	takeLive(math.MaxInt64)
	if point >= 0 {
		setPoint(out, int(point), acc)
		total.add(acc)
	}
	setTotal(out, total)
	return out, nil
}

type bucketCounts struct {
	bucket int64
	c      Counts
}

// liveCounts returns, in bucket order, the buckets of kind whose counts are
// still in memory (folded but not final, or being counted), for the sites of
// row. They replace the stored rows of the same buckets.
func (r *Recorder) liveCounts(kind byte, res int64, row string) []bucketCounts {
	wanted := func(site int) bool {
		switch row {
		case rowTotal:
			return true
		case rowOther:
			return site == 0
		}
		return r.sites.names[site] == row
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	folded := r.minutes
	if kind == kindHour {
		folded = r.hours
	}
	byBucket := make(map[int64]Counts)
	get := func(b int64) Counts {
		c := byBucket[b]
		if c == nil {
			c = newCounts()
			byBucket[b] = c
		}
		return c
	}
	for b, bySite := range folded {
		c := get(b)
		for site, sc := range bySite {
			if wanted(site) {
				c.add(sc)
			}
		}
	}
	for _, s := range append(slices.Clone(r.closed), r.open.Load()) {
		c := get(floorInt(s.minute, res))
		for site := range s.nsites {
			if wanted(site) {
				s.sumInto(site, c)
			}
		}
	}
	out := make([]bucketCounts, 0, len(byBucket))
	for b, c := range byBucket {
		out = append(out, bucketCounts{b, c})
	}
	slices.SortFunc(out, func(a, b bucketCounts) int { return int(a.bucket - b.bucket) })
	return out
}

func newStats(n int) *api.Stats {
	u := func() api.Series { return make(api.Series, n) }
	f := func() api.Floats {
		s := make(api.Floats, n)
		for i := range s {
			s[i] = api.Float(math.NaN())
		}
		return s
	}
	st := &api.Stats{
		Time: make([]int64, n), Requests: map[string]api.Series{}, Status: map[string]api.Series{},
		Bytes: u(), HitRate: f(), Renders: map[string]api.Series{}, RendersByQueue: map[string]api.Series{},
		RenderP50: f(), RenderP95: f(), RenderAvg: f(), CrawlerGroups: map[string]api.Series{},
		CrawlerRequests: map[string]api.Series{},
	}
	for _, name := range resultNames {
		st.Requests[name] = u()
	}
	for _, name := range statusClassNames {
		st.Status[name] = u()
	}
	for _, name := range renderResultNames {
		st.Renders[name] = u()
	}
	for _, name := range queueNames {
		st.RendersByQueue[name] = u()
	}
	for _, name := range groupNames {
		st.CrawlerGroups[name] = u()
	}
	return st
}

// renderSummary is the p50, p95 and average render time of c in milliseconds.
func renderSummary(c Counts) (p50, p95, avg float64) {
	var h [numRenderBuckets]uint64
	c.histogram(&h)
	n, ms := c.renderTime()
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	return quantile(&h, 0.5), quantile(&h, 0.95), float64(ms) / float64(n)
}

func hitRate(c Counts) float64 {
	n := c.requests()
	if n == 0 {
		return math.NaN()
	}
	return float64(c.cachedAnswers()) / float64(n)
}

// setPoint writes the counts of point p into the series.
func setPoint(st *api.Stats, p int, c Counts) {
	for i, name := range resultNames {
		st.Requests[name][p] = c[offRequests+i]
	}
	for i, name := range statusClassNames {
		st.Status[name][p] = c[offStatus+i]
	}
	st.Bytes[p] = c[offBytes]
	st.HitRate[p] = api.Float(hitRate(c))
	for rr, name := range renderResultNames {
		var sum uint64
		for q := range numQueues {
			sum += c.renders(RenderResult(rr), q)
		}
		st.Renders[name][p] = sum
	}
	for q, name := range queueNames {
		var sum uint64
		for rr := range numRenderResults {
			sum += c.renders(rr, Queue(q))
		}
		st.RendersByQueue[name][p] = sum
	}
	p50, p95, avg := renderSummary(c)
	st.RenderP50[p], st.RenderP95[p], st.RenderAvg[p] = api.Float(p50), api.Float(p95), api.Float(avg)
	for k := range numClasses {
		if v := c.crawler(k, crawlerRequests); v != 0 {
			st.CrawlerGroups[groupNames[groupOf[k]]][p] += v
			series := st.CrawlerRequests[classes[k].name]
			if series == nil {
				series = make(api.Series, len(st.Time))
				st.CrawlerRequests[classes[k].name] = series
			}
			series[p] = v
		}
	}
}

func setTotal(st *api.Stats, c Counts) {
	t := api.StatsTotal{
		Requests: c.requests(), ByResult: map[string]uint64{}, ByStatus: map[string]uint64{},
		Bytes: c[offBytes], HitRate: api.Float(hitRate(c)),
		RendersBy: map[string]uint64{}, RendersByQueue: map[string]uint64{},
	}
	for i, name := range resultNames {
		t.ByResult[name] = c[offRequests+i]
	}
	for i, name := range statusClassNames {
		t.ByStatus[name] = c[offStatus+i]
	}
	for rr, name := range renderResultNames {
		for q := range numQueues {
			t.RendersBy[name] += c.renders(RenderResult(rr), q)
		}
		t.Renders += t.RendersBy[name]
	}
	for q, name := range queueNames {
		for rr := range numRenderResults {
			t.RendersByQueue[name] += c.renders(rr, Queue(q))
		}
	}
	p50, p95, avg := renderSummary(c)
	t.RenderP50, t.RenderP95, t.RenderAvg = api.Float(p50), api.Float(p95), api.Float(avg)
	st.Total = t
	st.Crawlers = []api.CrawlerStats{}
	for k := range numClasses {
		if v := c.crawler(k, crawlerRequests); v != 0 {
			st.Crawlers = append(st.Crawlers, api.CrawlerStats{
				Name: classes[k].name, Group: classes[k].group, Requests: v,
				Cached: c.crawler(k, crawlerCached), Rendered: c.crawler(k, crawlerRendered),
			})
		}
	}
	slices.SortStableFunc(st.Crawlers, func(a, b api.CrawlerStats) int {
		switch {
		case a.Requests > b.Requests:
			return -1
		case a.Requests < b.Requests:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// TopQuery asks for the top URLs of a window.
type TopQuery struct {
	By Measure
	// Crawler is a crawler's name (case-insensitive), "other bots", "unknown",
	// "recache" (slowest only), or "" for every crawler.
	Crawler string
	// From and To as in StatsQuery; widened to whole hours, or whole days
	// before the last 48 hours.
	From, To time.Time
	Site     string
	// Limit is how many URLs (default 50, at most the size of the lists).
	Limit int
}

// DefaultTop is how many URLs a top list answers unless told.
const DefaultTop = 50

// Top answers a TopQuery from the stored hourly and daily top lists and the
// hour being counted.
func (r *Recorder) Top(q TopQuery) (*api.Top, error) {
	now := r.opts.Clock()
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-24 * time.Hour)
	}
	if keep := now.Add(-HourRetention); q.From.Before(keep) && q.To.After(keep) {
		q.From = keep
	}
	if !q.From.Before(q.To) {
		return nil, &QueryError{"bad-window", "from must be before to"}
	}
	if q.By >= numMeasures {
		return nil, &QueryError{"bad-by", "by must be requested, missed or slowest"}
	}
	if q.Limit == 0 {
		q.Limit = DefaultTop
	}
	if q.Limit < 0 || q.Limit > r.caps.all {
		return nil, &QueryError{"bad-limit", fmt.Sprintf("limit must be between 1 and %d", r.caps.all)}
	}
	slot, name, err := crawlerSlot(q.Crawler, q.By)
	if err != nil {
		return nil, err
	}
	keep, site, err := r.siteFilter(q.Site)
	if err != nil {
		return nil, err
	}
	from, to := q.From.Unix(), q.To.Unix()
	hourFrom, dayFrom := floorInt(from, 3600), floorInt(from, 86400)
	end := floorInt(to-1, 3600) + 3600
	merge := newTopMerge(q.By)
	days := map[int64]bool{}
	addList := func(v []byte) error {
		return scanTop(v, func(m Measure, crawler, url []byte, val, e uint64) {
			if m == q.By && string(crawler) == name {
				merge.add(url, val, e)
			}
		})
	}
	// The hours in memory (being counted, or written once more) win over
	// their stored copy.
	r.mu.Lock()
	tops := append(slices.Clone(r.oldTops), r.top.Load())
	r.mu.Unlock()
	inMemory := map[int64]bool{}
	for _, ts := range tops {
		inMemory[ts.hour] = true
	}
	if r.store != nil {
		var bad error
		err := r.store.ScanAnalytics(kindTopDay, "", dayFrom, end, func(day int64, v []byte) bool {
			days[day] = true
			if err := addList(v); err != nil && bad == nil {
				bad = err
			}
			return true
		})
		if err == nil {
			err = r.store.ScanAnalytics(kindTopHour, "", hourFrom, end, func(hour int64, v []byte) bool {
				if days[floorInt(hour, 86400)] || inMemory[hour] {
					return true
				}
				if err := addList(v); err != nil && bad == nil {
					bad = err
				}
				return true
			})
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read top lists: %w", err)
		}
		if bad != nil {
			r.opts.Logger.Warn("a stored top list does not decode; the answer leaves it out", "err", bad)
		}
	}
	for _, ts := range tops {
		if ts.hour < hourFrom || ts.hour >= end || days[floorInt(ts.hour, 86400)] {
			continue
		}
		for _, it := range ts.items(q.By, slot) {
			merge.add([]byte(it.URL), it.Value, it.Err)
		}
	}
	out := &api.Top{By: q.By.String(), Unit: "answers", Crawler: name, Site: site,
		From: time.Unix(hourFrom, 0).UTC(), To: time.Unix(end, 0).UTC(), Resolution: "hour"}
	if q.By == Slowest {
		out.Unit = "ms"
	}
	if len(days) > 0 {
		out.Resolution, out.From = "day", time.Unix(dayFrom, 0).UTC()
	}
	for _, it := range merge.top(q.Limit, keep) {
		out.Items = append(out.Items, api.TopItem{URL: it.URL, Value: it.Value, MaxError: it.Err})
	}
	if out.Items == nil {
		out.Items = []api.TopItem{}
	}
	return out, nil
}

// items copies one list of every shard.
func (t *topSet) items(m Measure, slot int) []TopItem {
	var out []TopItem
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		if l := s.lists[m][slot]; l != nil {
			for _, e := range l.entries {
				out = append(out, TopItem{URL: e.url, Value: e.v, Err: e.err})
			}
		}
		s.mu.Unlock()
	}
	return out
}

// crawlerSlot resolves a crawler name of a top query.
func crawlerSlot(name string, m Measure) (slot int, canonical string, err error) {
	if name == "" || strings.EqualFold(name, SiteAll) {
		return 0, "", nil
	}
	if strings.EqualFold(name, Recache) {
		if m != Slowest {
			return 0, "", &QueryError{"bad-crawler", "recache renders are only in the slowest list"}
		}
		return 1 + recacheClass, Recache, nil
	}
	for k, c := range classes {
		if strings.EqualFold(c.name, name) {
			return 1 + k, c.name, nil
		}
	}
	return 0, "", &QueryError{"bad-crawler", fmt.Sprintf("crawler %q is not in the crawler list (GET /crawlers), nor %q, %q or %q", name, OtherBots, Unknown, Recache)}
}

// siteFilter keeps the URLs of one site; nil keeps all.
func (r *Recorder) siteFilter(site string) (func(string) bool, string, error) {
	row, ok := r.sites.rowName(site)
	if !ok {
		return nil, "", &QueryError{"bad-site", fmt.Sprintf("site %q is not one of all, %s", site, strings.Join(r.sites.apiNames(), ", "))}
	}
	switch row {
	case rowTotal:
		if strings.EqualFold(site, SiteOther) {
			return nil, SiteOther, nil
		}
		return nil, SiteAll, nil
	case rowOther:
		return func(u string) bool { return r.sites.of(u) == 0 }, SiteOther, nil
	}
	idx := r.sites.authority[row]
	return func(u string) bool { return r.sites.of(u) == idx }, row, nil
}
