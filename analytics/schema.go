package analytics

import (
	"time"

	"prerenderd/crawlers"
)

// Result is the cache result of one answer of the render route: the value of
// X-Prerender-Cache, or Error for a refusal or a failed render.
type Result uint8

// The results, in the order of the stored format (append only).
const (
	Hit Result = iota
	Stale
	Miss
	Bypass
	Revalidated
	Prerender
	Error
	numResults
)

var resultNames = [numResults]string{"HIT", "STALE", "MISS", "BYPASS", "REVALIDATED", "PRERENDER", "error"}

func (r Result) String() string {
	if r < numResults {
		return resultNames[r]
	}
	return "unknown"
}

// ResultOf maps an X-Prerender-Cache value (or "error") to its Result; ok is
// false for any other string.
func ResultOf(s string) (Result, bool) {
	for i, n := range resultNames {
		if n == s {
			return Result(i), true
		}
	}
	return 0, false
}

// Results lists every result name, in order.
func Results() []string { return append([]string(nil), resultNames[:]...) }

// cached: the answer came from the store without a render.
func (r Result) cached() bool { return r == Hit || r == Stale || r == Prerender }

// rendered: the answer is a render the crawler waited for.
func (r Result) rendered() bool { return r == Miss || r == Bypass || r == Revalidated }

// RenderResult is how a render ended, as prerender_renders_total counts it.
type RenderResult uint8

// The render results, in the order of the stored format (append only).
const (
	RenderOK RenderResult = iota
	RenderIncomplete
	RenderError
	RenderOverloaded
	numRenderResults
)

var renderResultNames = [numRenderResults]string{"ok", "incomplete", "error", "overloaded"}

func (r RenderResult) String() string {
	if r < numRenderResults {
		return renderResultNames[r]
	}
	return "unknown"
}

// RenderResultOf maps "ok", "incomplete", "error" or "overloaded" to its value.
func RenderResultOf(s string) (RenderResult, bool) {
	for i, n := range renderResultNames {
		if n == s {
			return RenderResult(i), true
		}
	}
	return 0, false
}

// Queue is who waited for a render: a crawler (live) or a recache queue.
type Queue uint8

// The queues, in the order of the stored format (append only).
const (
	Live Queue = iota
	Priority
	Normal
	numQueues
)

var queueNames = [numQueues]string{"live", "priority", "normal"}

func (q Queue) String() string {
	if q < numQueues {
		return queueNames[q]
	}
	return "unknown"
}

// QueueOf maps "live", "priority" or "normal" to its value.
func QueueOf(s string) (Queue, bool) {
	for i, n := range queueNames {
		if n == s {
			return Queue(i), true
		}
	}
	return 0, false
}

// numStatusClasses: 1xx to 5xx; a status outside 100–599 counts as 5xx.
const numStatusClasses = 5

