package httpfront

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"prerenderd/actors"
	"prerenderd/browser/fixture"
	"prerenderd/cachekey"
	"prerenderd/storage"
	"prerenderd/storage/storetest"
)

func TestAcceptChoosesMarkdownOnlyWhenItIsAskedForByName(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		want         bool
	}{
		{"no Accept gets HTML", "", false},
		{"a browser's Accept gets HTML", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"*/* gets HTML", "*/*", false},
		{"text/* gets HTML", "text/*", false},
		{"text/markdown alone gets Markdown", "text/markdown", true},
		{"text/markdown with its charset gets Markdown", "text/markdown; charset=utf-8", true},
		{"text/markdown before */* gets Markdown", "text/markdown, */*", true},
		{"text/markdown and text/html at the same q get Markdown", "text/html, text/markdown", true},
		{"text/markdown above text/html gets Markdown", "text/html;q=0.8, text/markdown", true},
		{"text/markdown below text/html gets HTML", "text/html, text/markdown;q=0.9", false},
		{"text/markdown below */* and no text/html gets HTML", "text/markdown;q=0.5, */*", false},
		{"text/markdown above a lower */* gets Markdown", "text/markdown, */*;q=0.1", true},
		{"text/markdown refused with q=0 gets HTML", "text/markdown;q=0, text/html", false},
		{"text/markdown refused alone gets HTML", "text/markdown;q=0", false},
		{"text/x-markdown gets Markdown", "text/x-markdown", true},
		{"upper case names are the same types", "TEXT/MARKDOWN", true},
		{"a q that does not parse asks for nothing", "text/markdown;q=abc", false},
		{"text/html at q=0 with text/markdown gets Markdown", "text/html;q=0, text/markdown;q=0.1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := prefersMarkdown(tc.accept); got != tc.want {
				t.Fatalf("prefersMarkdown(%q) = %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
}

func FuzzPrefersMarkdown(f *testing.F) {
	for _, s := range []string{"text/markdown", "text/html;q=0.8, text/markdown;q=0.9", "text/markdown;q=", ";;,,;q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		if prefersMarkdown(accept) && !strings.Contains(strings.ToLower(accept), "markdown") {
			t.Fatalf("Markdown chosen for %q, which does not name it", accept)
		}
	})
}

