package dashboardtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"prerenderd/api"
	"prerenderd/browser"
	"prerenderd/internal/prerenderdtest"
)

// User-Agents of the traffic: a mix of crawlers, a browser and a script.
var agents = map[string]string{
	"Googlebot":     "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"GPTBot":        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; +https://openai.com/gptbot",
	"ClaudeBot":     "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
	"PerplexityBot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)",
	"Bingbot":       "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"browser":       "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	"script":        "curl/8.5.0",
}

type visit struct {
	agent, path string
	status      int
}

// traffic is hits, misses, a 404 and a refusal from a mix of crawlers. round
// makes new URLs, so every round has misses.
func traffic(round int) []visit {
	id := func(n int) string { return "/demo/product.html?id=" + strconv.Itoa(n) }
	return []visit{
		{"Googlebot", "/demo/", 200},
		{"Googlebot", "/demo/", 200},
		{"Googlebot", id(1), 200},
		{"GPTBot", id(1), 200},
		{"GPTBot", id(2), 200},
		{"ClaudeBot", id(3) + "&page=" + strconv.Itoa(round), 200},
		{"PerplexityBot", "/demo/no-such-page.html", 404},
		{"Bingbot", id(2), 200},
		{"Googlebot", id(2) + "&page=" + strconv.Itoa(round), 200},
		{"browser", "/demo/", 200},
		{"script", "/not-a-url", 400},
	}
}

