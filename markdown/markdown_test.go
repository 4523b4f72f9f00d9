package markdown

import (
	"flag"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden .md files from the converter's output")

// pages are the golden cases: testdata/NAME.html converts to testdata/NAME.md.
//
// demo-product.html and demo-index.html are what prerenderd answered for
// /demo/product.html?id=2 and /demo/ (the built-in demo shop, rendered by the binary
// on 2026-12-01); article.html is a blog post with the chrome of a real site: a
// cookie banner, navigation, a search form, breadcrumbs, a newsletter box, comments,
// a sidebar, a footer, scripts.
var pages = []struct{ name, url string }{
	{"demo-product", "http://127.0.0.1:3000/demo/product.html?id=2"},
	{"demo-index", "http://127.0.0.1:3000/demo/"},
	{"article", "https://blog.example/posts/caching-with-pebble"},
}

func TestPagesGiveTheirGoldenMarkdown(t *testing.T) {
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", p.name+".html"))
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(p.url)
			got, err := Convert(src, u)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", p.name+".md")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./markdown/ -run Golden -update)", err)
			}
			if string(got) != string(want) {
				t.Fatalf("the Markdown of %s differs from %s (go test ./markdown/ -update rewrites it):\n%s", p.name, golden, got)
			}
			t.Logf("%s: %d bytes of HTML, %d of Markdown: %.2f", p.name, len(src), len(got), float64(len(got))/float64(len(src)))
		})
	}
}

func TestTheArticleKeepsItsContentAndLosesItsChrome(t *testing.T) {
	src, err := os.ReadFile("testdata/article.html")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("https://blog.example/posts/caching-with-pebble")
	b, err := Convert(src, u)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"---\ntitle: \"Caching rendered pages with Pebble | The Render Log\"\n",
		"type: BlogPosting\n", "author: Ada Keller\n", "published: \"2026-11-03\"\n",
		"\n# Caching rendered pages with Pebble\n",
		"\n## How the cache is laid out\n", "\n### Why it is fast\n",
		"[normalizing URLs](https://blog.example/posts/normalizing-urls)",
		"- the page itself, compressed;", "1. The key is computed once",
		"| plain  | 41,200", "```sh\nmake bench\n", "```toml\n[storage]",
		"> Decompressing per request",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
	for _, chrome := range []string{"cookies", "Accept all", "Newsletter", "Search posts", "Related posts",
		"Popular", "Privacy", "© 2026", "Subscribe", "Comments", "Share on", "gtag", "dataLayer", "<script", "Home"} {
		if strings.Contains(md, chrome) {
			t.Errorf("the Markdown keeps chrome: %q", chrome)
		}
	}
}

func TestConvertRefusesAPageWithoutItsURL(t *testing.T) {
	for _, u := range []*url.URL{nil, {Path: "/relative"}} {
		if _, err := Convert([]byte("<p>x</p>"), u); err == nil {
			t.Errorf("Convert with URL %v succeeded", u)
		}
	}
}

func TestJSONLDFacts(t *testing.T) {
	page := func(jsonld ...string) string {
		var b strings.Builder
		b.WriteString("<html><head><title>T</title>")
		for _, j := range jsonld {
			b.WriteString(`<script type="application/ld+json">` + j + `</script>`)
		}
		b.WriteString("</head><body><h1>T</h1><p>Some text.</p></body></html>")
		return b.String()
	}
	tests := []struct {
		name, html string
		want, not  []string
	}{
		{"a product with an offer gives its price, currency and availability",
			page(`{"@type":"Product","name":"Lamp","brand":{"@type":"Brand","name":"Acme"},"sku":"L-1","offers":{"@type":"Offer","price":"89.00","priceCurrency":"EUR","availability":"https://schema.org/InStock"},"aggregateRating":{"ratingValue":4.6,"reviewCount":12}}`),
			[]string{"type: Product\n", "name: Lamp\n", "brand: Acme\n", "sku: L-1\n", "price: \"89.00\"\n", "currency: EUR\n", "availability: InStock\n", "rating: \"4.6\"\n", "reviews: \"12\"\n"}, nil},
		{"the first of several offers is taken",
			page(`{"@type":"Product","name":"Mug","offers":[{"price":24,"priceCurrency":"USD"},{"price":30,"priceCurrency":"USD"}]}`),
			[]string{"price: \"24\"\n"}, []string{"\"30\""}},
		{"an AggregateOffer gives its lowest price",
			page(`{"@type":"Product","name":"Mug","offers":{"@type":"AggregateOffer","lowPrice":19.5,"priceCurrency":"USD"}}`),
			[]string{"price: \"19.5\"\n"}, nil},
		{"the product is found in a @graph, after a WebSite",
			page(`{"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"Shop"},{"@type":"Product","name":"Lamp"}]}`),
			[]string{"type: Product\n", "name: Lamp\n"}, []string{"name: Shop"}},
		{"a product wins over an article of another block",
			page(`{"@type":"Article","headline":"News"}`, `[{"@type":"Product","name":"Lamp"}]`),
			[]string{"type: Product\n"}, []string{"News"}},
		{"a broken block is skipped, the next one read",
			page(`{"@type":"Product",`, `{"@type":"NewsArticle","headline":"Big news","author":[{"name":"A"},{"name":"B"}]}`),
			[]string{"type: NewsArticle\n", "name: Big news\n", "author: A, B\n"}, nil},
		{"a page of only a WebSite has no facts",
			page(`{"@type":"WebSite","name":"Shop"}`),
			nil, []string{"type:"}},
		{"values YAML would misread are quoted",
			page(`{"@type":"Product","name":"yes","sku":"12: \"x\" # y"}`),
			[]string{"name: \"yes\"\n", `sku: "12: \"x\" # y"` + "\n"}, nil},
	}
	u, _ := url.Parse("https://shop.example/p/1")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Convert([]byte(tc.html), u)
			if err != nil {
				t.Fatal(err)
			}
			front, _, _ := strings.Cut(strings.TrimPrefix(string(b), "---\n"), "---\n")
			for _, w := range tc.want {
				if !strings.Contains(front, w) {
					t.Errorf("the front matter lacks %q:\n%s", w, front)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(front, n) {
					t.Errorf("the front matter has %q:\n%s", n, front)
				}
			}
		})
	}
}

