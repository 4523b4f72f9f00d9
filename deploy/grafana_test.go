package deploy

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"prerenderd/internal/prerenderdtest"
)

// grafanaPanel is the part of a Grafana panel the tests read.
type grafanaPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Thresholds struct {
				Steps []struct {
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
			Custom struct {
				ThresholdsStyle struct {
					Mode string `json:"mode"`
				} `json:"thresholdsStyle"`
			} `json:"custom"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type grafanaDashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	SchemaVersion int            `json:"schemaVersion"`
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json is not JSON: %v", err)
	}
	return d
}

// dashboardQueries are the PromQL expressions of the board, by panel title, and
// the metric of each label_values() of its variables.
func dashboardQueries(d grafanaDashboard) map[string][]string {
	q := map[string][]string{}
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			q[p.Title] = append(q[p.Title], t.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
			q["variable "+v.Name] = append(q["variable "+v.Name], m[1])
		}
	}
	return q
}

var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)

// prometheusQueries are the example queries in prometheus.yml's comments, lines
// "#   what:   expression", by what.
func prometheusQueries(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	q := map[string][]string{}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "#   ")
		if !ok {
			continue
		}
		what, expr, ok := strings.Cut(rest, ": ")
		if ok && strings.Contains(expr, "(") {
			q[strings.TrimSpace(what)] = append(q[strings.TrimSpace(what)], strings.TrimSpace(expr))
		}
	}
	return q
}

// promqlKeywords are the words of PromQL that are neither metrics nor followed
// by "(" where they appear.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true,
}

// metricNames lists the metric names a PromQL expression selects: what is left
// once strings, label matchers {…}, ranges […], grouping clauses by (…) and
// function names are taken out. It is no full parser: enough for the queries of
// a dashboard, and its test shows the forms it reads.
func metricNames(expr string) []string {
	var b strings.Builder
	depth := 0 // inside {…} or […]
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			i = j
			b.WriteByte(' ')
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	s := grouping.ReplaceAllString(b.String(), " ")
	var names []string
	for _, m := range identifier.FindAllStringIndex(s, -1) {
		word := s[m[0]:m[1]]
		rest := strings.TrimLeft(s[m[1]:], " \t\n")
		if promqlKeywords[strings.ToLower(word)] || strings.HasPrefix(rest, "(") {
			continue
		}
		if m[0] > 0 && (s[m[0]-1] == '$' || s[m[0]-1] == '.' || (s[m[0]-1] >= '0' && s[m[0]-1] <= '9')) {
			continue // a variable, or the exponent or unit of a number
		}
		if !slices.Contains(names, word) {
			names = append(names, word)
		}
	}
	return names
}

var (
	grouping   = regexp.MustCompile(`(?i)\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

func TestMetricNamesReadsTheFormsOfTheBoard(t *testing.T) {
	for _, c := range []struct {
		name, expr string
		want       []string
	}{
		{"a bare metric", "go_goroutines", []string{"go_goroutines"}},
		{"a selector with matchers and a variable", `prerender_browsers{instance=~"$instance",state="up"}`, []string{"prerender_browsers"}},
		{"a rate over a range", `rate(prerender_requests_total{cache="HIT"}[$__rate_interval])`, []string{"prerender_requests_total"}},
		{"a ratio of sums", `sum(rate(a_total{x="y"}[5m])) / sum(rate(b_total[5m]))`, []string{"a_total", "b_total"}},
		{"histogram_quantile by le", `histogram_quantile(0.95, sum by (le, class) (rate(prerender_tab_wait_seconds_bucket[5m])))`, []string{"prerender_tab_wait_seconds_bucket"}},
		{"a grouping after the aggregation", `sum(rate(x_total[5m])) by (code)`, []string{"x_total"}},
		{"a comparison with a number", `sum(prerender_cache_max_bytes) > 0`, []string{"prerender_cache_max_bytes"}},
		{"a string that looks like a metric", `count(up{job="prerender_requests_total"})`, []string{"up"}},
		{"keywords and a scientific number", `a_total > bool 1e6 and on (instance) b_total offset 5m`, []string{"a_total", "b_total"}},
		{"a label matcher with a brace in its value", `c_total{path="{x}"}`, []string{"c_total"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := metricNames(c.expr); !slices.Equal(got, c.want) {
				t.Fatalf("metricNames(%q) = %q, want %q", c.expr, got, c.want)
			}
		})
	}
}

func TestTheGrafanaBoardIsImportable(t *testing.T) {
	d := loadDashboard(t)
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Fatalf("__inputs %+v, want one Prometheus datasource input DS_PROMETHEUS", d.Inputs)
	}
	if d.SchemaVersion < 36 || d.UID == "" || d.Title == "" {
		t.Fatalf("schemaVersion %d, uid %q, title %q", d.SchemaVersion, d.UID, d.Title)
	}
	ids := map[int]string{}
	for _, p := range d.Panels {
		if prev, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q: datasource %+v, want uid ${DS_PROMETHEUS}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Expr == "" || q.RefID == "" {
				t.Errorf("panel %q: a query without expr or refId", p.Title)
			}
		}
	}
}