var statusClassNames = [numStatusClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(status int) int {
	if status < 100 || status > 599 {
		return numStatusClasses - 1
	}
	return status/100 - 1
}

// renderBounds are the upper bounds of the render time histogram's buckets, in
// milliseconds; a last bucket holds everything above. Fixed buckets rather than
// samples: a bucket row is a few counters whatever the traffic, and the rows of
// any window add up exactly (a p95 of merged rows is the p95 of the window, up
// to a bucket's width). The bounds are part of the stored format.
var renderBounds = [...]uint32{
	100, 200, 300, 400, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000,
	4000, 5000, 6000, 8000, 10000, 12500, 15000, 20000, 30000, 45000, 60000,
}

const numRenderBuckets = len(renderBounds) + 1

func renderBucket(d time.Duration) int {
	ms := d.Milliseconds()
	for i, b := range renderBounds {
		if ms < int64(b) {
			return i
		}
	}
	return len(renderBounds)
}

// The layout of a Counts vector: fixed counters first (their order is the stored
// format's: append only), then three counters per crawler class.
const (
	offRequests = 0                                                 // by Result
	offStatus   = offRequests + int(numResults)                     // by status class
	offBytes    = offStatus + numStatusClasses                      // bytes of bodies served
	offRenders  = offBytes + 1                                      // by RenderResult × Queue
	offRenderMs = offRenders + int(numRenderResults)*int(numQueues) // sum of render ms by Queue (renders that ran)
	offHist     = offRenderMs + int(numQueues)                      // render time buckets by Queue
	numFixed    = offHist + int(numQueues)*numRenderBuckets
)

// Per crawler class: requests, answered from the cache, answered by a render.
const (
	crawlerRequests = iota
	crawlerCached
	crawlerRendered
	perCrawler
)

// Crawler classes: every matchable entry of the crawler list, then two of our
// own. The set is bounded by the list, so it can key counters.
const (
	OtherBots = "other bots" // a User-Agent that looks automated but is not listed
	Unknown   = "unknown"    // a browser, or no User-Agent
	// Recache names the queues in the slowest top list: a render no crawler waited for.
	Recache = "recache"
)

// Groups of the two classes of our own, besides the list's groups.
const (
	GroupOtherBots = "other_bots"
	GroupUnknown   = "unknown"
)

type crawlerClass struct {
	name  string
	group string
}

// classes indexes the crawler classes: the list's matchable entries in list
// order, then OtherBots and Unknown. recacheClass is one past them: it keys the
// slowest top list only, never counters.
var (
	classes      []crawlerClass
	classByName  map[string]int
	otherBotsIdx int
	unknownIdx   int
	recacheClass int
	numClasses   int
	groupNames   []string
	groupOf      []int // class → index in groupNames
)

func init() {
	classByName = make(map[string]int)
	for _, c := range crawlers.All() {
		if c.TokenOnly {
			continue
		}
		classByName[c.Name] = len(classes)
		classes = append(classes, crawlerClass{name: c.Name, group: string(c.Group)})
	}
	otherBotsIdx = len(classes)
	classes = append(classes, crawlerClass{name: OtherBots, group: GroupOtherBots})
	unknownIdx = len(classes)
	classes = append(classes, crawlerClass{name: Unknown, group: GroupUnknown})
	numClasses = len(classes)
	recacheClass = numClasses
	countsLen = numFixed + numClasses*perCrawler
	classByName[OtherBots] = otherBotsIdx
	classByName[Unknown] = unknownIdx
	for _, g := range crawlers.Groups() {
		groupNames = append(groupNames, string(g))
	}
	groupNames = append(groupNames, GroupOtherBots, GroupUnknown)
	groupOf = make([]int, numClasses)
	for i, c := range classes {
		for j, g := range groupNames {
			if g == c.group {
				groupOf[i] = j
			}
		}
	}
}

// Groups lists the crawler groups counters are summed by: the list's groups,
// then other_bots and unknown.
func Groups() []string { return append([]string(nil), groupNames...) }

// CrawlerOf names the crawler class of a User-Agent: a name of the crawler
// list, OtherBots or Unknown (for log lines).
func CrawlerOf(ua string) string { return classes[classify(ua)].name }

// Class is the crawler class of a User-Agent, from Classify. The front
// classifies a request once and hands the class to Record and to its metrics:
// classifying costs about a microsecond, a sizeable part of a hit. The zero
// Class is "not classified".
type Class uint16

// Classify finds the crawler class of a User-Agent. It does not allocate.
func Classify(ua string) Class { return Class(classify(ua) + 1) }

func (c Class) index() int {
	if c == 0 || int(c) > numClasses {
		return unknownIdx
	}
	return int(c) - 1
}

// Name is the crawler's name in the list, OtherBots or Unknown.
func (c Class) Name() string { return classes[c.index()].name }

// GroupIndex is the index of the class's group in Groups().
func (c Class) GroupIndex() int { return groupOf[c.index()] }

// classify maps a User-Agent to its crawler class. It does not allocate.
func classify(ua string) int {
	if c, ok := crawlers.Match(ua); ok {
		if i, ok := classByName[c.Name]; ok {
			return i
		}
	}
	if looksAutomated(ua) {
		return otherBotsIdx
	}
	return unknownIdx
}

// botWords mark a User-Agent that is not in the list but is no browser either:
// a crawler's own word for itself, an HTTP library, a contact URL (crawlers name
// a page about themselves; browsers never do).
var botWords = []string{
	"bot", "crawl", "spider", "slurp", "scrape", "fetch", "http://", "https://",
	"curl/", "wget/", "python", "go-http-client", "java/", "okhttp", "axios",
	"node-fetch", "libwww", "headless", "phantomjs", "httpclient",
}

// botFirst[b] lists the words of botWords that start with byte b.
var botFirst [256][]string

func init() {
	for _, w := range botWords {
		botFirst[w[0]] = append(botFirst[w[0]], w)
	}
}

func looksAutomated(ua string) bool {
	for i := 0; i < len(ua); i++ {
		for _, w := range botFirst[lowerByte(ua[i])] {
			if hasPrefixFold(ua[i:], w) {
				return true
			}
		}
	}
	return false
}

// hasPrefixFold: s starts with the lower-case ASCII word w, ignoring case.
func hasPrefixFold(s, w string) bool {
	if len(s) < len(w) {
		return false
	}
	for j := 0; j < len(w); j++ {
		if lowerByte(s[j]) != w[j] {
			return false
		}
	}
	return true
}

func lowerByte(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
