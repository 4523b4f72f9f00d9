package clusterbench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"prerenderd/api"
	"prerenderd/browser"
	"prerenderd/browser/fixture"
	"prerenderd/internal/prerenderdtest"
)

// node is one prerenderd process that is a member of the cluster.
type node struct{ *prerenderdtest.ClusterNode }

// startNode runs bin as a member named name with one Chromium of two tabs
// (every member the same: renders/s per node compare) and the cluster's
// defaults but the ports, and waits until it is ready.
func startNode(b *testing.B, bin, chromium, name, etcd string) *node {
	b.Helper()
	n := &node{prerenderdtest.StartClusterNode(b, prerenderdtest.ClusterNodeConfig{
		Binary: bin, Chromium: chromium, Name: name, Etcd: etcd,
		LogLevel: "warn", QueueTimeout: "60s",
	})}
	b.Cleanup(func() {
		_ = n.Stop(b)
		os.RemoveAll(n.Dir)
	})
	n.WaitReady(b, 90*time.Second)
	return n
}

var client = &http.Client{Timeout: 90 * time.Second}

// get asks base for the page and returns its status and X-Prerender-Node.
func get(base, page string) (int, string, string, error) {
	resp, err := client.Get(base + "/" + page)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Prerender-Cache"), resp.Header.Get("X-Prerender-Node"), nil
}

func clusterOf(b *testing.B, base, query string) api.Cluster {
	b.Helper()
	var c api.Cluster
	resp, err := client.Get(base + "/api/cluster" + query)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		b.Fatalf("GET %s/api/cluster: %v", base, err)
	}
	return c
}