func send(t *testing.T, a *prerenderdtest.Appliance, v visit) *http.Response {
	t.Helper()
	target := a.URL + "/" + a.URL + v.path
	if strings.HasPrefix(v.path, "/not-") {
		target = a.URL + v.path
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", agents[v.agent])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != v.status {
		t.Fatalf("%s %s: status %d, want %d", v.agent, v.path, resp.StatusCode, v.status)
	}
	return resp
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func postJSON(t *testing.T, u string, body any, v any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(u, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// page runs one chromedp action and fails the test on its error.
func page[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return page(t, ctx, expr, chromedp.Evaluate[T](expr))
}

// waitFor polls a JavaScript predicate in the page.
func waitFor(t *testing.T, ctx context.Context, what, expr string, within time.Duration) {
	t.Helper()
	page(t, ctx, "waiting for "+what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(within)))
}

// TestTheDashboardShowsWhatTheAPISaysAndPurges loads the dashboard of a running
// appliance that has served some traffic, checks that the numbers it shows are
// those of /api/stats, purges a page from it, and checks that it works in a
// narrow window. With SCREENSHOT=file it also writes a screenshot of the page,
// after SCREENSHOT_MINUTES (default 4) minutes of traffic so the charts have a
// few points.
func TestTheDashboardShowsWhatTheAPISaysAndPurges(t *testing.T) {
	chromium, err := browser.FindChromium(os.Getenv("PRERENDERD_CHROMIUM"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and there is no Chromium: %v", err)
		}
		t.Skipf("needs Chromium, and none was found (%v); `make test` installs it", err)
	}
	bin, err := prerenderdtest.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := prerenderdtest.Start(bin, chromium, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Stop(); err != nil {
			t.Error(err)
		}
	}()

	shot := os.Getenv("SCREENSHOT")
	rounds := 1
	if shot != "" {
		minutes := 4
		if m, err := strconv.Atoi(os.Getenv("SCREENSHOT_MINUTES")); err == nil && m > 0 {
			minutes = m
		}
		rounds = minutes * 3
	}
	purged := a.URL + "/demo/product.html?id=1"
	for r := range rounds {
		for _, v := range traffic(r) {
			send(t, a, v)
		}
		if r+1 < rounds {
			time.Sleep(20 * time.Second)
		}
	}
	if resp := send(t, a, visit{"Googlebot", "/demo/product.html?id=1", 200}); resp.Header.Get("X-Prerender-Cache") != "HIT" {
		t.Fatalf("the page to purge is %s, want a HIT", resp.Header.Get("X-Prerender-Cache"))
	}

	// One Chromium of the test's own, beside the appliance's.
	profile := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.UserDataDir(profile), chromedp.Headless, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// No timeout on the first Run: it starts the browser, whose life it would bound.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(a.URL+"/?window=15m")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the first refresh", `document.body.dataset.ready === "1"`, 20*time.Second)
	waitFor(t, ctx, "five charts", `document.querySelectorAll(".uplot canvas").length === 5`, 10*time.Second)

	t.Run("the numbers shown are those of /api/stats", func(t *testing.T) {
		// The traffic ended before the page was loaded and none comes now: the
		// page's answer and ours count the same requests.
		query := eval[string](t, ctx, `document.body.dataset.statsQuery`)
		var st api.Stats
		getJSON(t, a.URL+query, &st)
		shown := eval[map[string]string](t, ctx, `({
			requests: document.getElementById("total-requests").dataset.value,
			hitRate: document.getElementById("total-hit-rate").dataset.value,
			renders: document.getElementById("total-renders").dataset.value,
			bytes: document.getElementById("total-bytes").dataset.value,
		})`)
		want := map[string]string{
			"requests": strconv.FormatUint(st.Total.Requests, 10),
			"hitRate":  strconv.FormatFloat(float64(st.Total.HitRate), 'f', 4, 64),
			"renders":  strconv.FormatUint(st.Total.Renders, 10),
			"bytes":    strconv.FormatUint(st.Total.Bytes, 10),
		}
		for k, v := range want {
			if shown[k] != v {
				t.Errorf("%s: the page shows %q, /api/stats says %q", k, shown[k], v)
			}
		}
		if st.Total.Requests < uint64(len(traffic(0))) || st.Total.ByResult["HIT"] == 0 || st.Total.ByResult["MISS"] == 0 || st.Total.ByResult["error"] == 0 || st.Total.ByStatus["4xx"] < 2 {
			t.Errorf("the traffic is not all in /api/stats: %+v", st.Total)
		}
		rows := eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll("#crawlers tbody tr[data-crawler]")].map(r => [r.dataset.crawler, r.dataset.requests]))`)
		for _, c := range st.Crawlers {
			if rows[c.Name] != strconv.FormatUint(c.Requests, 10) {
				t.Errorf("crawler %s: the page shows %q requests, /api/stats says %d", c.Name, rows[c.Name], c.Requests)
			}
		}
		for _, name := range []string{"Googlebot", "GPTBot", "ClaudeBot", "PerplexityBot", "Bingbot", "other bots", "unknown"} {
			if rows[name] == "" {
				t.Errorf("crawler %s is not in the page's breakdown: %v", name, rows)
			}
		}
	})

	t.Run("the live state shows the browser, the last renders and the top lists", func(t *testing.T) {
		waitFor(t, ctx, "the top lists", `document.querySelectorAll("#top-missed tbody td.url").length > 0`, 20*time.Second)
		if n := eval[int](t, ctx, `document.querySelectorAll("#browsers .browser").length`); n != 1 {
			t.Errorf("%d browsers shown, want 1", n)
		}
		var state api.State
		getJSON(t, a.URL+"/api/state", &state)
		if n := eval[int](t, ctx, `document.querySelectorAll("#recent tbody tr").length`); n != len(state.Recent) || n < 4 {
			t.Errorf("%d recent renders shown, /api/state has %d", n, len(state.Recent))
		}
		if got := eval[string](t, ctx, `document.getElementById("cache-size").dataset.value`); got != strconv.FormatInt(state.Cache.StoredBytes, 10) {
			t.Errorf("cache size shown %s, /api/state says %d", got, state.Cache.StoredBytes)
		}
		// A single node ([cluster] off) shows nothing of a cluster.
		if shown := eval[bool](t, ctx, `!document.getElementById("cluster").hidden`); shown {
			t.Error("the cluster section is shown by an appliance whose [cluster] is off")
		}
	})

	if shot != "" {
		png := page(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", shot, len(png))
	}

	t.Run("a purge from the page removes the page from the cache", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("purge-query"), purged),
			chromedp.Click(chromedp.CSS("#purge-form button")),
		); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "the purge", `document.getElementById("purge-status").textContent.startsWith("done: deleted 1 page")`, 10*time.Second)
		var found struct {
			Total int `json:"total"`
		}
		postJSON(t, a.URL+"/search", map[string]string{"exactMatch": purged}, &found)
		if found.Total != 0 {
			t.Fatalf("/search still finds %s after the purge", purged)
		}
		// The page's own search says so too.
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("search-query"), "demo/product.html?id=1"),
			chromedp.Click(chromedp.CSS("#search-form button")),
		); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "the search", `document.getElementById("search-status").textContent.endsWith("pages") || document.getElementById("search-status").textContent.endsWith("page")`, 10*time.Second)
		urls := eval[[]string](t, ctx, `[...document.querySelectorAll("#search-results tbody tr[data-url]")].map(r => r.dataset.url)`)
		for _, u := range urls {
			if u == purged {
				t.Fatalf("the page's search still lists %s", purged)
			}
		}
		if resp := send(t, a, visit{"Googlebot", "/demo/product.html?id=1", 200}); resp.Header.Get("X-Prerender-Cache") != "MISS" {
			t.Fatalf("after the purge the page is %s, want a MISS", resp.Header.Get("X-Prerender-Cache"))
		}
	})

	t.Run("a narrow window gets one column and no sideways scroll", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "the first refresh", `document.body.dataset.ready === "1"`, 20*time.Second)
		waitFor(t, ctx, "five charts", `document.querySelectorAll(".uplot canvas").length === 5`, 10*time.Second)
		width := eval[map[string]float64](t, ctx, `({page: document.documentElement.scrollWidth, window: window.innerWidth,
			chart: document.getElementById("chart-hit-rate").getBoundingClientRect().width})`)
		if width["page"] > width["window"]+1 {
			t.Errorf("the page is %v px wide in a %v px window", width["page"], width["window"])
		}
		if width["chart"] > width["window"] {
			t.Errorf("a chart is %v px wide in a %v px window", width["chart"], width["window"])
		}
	})
}