func TestTheGrafanaBoardHasThePanelsOfAnOperator(t *testing.T) {
	d := loadDashboard(t)
	queries := dashboardQueries(d)
	t.Run("the hit rate has a 70% threshold line", func(t *testing.T) {
		for _, p := range d.Panels {
			if p.Title != "Cache hit rate" {
				continue
			}
			fc := p.FieldConfig.Defaults
			for _, s := range fc.Thresholds.Steps {
				if s.Value != nil && *s.Value == 0.7 && fc.Custom.ThresholdsStyle.Mode == "line" {
					return
				}
			}
			t.Fatalf("thresholds %+v, style %q", fc.Thresholds.Steps, fc.Custom.ThresholdsStyle.Mode)
		}
		t.Fatal("no panel \"Cache hit rate\"")
	})
	// Each family an operator looks at is read by some panel.
	used := map[string]bool{}
	for _, exprs := range queries {
		for _, e := range exprs {
			for _, n := range metricNames(e) {
				used[n] = true
			}
		}
	}
	for _, name := range []string{
		"prerender_requests_total", "prerender_responses_total", "prerender_crawler_requests_total",
		"prerender_render_duration_seconds_bucket", "prerender_tab_wait_seconds_bucket", "prerender_renders_total",
		"prerender_tab_queue_length", "prerender_recache_queue_length", "prerender_browsers",
		"prerender_browser_restarts_total", "prerender_egress_requests_total", "prerender_build_info",
		"prerender_storage_read_amplification", "prerender_storage_compactions_total",
		"prerender_storage_wal_written_bytes_total", "prerender_storage_block_cache_hits_total",
		"prerender_storage_block_cache_misses_total", "prerender_storage_disk_bytes",
		"go_memstats_heap_inuse_bytes", "go_goroutines", "process_resident_memory_bytes",
	} {
		if !used[name] {
			t.Errorf("no panel reads %s", name)
		}
	}
	for what, q := range map[string]string{
		"render p50":   `histogram_quantile(0.5, sum by (le) (rate(prerender_render_duration_seconds_bucket`,
		"render p95":   `histogram_quantile(0.95, sum by (le) (rate(prerender_render_duration_seconds_bucket`,
		"tab wait p95": `histogram_quantile(0.95, sum by (le, class) (rate(prerender_tab_wait_seconds_bucket`,
	} {
		found := false
		for _, exprs := range queries {
			for _, e := range exprs {
				found = found || strings.HasPrefix(e, q)
			}
		}
		if !found {
			t.Errorf("no %s query (%s…)", what, q)
		}
	}
}

// exposedNames are the sample names of a /metrics exposition: a histogram's
// name_bucket, name_sum and name_count, every other family's own name.
func exposedNames(t *testing.T, r io.Reader) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestEveryMetricTheBoardAndTheScrapeExampleQueryIsExposed(t *testing.T) {
	app := prerenderd(t)
	// A render and a hit, so the run has seen the traffic the board shows; the
	// families are registered from the start, so none appears only later.
	site := httptest.NewServer(prerenderdtest.Site())
	t.Cleanup(site.Close)
	for range 2 {
		status, h, body := fetch(t, "GET", app.URL+"/"+site.URL+"/product?grafana=1", gptBot, nil)
		if status != http.StatusOK || !strings.Contains(body, prerenderdtest.SiteHeading) {
			t.Fatalf("render: %d %v %.300s", status, h, body)
		}
	}
	resp, err := http.Get(app.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	exposed := exposedNames(t, resp.Body)
	for file, queries := range map[string]map[string][]string{
		"grafana-dashboard.json": dashboardQueries(loadDashboard(t)),
		"prometheus.yml":         prometheusQueries(t),
	} {
		if len(queries) < 5 {
			t.Fatalf("%s: only %d queries found", file, len(queries))
		}
		var missing []string
		for what, exprs := range queries {
			for _, e := range exprs {
				names := metricNames(e)
				if len(names) == 0 {
					t.Errorf("%s: %q: no metric in %q", file, what, e)
				}
				for _, n := range names {
					if !exposed[n] {
						missing = append(missing, what+": "+n)
					}
				}
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s queries metrics that %s/metrics does not expose:\n%s", file, (&url.URL{Scheme: "http", Host: app.Addr}).String(), strings.Join(missing, "\n"))
		}
	}
}