// waitMembers waits until each of nodes sees exactly len(nodes)+extra members
// that all answer, and returns how long that took.
func waitMembers(b *testing.B, nodes []*node, want int, within time.Duration) time.Duration {
	b.Helper()
	start := time.Now()
	for {
		ok := true
		for _, n := range nodes {
			c := clusterOf(b, n.URL, "")
			if len(c.Members) != want {
				ok = false
				break
			}
			for _, m := range c.Members {
				if m.Error != "" {
					ok = false
				}
			}
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			b.Fatalf("the members are not %d after %v", want, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rendersPerSecond asks nodes, in turn, for count pages never asked before,
// with 4 requests in flight per member (two tabs each, kept busy), and
// returns the pages rendered per second of wall time.
func rendersPerSecond(b *testing.B, origin *fixture.Origin, nodes []*node, stage string, count int) float64 {
	b.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4*len(nodes))
	var mu sync.Mutex
	var bad []string
	start := time.Now()
	for i := range count {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			page := fmt.Sprintf("%s/product?stage=%s&u=%d", origin.URL, stage, i)
			status, cache, _, err := get(nodes[i%len(nodes)].URL, page)
			if err != nil || status != http.StatusOK || cache != "MISS" {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%s: %d %s %v", page, status, cache, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if len(bad) > 0 {
		b.Fatalf("%d of %d renders failed, first: %s", len(bad), count, bad[0])
	}
	return float64(count) / took.Seconds()
}

var (
	wrkRate  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2x = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkErrs  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrkRun hits base's page for d with 2 threads and 32 connections, a crawler's
// User-Agent and no gzip, and returns requests/s; an answer that is not 2xx,
// or a socket error, fails the benchmark.
func wrkRun(b *testing.B, work, base, page string, d time.Duration) float64 {
	b.Helper()
	path := filepath.Join(work, "hits.lua")
	script := `wrk.headers["User-Agent"] = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"` + "\n" +
		fmt.Sprintf("wrk.path = %q\n", "/"+page)
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		b.Fatal(err)
	}
	out, err := exec.Command("wrk", "-t2", "-c32", "-d"+d.String(), "-s", path, base).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	if m := wrkNon2x.FindSubmatch(out); m != nil {
		b.Fatalf("wrk saw %s answers that were not 2xx:\n%s", m[1], out)
	}
	if wrkErrs.Match(out) {
		b.Fatalf("wrk saw socket errors:\n%s", out)
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no Requests/sec in wrk's output:\n%s", out)
	}
	r, _ := strconv.ParseFloat(string(m[1]), 64)
	return r
}

// interleaved runs rounds of wrk on each of bases in turn, so a change of the
// machine's load falls on all of them alike, and returns each one's median.
func interleaved(b *testing.B, work string, rounds int, d time.Duration, bases []string, page string) ([]float64, [][]float64) {
	b.Helper()
	runs := make([][]float64, len(bases))
	for r := range rounds {
		for i, base := range bases {
			runs[i] = append(runs[i], wrkRun(b, work, base, page, d))
		}
		logf("round %d: %v requests/s", r+1, roundOf(runs, r))
	}
	med := make([]float64, len(bases))
	for i := range runs {
		med[i] = median(runs[i])
	}
	return med, runs
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// roundRatios is the median over the rounds of runs[0]/runs[1] of the same
// round: on a shared machine, each round's pair saw about the same load.
func roundRatios(runs [][]float64) float64 {
	var r []float64
	for i := range runs[0] {
		r = append(r, runs[0][i]/runs[1][i])
	}
	return median(r)
}

// logf prints a line of the report at once: a benchmark's own log is cut
// after a few lines and printed only at its end.
func logf(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func roundOf(runs [][]float64, r int) []string {
	var out []string
	for _, rs := range runs {
		out = append(out, strconv.FormatFloat(rs[r], 'f', 0, 64))
	}
	return out
}

func hitOnce(b *testing.B, base, page string) {
	b.Helper()
	for range 2 {
		if _, _, _, err := get(base, page); err != nil {
			b.Fatal(err)
		}
	}
	if status, cache, _, err := get(base, page); err != nil || status != 200 || cache != "HIT" {
		b.Fatalf("%s through %s: %d %s %v, want a 200 HIT", page, base, status, cache, err)
	}
}

// buildBaseline builds revision rev of the repository the test runs in into
// dir, the way make build does, and returns the binary.
func buildBaseline(b *testing.B, rev, dir string) string {
	b.Helper()
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		b.Fatalf("the baseline is built from git history and this is not a git checkout: %v", err)
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	tarball := filepath.Join(dir, "src.tar")
	if out, err := exec.Command("git", "-C", strings.TrimSpace(string(top)), "archive", "-o", tarball, rev).CombinedOutput(); err != nil {
		b.Fatalf("git archive %s: %v\n%s", rev, err, out)
	}
	if out, err := exec.Command("tar", "-xf", tarball, "-C", src).CombinedOutput(); err != nil {
		b.Fatalf("untar %s: %v\n%s", rev, err, out)
	}
	bin := filepath.Join(dir, "prerenderd-baseline")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("cannot build %s: %v\n%s", rev, err, out)
	}
	return bin
}

// BenchmarkCluster is make bench-cluster. PRERENDERD_BIN is the binary
// measured (bin/prerenderd); CLUSTER_BASELINE_REV the revision the
// cluster-off hits are compared with (default 223ed79^1: main just before the
// cluster was merged); CLUSTER_RENDERS the pages rendered per stage (60),
// CLUSTER_WRK_SECONDS each wrk run (5) and CLUSTER_ROUNDS the interleaved
// rounds (7). CLUSTER_PARTS picks the measurements, comma-separated: off
// (cluster-off hits against the baseline), renders, hits (owner against
// non-owner), failover; default all of them.
func BenchmarkCluster(b *testing.B) {
	bin := os.Getenv("PRERENDERD_BIN")
	if bin == "" {
		b.Skip("PRERENDERD_BIN is not set: run make bench-cluster")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Fatal("wrk is not installed: make bench-cluster installs it when root; else apt-get install -y wrk")
	}
	chromium, err := browser.FindChromium(os.Getenv("PRERENDERD_CHROMIUM"))
	if err != nil {
		b.Fatalf("no Chromium: %v (make deps installs it)", err)
	}
	renders := prerenderdtest.EnvInt(b, "CLUSTER_RENDERS", 60)
	wrkFor := time.Duration(prerenderdtest.EnvInt(b, "CLUSTER_WRK_SECONDS", 5)) * time.Second
	rounds := prerenderdtest.EnvInt(b, "CLUSTER_ROUNDS", 7)
	rev := os.Getenv("CLUSTER_BASELINE_REV")
	if rev == "" {
		rev = "223ed79^1"
	}
	parts := map[string]bool{"off": true, "renders": true, "hits": true, "failover": true}
	if p := os.Getenv("CLUSTER_PARTS"); p != "" {
		parts = map[string]bool{}
		for _, name := range strings.Split(p, ",") {
			switch name = strings.TrimSpace(name); name {
			case "off", "renders", "hits", "failover":
				parts[name] = true
			default:
				b.Fatalf("CLUSTER_PARTS: %q is not one of off, renders, hits, failover", name)
			}
		}
	}
	work := b.TempDir()
	origin := fixture.New(b)
	logf("machine: %d cores as Go sees them; load average before: %s", numCPU(), prerenderdtest.LoadAvg())

	if parts["off"] {
		measureOff(b, bin, chromium, rev, work, origin, rounds, wrkFor)
	}
	if !parts["renders"] && !parts["hits"] && !parts["failover"] {
		return
	}
	// 2. Renders/s of one, two, three members, each with one Chromium of two tabs.
	etcd := prerenderdtest.StartEtcd(b)
	var nodes []*node
	rate := map[int]float64{}
	for size := 1; size <= 3; size++ {
		nodes = append(nodes, startNode(b, bin, chromium, fmt.Sprintf("n%d", size), etcd))
		waitMembers(b, nodes, size, 60*time.Second)
		if !parts["renders"] {
			continue
		}
		rate[size] = rendersPerSecond(b, origin, nodes, strconv.Itoa(size), renders)
		logf("%d member(s), %d tabs in all: %.2f renders/s, %.2f per core, %.2fx one member; load average %s",
			size, 2*size, rate[size], rate[size]/float64(numCPU()), rate[size]/rate[1], prerenderdtest.LoadAvg())
	}
	if parts["renders"] {
		b.ReportMetric(rate[1], "renders/s-1node")
		b.ReportMetric(rate[3], "renders/s-3nodes")
		b.ReportMetric(rate[3]/rate[1], "scaling-3/1")
	}
	if parts["hits"] {
		measureHop(b, work, origin, nodes, rounds, wrkFor)
	}
	if parts["failover"] {
		measureFailover(b, origin, nodes)
	}
	logf("load average after: %s", prerenderdtest.LoadAvg())
}

// measureOff compares hits of bin ([cluster] off) with those of a build of rev.
func measureOff(b *testing.B, bin, chromium, rev, work string, origin *fixture.Origin, rounds int, wrkFor time.Duration) {
	base := buildBaseline(b, rev, work)
	single, err := prerenderdtest.Start(bin, chromium, "")
	if err != nil {
		b.Fatal(err)
	}
	before, err := prerenderdtest.Start(base, chromium, "")
	if err != nil {
		b.Fatal(err)
	}
	hot := origin.URL + "/product?hot=1"
	hitOnce(b, single.URL, hot)
	hitOnce(b, before.URL, hot)
	med, runs := interleaved(b, work, rounds, wrkFor, []string{single.URL, before.URL}, hot)
	offRatio := roundRatios(runs)
	logf("hits, [cluster] off: median %.0f/s; %s (before the cluster): median %.0f/s; median of the rounds' ratios %.3f (goal >= 0.98); load average %s",
		med[0], rev, med[1], offRatio, prerenderdtest.LoadAvg())
	b.ReportMetric(offRatio, "off/before")
	if err := single.Stop(); err != nil {
		b.Error(err)
	}
	if err := before.Stop(); err != nil {
		b.Error(err)
	}
}

// measureHop compares hits of one page on its owner with the same hits
// through another member.
func measureHop(b *testing.B, work string, origin *fixture.Origin, nodes []*node, rounds int, wrkFor time.Duration) {
	var page string
	var owner, other *node
	for k := 0; owner == nil && k < 100; k++ {
		p := fmt.Sprintf("%s/product?hits=%d", origin.URL, k)
		o := clusterOf(b, nodes[0].URL, "?url="+url.QueryEscape(p)).Owner
		if o == nil {
			b.Fatalf("no owner for %s", p)
		}
		for i, n := range nodes {
			if n.Name == o.Name {
				page, owner, other = p, n, nodes[(i+1)%len(nodes)]
			}
		}
	}
	hitOnce(b, owner.URL, page)
	hitOnce(b, other.URL, page)
	med, runs := interleaved(b, work, rounds, wrkFor, []string{other.URL, owner.URL}, page)
	hopRatio := roundRatios(runs)
	logf("hits of one page: through another member median %.0f/s, on its owner median %.0f/s; median of the rounds' ratios %.3f; load average %s", med[0], med[1], hopRatio, prerenderdtest.LoadAvg())
	b.ReportMetric(hopRatio, "nonowner/owner")
	hop := clusterOf(b, other.URL, "").Forwarded
	logf("the member that forwarded: %d requests out, mean %.2f ms each (hop and the owner's hit)", hop.Out, 1000*hop.HopMeanSeconds)
}

// measureFailover kills the last of nodes with -9 and measures until every
// survivor places its shards again, and until a page it owned is answered
// (rendered again) by a survivor.
func measureFailover(b *testing.B, origin *fixture.Origin, nodes []*node) {
	victim := nodes[2]
	survivors := nodes[:2]
	var orphan string
	for k := 0; orphan == "" && k < 200; k++ {
		p := fmt.Sprintf("%s/product?orphan=%d", origin.URL, k)
		if o := clusterOf(b, nodes[0].URL, "?url="+url.QueryEscape(p)).Owner; o != nil && o.Name == victim.Name {
			orphan = p
		}
	}
	if status, _, by, err := get(survivors[0].URL, orphan); err != nil || status != 200 || by != victim.Name {
		b.Fatalf("%s before the kill: %d by %s %v", orphan, status, by, err)
	}
	killed := time.Now()
	victim.Kill9()
	placed := waitMembers(b, survivors, 2, 60*time.Second)
	status, _, by, err := get(survivors[0].URL, orphan)
	answered := time.Since(killed)
	if err != nil || status != 200 || by == victim.Name {
		b.Fatalf("%s after the kill: %d by %s %v", orphan, status, by, err)
	}
	logf("kill -9 of %s: every virtual shard placed on the survivors %v after, its page answered again (re-rendered by %s) %v after",
		victim.Name, placed.Round(time.Millisecond), by, answered.Round(time.Millisecond))
	b.ReportMetric(placed.Seconds(), "failover-s")
}

func numCPU() int { return runtime.NumCPU() }