// realPages are the real-world pages of go-readability's own test corpus (news
// sites, blogs, docs, saved as they were, scripts and all), 20 KB and more: the
// corpus's smaller pages are unit cases, not sites.
func realPages(tb testing.TB) []string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "codeberg.org/readeck/go-readability/v2").Output()
	if err != nil {
		tb.Skipf("cannot find go-readability's module directory: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "test-pages", "*", "source.html"))
	var real []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() >= 20_000 {
			real = append(real, f)
		}
	}
	if len(real) < 20 {
		tb.Skipf("only %d real pages found", len(real))
	}
	return real
}

// TestRealPagesShrink holds the median Markdown/HTML size of one real page in four
// (a fixed sample, so the suite stays fast under the race detector) under 0.2;
// BenchmarkRealPages measures all of them.
func TestRealPagesShrink(t *testing.T) {
	files := realPages(t)
	u, _ := url.Parse("https://example.com/page")
	var ratios []float64
	var htmlBytes, mdBytes int
	for i, f := range files {
		if i%4 != 0 {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		md, err := Convert(src, u)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		ratios = append(ratios, float64(len(md))/float64(len(src)))
		htmlBytes += len(src)
		mdBytes += len(md)
	}
	sort.Float64s(ratios)
	median := ratios[len(ratios)/2]
	t.Logf("%d real pages: median Markdown/HTML %.3f, 90th percentile %.3f, all bytes %.3f", len(ratios), median, ratios[len(ratios)*9/10], float64(mdBytes)/float64(htmlBytes))
	if median >= 0.2 {
		t.Fatalf("median Markdown/HTML %.3f, want under 0.2", median)
	}
}

func FuzzConvert(f *testing.F) {
	for _, p := range pages {
		b, err := os.ReadFile(filepath.Join("testdata", p.name+".html"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(`<script type="application/ld+json">{"@graph":[[[{"@type":["Product"],"offers":{"offers":{"offers":[]}}}]]]}</script>`)
	u, _ := url.Parse("https://shop.example/p/1")
	f.Fuzz(func(t *testing.T, doc string) {
		b, err := Convert([]byte(doc), u)
		if err != nil {
			return
		}
		md := string(b)
		if !strings.HasPrefix(md, "---\n") || !strings.Contains(md[4:], "\n---\n") {
			t.Fatalf("no front matter:\n%s", md)
		}
		front, _, _ := strings.Cut(md[4:], "\n---\n")
		for _, line := range strings.Split(front, "\n") {
			if k, _, ok := strings.Cut(line, ": "); !ok || strings.ContainsAny(k, " \"") {
				t.Fatalf("front matter line %q is not key: value", line)
			}
		}
	})
}

func BenchmarkConvert(b *testing.B) {
	for _, p := range pages {
		src, err := os.ReadFile(filepath.Join("testdata", p.name+".html"))
		if err != nil {
			b.Fatal(err)
		}
		u, _ := url.Parse(p.url)
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				md, err := Convert(src, u)
				if err != nil {
					b.Fatal(err)
				}
				n = len(md)
			}
			b.ReportMetric(float64(n)/float64(len(src)), "md/html")
		})
	}
}

// BenchmarkRealPages converts every real page of the corpus: the time per page and
// the median Markdown/HTML size.
func BenchmarkRealPages(b *testing.B) {
	files := realPages(b)
	srcs := make([][]byte, len(files))
	for i, f := range files {
		var err error
		if srcs[i], err = os.ReadFile(f); err != nil {
			b.Fatal(err)
		}
	}
	u, _ := url.Parse("https://example.com/page")
	ratios := make([]float64, len(srcs))
	for b.Loop() {
		for i, src := range srcs {
			md, err := Convert(src, u)
			if err != nil {
				b.Fatal(err)
			}
			ratios[i] = float64(len(md)) / float64(len(src))
		}
	}
	sort.Float64s(ratios)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(srcs)), "ns/page")
	b.ReportMetric(ratios[len(ratios)/2], "median-md/html")
}