func TestAgentsAskingForMarkdownGetTheStoredRendition(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{Policy: loopbackOrigins}).URL
	target := origin.URL + "/product?variant=markdown"
	key := func(target string) string {
		u, err := cachekey.Normalize(target, cachekey.StripTracking)
		if err != nil {
			t.Fatal(err)
		}
		return cachekey.Key(cachekey.Desktop, u)
	}
	md := "text/markdown"
	isMarkdown := func(t *testing.T, a answer, status int, cache string) {
		t.Helper()
		if a.status != status || a.header.Get("Content-Type") != "text/markdown; charset=utf-8" || a.header.Get("X-Prerender-Cache") != cache {
			t.Fatalf("got %d %q %s, want %d Markdown %s; body %.300s", a.status, a.header.Get("Content-Type"), a.header.Get("X-Prerender-Cache"), status, cache, a.body)
		}
	}

	miss := get(t, front, target, "Accept", md)
	t.Run("a miss renders the page, stores both, and answers Markdown", func(t *testing.T) {
		isMarkdown(t, miss, 200, "MISS")
		if !strings.HasPrefix(miss.body, "---\ntitle: Espresso Machine 42\nurl: ") || !strings.Contains(miss.body, "\n# Espresso Machine 42\n") ||
			!strings.Contains(miss.body, "$249.00") || strings.Contains(miss.body, "<") {
			t.Fatalf("not the page's Markdown:\n%s", miss.body)
		}
		p, err := storetest.Page(testStore, key(target))
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Markdown) != miss.body || !strings.Contains(string(p.Plain), `<h1 id="name">`) {
			t.Fatalf("stored Markdown %q, HTML %d bytes", p.Markdown, len(p.Plain))
		}
		if miss.header.Get("ETag") != markdownETag(p.ETag) || miss.header.Get("Vary") != "Accept, Accept-Encoding" {
			t.Fatalf("ETag %q Vary %q; want %q and Accept, Accept-Encoding", miss.header.Get("ETag"), miss.header.Get("Vary"), markdownETag(p.ETag))
		}
	})
	t.Run("then a hit answers the same bytes, plain or gzip, with their own tags", func(t *testing.T) {
		hit := get(t, front, target, "Accept", md)
		isMarkdown(t, hit, 200, "HIT")
		if hit.body != miss.body || hit.header.Get("ETag") != miss.header.Get("ETag") {
			t.Fatalf("the hit differs from the miss: ETag %q, body\n%s", hit.header.Get("ETag"), hit.body)
		}
		gz := get(t, front, target, "Accept", md, "Accept-Encoding", "gzip")
		isMarkdown(t, gz, 200, "HIT")
		if gz.header.Get("Content-Encoding") != "gzip" || string(gunzip(t, []byte(gz.body))) != miss.body ||
			gz.header.Get("ETag") != gzipETag(miss.header.Get("ETag")) {
			t.Fatalf("gzip answer: %q, ETag %q", gz.header.Get("Content-Encoding"), gz.header.Get("ETag"))
		}
	})
	t.Run("the same URL without Accept is the HTML, with the HTML's tag", func(t *testing.T) {
		for _, accept := range []string{"", "*/*", "text/html, text/markdown;q=0.5"} {
			a := get(t, front, target, "Accept", accept)
			if a.status != 200 || a.header.Get("X-Prerender-Cache") != "HIT" || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") ||
				a.header.Get("ETag") == miss.header.Get("ETag") || a.header.Get("Vary") != "Accept, Accept-Encoding" {
				t.Fatalf("Accept %q: %d %s %q ETag %q Vary %q", accept, a.status, a.header.Get("X-Prerender-Cache"),
					a.header.Get("Content-Type"), a.header.Get("ETag"), a.header.Get("Vary"))
			}
		}
	})
	t.Run("If-None-Match revalidates the Markdown by its own tag only", func(t *testing.T) {
		tag := miss.header.Get("ETag")
		html := get(t, front, target).header.Get("ETag")
		for _, tc := range []struct {
			name, inm string
			hdr       []string
			status    int
		}{
			{"its tag gets 304", tag, nil, http.StatusNotModified},
			{"the HTML's tag gets the Markdown", html, nil, http.StatusOK},
			{"its gzip tag gets 304 with gzip", gzipETag(tag), []string{"Accept-Encoding", "gzip"}, http.StatusNotModified},
			{"its plain tag gets the gzip body with gzip", tag, []string{"Accept-Encoding", "gzip"}, http.StatusOK},
		} {
			a := get(t, front, target, append([]string{"Accept", md, "If-None-Match", tc.inm}, tc.hdr...)...)
			if a.status != tc.status || a.header.Get("X-Prerender-Cache") != "HIT" {
				t.Errorf("%s: %d %s, want %d HIT", tc.name, a.status, a.header.Get("X-Prerender-Cache"), tc.status)
			}
		}
	})
	t.Run("HEAD answers the Markdown's headers without its body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodHead, front+"/"+target, nil)
		req.Header.Set("Accept", md)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/markdown; charset=utf-8" ||
			resp.ContentLength != int64(len(miss.body)) || resp.Header.Get("ETag") != miss.header.Get("ETag") {
			t.Fatalf("HEAD: %d %q length %d ETag %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength, resp.Header.Get("ETag"))
		}
	})
	t.Run("/render?format=markdown answers the stored Markdown", func(t *testing.T) {
		a := get(t, front, "render?format=markdown&url="+url.QueryEscape(target))
		isMarkdown(t, a, 200, "HIT")
		if a.body != miss.body {
			t.Fatalf("body differs:\n%s", a.body)
		}
		html := get(t, front, "render?format=html&url="+url.QueryEscape(target), "Accept", md)
		if !strings.HasPrefix(html.header.Get("Content-Type"), "text/html") {
			t.Fatalf("format=html answered %q", html.header.Get("Content-Type"))
		}
	})
	t.Run("an HTML miss stores the Markdown after its answer, for the next agent", func(t *testing.T) {
		later := origin.URL + "/product?variant=markdown-later"
		if a := get(t, front, later); a.status != 200 || a.header.Get("X-Prerender-Cache") != "MISS" || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
			t.Fatalf("HTML miss: %d %s %q", a.status, a.header.Get("X-Prerender-Cache"), a.header.Get("Content-Type"))
		}
		p := waitForMarkdown(t, key(later))
		a := get(t, front, later, "Accept", md, "Accept-Encoding", "gzip")
		isMarkdown(t, a, 200, "HIT")
		if a.header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, []byte(a.body)), p.Markdown) ||
			!strings.Contains(string(p.Markdown), "# Espresso Machine 42") {
			t.Fatalf("answered %q, stored\n%s", a.header.Get("Content-Encoding"), p.Markdown)
		}
	})
	t.Run("a status page answers its Markdown with its status", func(t *testing.T) {
		a := get(t, front, origin.URL+"/notfound-static", "Accept", md)
		isMarkdown(t, a, 404, "BYPASS")
		if !strings.Contains(a.body, "No such product") || strings.Contains(a.body, "<") {
			t.Fatalf("body:\n%s", a.body)
		}
	})
	t.Run("a page stored without Markdown gets it made, answered and stored", func(t *testing.T) {
		legacy := "https://legacy.example/p/1"
		now := time.Now()
		page := &storage.Page{Key: key(legacy), URL: legacy, Status: 200, RenderedAt: now, ExpiresAt: now.Add(time.Hour),
			Plain: []byte(`<html><head><title>Old page</title></head><body><nav><a href="/">Home</a></nav>` +
				`<main><h1>Old page</h1><p>Stored before Markdown existed, with <a href="/about">a link</a>.</p></main></body></html>`)}
		if err := testStore.PutPage(page); err != nil {
			t.Fatal(err)
		}
		a := get(t, front, legacy, "Accept", md, "Accept-Encoding", "gzip")
		isMarkdown(t, a, 200, "HIT")
		if a.header.Get("Content-Encoding") != "" || a.header.Get("ETag") != markdownETag(page.ETag) ||
			!strings.Contains(a.body, "# Old page") || !strings.Contains(a.body, "[a link](https://legacy.example/about)") {
			t.Fatalf("Content-Encoding %q ETag %q body:\n%s", a.header.Get("Content-Encoding"), a.header.Get("ETag"), a.body)
		}
		p := waitForMarkdown(t, page.Key)
		if string(p.Markdown) != a.body || !bytes.Equal(p.Plain, page.Plain) || p.ETag != page.ETag {
			t.Fatalf("stored Markdown %q for the answered\n%s", p.Markdown, a.body)
		}
		again := get(t, front, legacy, "Accept", md, "Accept-Encoding", "gzip")
		if again.header.Get("Content-Encoding") != "gzip" || string(gunzip(t, []byte(again.body))) != a.body {
			t.Fatalf("the stored Markdown is not served gzipped: %q", again.header.Get("Content-Encoding"))
		}
	})
	t.Run("a page over the Markdown bound is answered as HTML", func(t *testing.T) {
		big := "https://legacy.example/big"
		now := time.Now()
		html := "<html><body><h1>Big</h1>" + strings.Repeat("<p>row</p>", actors.MarkdownMaxHTML/10) + "</body></html>"
		if err := testStore.PutPage(&storage.Page{Key: key(big), URL: big, Status: 200, RenderedAt: now, ExpiresAt: now.Add(time.Hour), Plain: []byte(html)}); err != nil {
			t.Fatal(err)
		}
		a := get(t, front, big, "Accept", md)
		if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || len(a.body) != len(html) ||
			a.header.Get("Vary") != "Accept, Accept-Encoding" {
			t.Fatalf("got %d %q, %d bytes, Vary %q; want the HTML", a.status, a.header.Get("Content-Type"), len(a.body), a.header.Get("Vary"))
		}
	})
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitForMarkdown returns the page of key once its Markdown is stored (its
// shard writes it after the answer).
func waitForMarkdown(t *testing.T, key string) *storage.Page {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := storetest.Page(testStore, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Markdown) > 0 {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Markdown stored for %s", key)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
