package analytics

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name, ua, class, group string
	}{
		{"Googlebot is known by name", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "search"},
		{"GPTBot is an AI training crawler", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; +https://openai.com/gptbot", "GPTBot", "ai_training"},
		{"ClaudeBot is known by name", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", "ClaudeBot", ""},
		{"PerplexityBot is known by name", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)", "PerplexityBot", ""},
		{"an unlisted bot is one of the other bots", "Mozilla/5.0 (compatible; SomeNewBot/0.1)", OtherBots, GroupOtherBots},
		{"curl is one of the other bots", "curl/8.5.0", OtherBots, GroupOtherBots},
		{"a Python library is one of the other bots", "python-requests/2.31", OtherBots, GroupOtherBots},
		{"a contact URL marks a crawler", "Acme Monitor (+https://acme.example/monitor)", OtherBots, GroupOtherBots},
		{"a desktop Chrome is unknown", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", Unknown, GroupUnknown},
		{"an iPhone Safari is unknown", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", Unknown, GroupUnknown},
		{"no User-Agent is unknown", "", Unknown, GroupUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := classify(tc.ua)
			if got := classes[k].name; got != tc.class {
				t.Fatalf("classify(%q) = %q, want %q", tc.ua, got, tc.class)
			}
			if tc.group != "" && classes[k].group != tc.group {
				t.Fatalf("group of %q = %q, want %q", tc.class, classes[k].group, tc.group)
			}
			if groupNames[groupOf[k]] != classes[k].group {
				t.Fatalf("groupOf[%d] = %q, want %q", k, groupNames[groupOf[k]], classes[k].group)
			}
		})
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	uas := []string{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"}
	if n := testing.AllocsPerRun(100, func() {
		for _, ua := range uas {
			classify(ua)
		}
	}); n != 0 {
		t.Fatalf("classify allocates %v times", n)
	}
}

func TestEveryListedCrawlerHasItsOwnClass(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range classes {
		if seen[c.name] {
			t.Fatalf("class %q twice", c.name)
		}
		seen[c.name] = true
		if !slices.Contains(groupNames, c.group) {
			t.Fatalf("class %q has group %q, not in %v", c.name, c.group, groupNames)
		}
	}
	if !seen[OtherBots] || !seen[Unknown] || numClasses < 20 {
		t.Fatalf("classes: %v", classes)
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{200: "2xx", 204: "2xx", 301: "3xx", 304: "3xx", 404: "4xx", 503: "5xx", 0: "5xx", 999: "5xx", 100: "1xx"} {
		if got := statusClassNames[statusClass(status)]; got != want {
			t.Errorf("statusClass(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestRenderBucket(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {99 * time.Millisecond, 0}, {100 * time.Millisecond, 1}, {999 * time.Millisecond, 6},
		{time.Second, 7}, {59 * time.Second, len(renderBounds) - 1}, {time.Hour, len(renderBounds)},
	}
	for _, tc := range tests {
		if got := renderBucket(tc.d); got != tc.want {
			t.Errorf("renderBucket(%s) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	var h [numRenderBuckets]uint64
	if v := quantile(&h, 0.5); !math.IsNaN(v) {
		t.Fatalf("quantile of nothing = %v, want NaN", v)
	}
	// 100 renders between 1000 and 1250 ms: the median is in the middle.
	h[renderBucket(1100*time.Millisecond)] = 100
	if v := quantile(&h, 0.5); v != 1125 {
		t.Fatalf("p50 = %v, want 1125", v)
	}
	// 5 slow renders above a minute: the p95 stays in the 1s bucket, the p99 is
	// the open bucket's lower bound.
	h[renderBucket(2*time.Minute)] = 5
	if v := quantile(&h, 0.95); v < 1000 || v > 1250 {
		t.Fatalf("p95 = %v, want within [1000, 1250]", v)
	}
	if v := quantile(&h, 0.99); v != 60000 {
		t.Fatalf("p99 = %v, want 60000", v)
	}
}

func TestCountsRoundTrip(t *testing.T) {
	c := newCounts()
	c[offRequests+int(Hit)] = 7
	c[offStatus+1] = 7
	c[offBytes] = 1 << 40
	c[offHist+numRenderBuckets+3] = 2
	c[numFixed+classByName["Googlebot"]*perCrawler+crawlerCached] = 5
	c[numFixed+unknownIdx*perCrawler+crawlerRequests] = 2
	b := appendCounts(nil, c)
	got := newCounts()
	if err := got.addEncoded(b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, c) {
		t.Fatalf("round trip changed the counts")
	}
	// Adding twice doubles.
	if err := got.addEncoded(b); err != nil {
		t.Fatal(err)
	}
	if got[offBytes] != 2<<40 {
		t.Fatalf("bytes = %d after adding twice", got[offBytes])
	}
	if n := len(appendCounts(nil, newCounts())); n > 3 {
		t.Fatalf("an empty row takes %d bytes", n)
	}
}

func TestCountsOfACrawlerNoLongerListedGoToOtherBots(t *testing.T) {
	// A row written when the list had "RetiredBot": version, no fixed counter,
	// one crawler.
	b := []byte{countsVersion, 0, 1, 10}
	b = append(b, "RetiredBot"...)
	b = append(b, 3, 1, 2)
	c := newCounts()
	if err := c.addEncoded(b); err != nil {
		t.Fatal(err)
	}
	if got := c.crawler(otherBotsIdx, crawlerRequests); got != 3 {
		t.Fatalf("other bots = %d, want 3", got)
	}
}

func TestCorruptCountsAreRefused(t *testing.T) {
	good := appendCounts(nil, func() Counts { c := newCounts(); c[offBytes] = 300; return c }())
	tests := []struct {
		name string
		b    []byte
	}{
		{"an empty value", nil},
		{"an unknown version", []byte{9, 0, 0}},
		{"a truncated value", good[:len(good)-2]},
		{"trailing bytes", append(append([]byte(nil), good...), 1)},
		{"a counter past the fixed ones", []byte{countsVersion, 1, 200, 1, 0}},
		{"a crawler name longer than the value", []byte{countsVersion, 0, 1, 50, 'x'}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := newCounts().addEncoded(tc.b); !errors.Is(err, errCorrupt) {
				t.Fatalf("addEncoded = %v, want errCorrupt", err)
			}
		})
	}
}

func FuzzCountsDecode(f *testing.F) {
	c := newCounts()
	c[offBytes], c[offRequests] = 12345, 3
	c[numFixed+2] = 9
	f.Add(appendCounts(nil, c))
	f.Add([]byte{countsVersion, 1, 0, 1, 1, 1, 'x', 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newCounts()
		if err := c.addEncoded(b); err != nil {
			return
		}
		// What decodes encodes back to something that decodes to the same.
		again := newCounts()
		if err := again.addEncoded(appendCounts(nil, c)); err != nil || !slices.Equal(again, c) {
			t.Fatalf("re-encoding changed the counts: %v", err)
		}
	})
}

func TestSiteOf(t *testing.T) {
	tab, err := newSiteTable([]string{"shop.example", "http://127.0.0.1:8080", "Blog.Example/", "[::1]"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ url, want string }{
		{"https://shop.example/p/1", "shop.example"},
		{"http://shop.example/", "shop.example"},
		{"https://shop.example:8443/p", "shop.example"},
		{"https://www.shop.example/", rowOther},
		{"http://127.0.0.1:8080/demo/", "127.0.0.1:8080"},
		{"http://127.0.0.1:9090/", rowOther},
		{"https://blog.example?x=1", "blog.example"},
		{"http://[::1]:3000/", "[::1]"},
		{"", rowOther},
		{"not a url", rowOther},
	}
	for _, tc := range tests {
		if got := tab.names[tab.of(tc.url)]; got != tc.want {
			t.Errorf("site of %q = %q, want %q", tc.url, got, tc.want)
		}
	}
	if _, err := newSiteTable([]string{"https://shop.example/path"}); err == nil {
		t.Fatal("a site with a path was accepted")
	}
	none, _ := newSiteTable(nil)
	if none.of("https://shop.example/") != 0 || none.configured {
		t.Fatal("without sites every URL is other")
	}
}

func TestTopListFindsTheHeavyHitters(t *testing.T) {
	l := newTopList(20)
	h := func(s string) uint64 { return hashString(s) }
	// 5 heavy URLs among 2000 light ones, interleaved.
	for i := range 2000 {
		for k := range 5 {
			if i%4 == 0 {
				u := "https://shop.example/heavy/" + string(rune('a'+k))
				l.count(h(u), u, 1)
			}
		}
		u := "https://shop.example/light/" + strconv.Itoa(i)
		l.count(h(u), u, 1)
	}
	items := topItems(l)
	for k := range 5 {
		u := "https://shop.example/heavy/" + string(rune('a'+k))
		i := slices.IndexFunc(items, func(it TopItem) bool { return it.URL == u })
		if i < 0 || i >= 5 {
			t.Fatalf("%s is not in the top 5: %v", u, items[:5])
		}
		if it := items[i]; it.Value-it.Err > 500 || it.Value < 500 {
			t.Fatalf("%s: value %d err %d, true count 500", u, it.Value, it.Err)
		}
	}
	checkOrder(t, l)
	if len(l.entries) != 20 {
		t.Fatalf("the list holds %d entries, want its size, 20", len(l.entries))
	}
}

func TestTopListKeepsTheSlowestExactly(t *testing.T) {
	l := newTopList(3)
	for i, ms := range []uint64{500, 100, 9000, 300, 700, 8000, 50, 9500} {
		u := "u" + strconv.Itoa(i)
		l.keepMax(hashString(u), u, ms)
	}
	l.keepMax(hashString("u2"), "u2", 10) // a faster render does not lower its max
	got := topItems(l)
	want := []TopItem{{URL: "u7", Value: 9500}, {URL: "u2", Value: 9000}, {URL: "u5", Value: 8000}}
	if !slices.Equal(got, want) {
		t.Fatalf("slowest = %v, want %v", got, want)
	}
}

func TestTopListsMergeAndSurviveEncoding(t *testing.T) {
	a := map[topListKey][]TopItem{
		{Requested, 0}:                        {{URL: "https://a/1", Value: 10}, {URL: "https://a/2", Value: 4, Err: 1}},
		{Slowest, 1 + classByName["Bingbot"]}: {{URL: "https://a/1", Value: 3000}},
		{Slowest, 1 + recacheClass}:           {{URL: "https://a/3", Value: 12000}},
	}
	b := map[topListKey][]TopItem{
		{Requested, 0}:                        {{URL: "https://a/2", Value: 8}},
		{Slowest, 1 + classByName["Bingbot"]}: {{URL: "https://a/1", Value: 2000}},
	}
	back, err := decodeTop(appendTop(nil, a))
	if err != nil {
		t.Fatal(err)
	}
	for k, items := range a {
		if !slices.Equal(back[k], items) {
			t.Fatalf("list %v: %v after a round trip, want %v", k, back[k], items)
		}
	}
	merged, err := mergeEncoded([][]byte{appendTop(nil, a), appendTop(nil, b)}, topCaps{all: 10, perClass: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := merged[topListKey{Requested, 0}], []TopItem{{URL: "https://a/2", Value: 12, Err: 1}, {URL: "https://a/1", Value: 10}}; !slices.Equal(got, want) {
		t.Fatalf("merged requested = %v, want %v", got, want)
	}
	if got := merged[topListKey{Slowest, 1 + classByName["Bingbot"]}]; len(got) != 1 || got[0].Value != 3000 {
		t.Fatalf("merged slowest = %v, want the max, 3000", got)
	}
}

func FuzzTopDecode(f *testing.F) {
	f.Add(appendTop(nil, map[topListKey][]TopItem{{Missed, 0}: {{URL: "https://x/", Value: 3, Err: 1}}}))
	f.Add([]byte{topVersion, 1, 0, 0, 1, 3, 'a', 'b', 'c', 5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeTop(b)
	})
}

// checkOrder checks the list's invariants: every entry indexed once, order
// sorted by value, each entry knowing its place.
func checkOrder(t *testing.T, l *topList) {
	t.Helper()
	if len(l.order) != len(l.entries) || len(l.idx) != len(l.entries) {
		t.Fatalf("%d entries, %d ordered, %d indexed", len(l.entries), len(l.order), len(l.idx))
	}
	for i, slot := range l.order {
		if l.entries[slot].pos != int32(i) {
			t.Fatalf("entry %d says it is at %d, it is at %d", slot, l.entries[slot].pos, i)
		}
		if i > 0 && l.value(i-1) > l.value(i) {
			t.Fatalf("order broken at %d: %d then %d", i, l.value(i-1), l.value(i))
		}
		if l.idx[l.entries[slot].h] != slot {
			t.Fatalf("entry %d is not indexed", slot)
		}
	}
}

func TestTopListOrderHoldsUnderAnyUpdates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{1, 2, 7, 50} {
		counts, slowest := newTopList(size), newTopList(size)
		for i := range 5000 {
			u := "u" + strconv.Itoa(rng.IntN(size*3))
			counts.count(hashString(u), u, uint64(1+rng.IntN(3)))
			slowest.keepMax(hashString(u), u, uint64(rng.IntN(10000)))
			if i%97 == 0 {
				checkOrder(t, counts)
				checkOrder(t, slowest)
			}
		}
	}
}

func topItems(l *topList) []TopItem {
	var out []TopItem
	for _, e := range l.entries {
		out = append(out, TopItem{URL: e.url, Value: e.v, Err: e.err})
	}
	sortTop(out)
	return out
}

func hashString(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
