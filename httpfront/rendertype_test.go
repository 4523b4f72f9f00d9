package httpfront

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"prerenderd/actors"
	"prerenderd/browser"
	"prerenderd/browser/fixture"
)

func TestRenderTypesAsTheNpmServerTakesThem(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{AllowPrivate: true}).URL
	product := origin.URL + "/product?types=1"
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "render?" + v.Encode()
	}
	bypass := func(t *testing.T, a answer, contentType string) {
		t.Helper()
		if a.status != 200 || a.header.Get("Content-Type") != contentType || a.header.Get("X-Prerender-Cache") != "BYPASS" {
			t.Fatalf("got %d %q %s: %.300s", a.status, a.header.Get("Content-Type"), a.header.Get("X-Prerender-Cache"), a.body)
		}
	}
	tests := []struct {
		name  string
		do    func(t *testing.T) answer
		check func(t *testing.T, a answer)
	}{
		{"renderType=png is a PNG of the asked width",
			func(t *testing.T) answer {
				return get(t, front, q("url", product, "renderType", "png", "width", "640", "height", "400"))
			},
			func(t *testing.T, a answer) {
				bypass(t, a, "image/png")
				img, err := png.Decode(strings.NewReader(a.body))
				if err != nil || img.Bounds().Dx() != 640 || img.Bounds().Dy() != 400 {
					t.Fatalf("PNG: %v %v", err, img.Bounds())
				}
			}},
		{"renderType=jpeg is a JPEG",
			func(t *testing.T) answer {
				return get(t, front, q("url", product, "renderType", "jpeg", "fullpage", "true"))
			},
			func(t *testing.T, a answer) {
				bypass(t, a, "image/jpeg")
				if _, err := jpeg.Decode(strings.NewReader(a.body)); err != nil {
					t.Fatalf("JPEG: %v", err)
				}
			}},
		{"renderType=pdf is a PDF",
			func(t *testing.T) answer { return get(t, front, q("url", product, "renderType", "pdf")) },
			func(t *testing.T, a answer) {
				bypass(t, a, "application/pdf")
				if !strings.HasPrefix(a.body, "%PDF") {
					t.Fatalf("body starts %q", a.body[:min(len(a.body), 8)])
				}
			}},
		{"renderType=har is a HAR with the document's entry",
			func(t *testing.T) answer { return get(t, front, q("url", product, "renderType", "har")) },
			func(t *testing.T, a answer) {
				bypass(t, a, "application/json")
				var h struct {
					Log struct {
						Entries []struct {
							Request  struct{ URL string }
							Response struct{ Status int }
						}
					}
				}
				if err := json.Unmarshal([]byte(a.body), &h); err != nil || len(h.Log.Entries) == 0 {
					t.Fatalf("HAR: %v, %.300s", err, a.body)
				}
				if e := h.Log.Entries[0]; e.Request.URL != product || e.Response.Status != 200 {
					t.Fatalf("first entry %+v, want the document", e)
				}
			}},
		{"HEAD answers a capture's headers without its body",
			func(t *testing.T) answer {
				return do(t, http.MethodHead, front+"/"+q("url", product, "renderType", "png"), "")
			},
			func(t *testing.T, a answer) {
				if a.status != 200 || a.header.Get("Content-Type") != "image/png" || a.body != "" {
					t.Fatalf("got %d %q with %d bytes", a.status, a.header.Get("Content-Type"), len(a.body))
				}
			}},
		{"POST /render takes the options as JSON, numbers as numbers",
			func(t *testing.T) answer {
				return post(t, front, "/render", `{"url":"`+product+`","renderType":"png","width":500,"fullpage":false}`)
			},
			func(t *testing.T, a answer) {
				bypass(t, a, "image/png")
				if img, err := png.Decode(strings.NewReader(a.body)); err != nil || img.Bounds().Dx() != 500 {
					t.Fatalf("PNG: %v", err)
				}
			}},
		{"POST /render takes JSON that curl -d labels as a form, and a real form",
			func(t *testing.T) answer {
				a := post(t, front, "/render", `{"url":"`+product+`","renderType":"pdf"}`, "Content-Type", "application/x-www-form-urlencoded")
				if a.status != 200 || !strings.HasPrefix(a.body, "%PDF") {
					t.Fatalf("JSON labelled as a form: %d %.200s", a.status, a.body)
				}
				return post(t, front, "/render", url.Values{"url": {product}, "renderType": {"pdf"}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
			},
			func(t *testing.T, a answer) {
				bypass(t, a, "application/pdf")
			}},
		{"POST /render of plain HTML is the cached page",
			func(t *testing.T) answer {
				return post(t, front, "/render", `{"url":"`+origin.URL+`/product?types=post"}`)
			},
			func(t *testing.T, a answer) {
				if a.status != 200 || a.header.Get("X-Prerender-Cache") != "MISS" || !strings.Contains(a.body, "Espresso Machine 42") {
					t.Fatalf("got %d %s", a.status, a.header.Get("X-Prerender-Cache"))
				}
				if !stored(t, origin.URL+"/product?types=post") {
					t.Fatal("not stored")
				}
			}},
		{"a redirect is answered as such by default",
			func(t *testing.T) answer { return get(t, front, q("url", origin.URL+"/redirect", "renderType", "png")) },
			func(t *testing.T, a answer) {
				if a.status != 301 || a.header.Get("Location") != origin.URL+"/product" {
					t.Fatalf("got %d %q", a.status, a.header.Get("Location"))
				}
			}},
		{"followRedirects=true renders where the redirect leads, and does not cache it",
			func(t *testing.T) answer {
				return get(t, front, q("url", origin.URL+"/redirect?follow=1", "followRedirects", "true"))
			},
			func(t *testing.T, a answer) {
				bypass(t, a, "text/html; charset=utf-8")
				if !strings.Contains(a.body, "Espresso Machine 42") || stored(t, origin.URL+"/redirect?follow=1") {
					t.Fatalf("body %.300s", a.body)
				}
			}},
		{"userAgent is the User-Agent Chromium sends",
			func(t *testing.T) answer {
				return get(t, front, q("url", origin.URL+"/ua?types=1", "userAgent", "TestAgent/1.0"))
			},
			func(t *testing.T, a answer) {
				bypass(t, a, "text/html; charset=utf-8")
				if got := origin.Header("/ua").Get("User-Agent"); got != "TestAgent/1.0" || !strings.Contains(a.body, "TestAgent/1.0") {
					t.Fatalf("origin saw %q", got)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, tc.do(t)) })
	}
	if stored(t, product) {
		t.Error("a screenshot, PDF or HAR reached the HTML cache")
	}
}

func do(t testing.TB, method, u, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return answer{resp.StatusCode, resp.Header, b.String()}
}

func TestBadRenderOptionsAreRefused(t *testing.T) {
	front := newFront(t, Config{AllowPrivate: true}).URL
	page := "http://127.0.0.1:1/p"
	tests := []struct {
		name, method, query, body string
		status                    int
		reason                    string
	}{
		{"an unknown renderType", "GET", "url=" + page + "&renderType=gif", "", 400, "bad-render-type"},
		{"a width of 0", "GET", "url=" + page + "&renderType=png&width=0", "", 400, "bad-width"},
		{"a width of 100000", "GET", "url=" + page + "&renderType=png&width=100000", "", 400, "bad-width"},
		{"a height that is not a number", "GET", "url=" + page + "&height=tall", "", 400, "bad-height"},
		{"a fullpage that is not a boolean", "GET", "url=" + page + "&renderType=png&fullpage=maybe", "", 400, "bad-fullpage"},
		{"a followRedirects that is not a boolean", "GET", "url=" + page + "&followRedirects=2", "", 400, "bad-follow-redirects"},
		{"a userAgent with a line break", "GET", "url=" + page + "&userAgent=a%0Ab", "", 400, "bad-user-agent"},
		{"javascript, which is not run", "GET", "url=" + page + "&javascript=alert(1)", "", 400, "unsupported-option"},
		{"no url", "GET", "renderType=png", "", 400, "bad-url"},
		{"a format that is neither html nor markdown", "GET", "url=" + page + "&format=pdf", "", 400, "bad-format"},
		{"format=markdown of a screenshot", "GET", "url=" + page + "&renderType=png&format=markdown", "", 400, "bad-format"},
		{"a POST format that is not a known one", "POST", "", `{"url":"` + page + `","format":"docx"}`, 400, "bad-format"},
		{"a POST body that is not JSON", "POST", "", "url=x", 400, "bad-json"},
		{"a POST option that is an object", "POST", "", `{"url":"` + page + `","width":{"px":5}}`, 400, "bad-json"},
		{"a POST width of 0 as a number", "POST", "", `{"url":"` + page + `","renderType":"png","width":0}`, 400, "bad-width"},
		{"PUT", "PUT", "url=" + page, "", 405, "method-not-allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, front+"/render?"+tc.query, tc.body)
			if a.status != tc.status || a.header.Get("X-Prerender-Reject-Reason") != tc.reason {
				t.Fatalf("got %d %q (%s), want %d %q", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body, tc.status, tc.reason)
			}
		})
	}
}

func FuzzRenderOptions(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://a.example/","renderType":"png","width":800,"height":"600","fullpage":true}`,
		`{"url":"https://a.example/","followRedirects":"false","userAgent":"x"}`,
		`{"url":null,"width":1e3}`, `{"width":-1}`, `[]`, `{"renderType":"pdf","width":8193}`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/render", strings.NewReader(body))
		params, err := postedOptions(httptest.NewRecorder(), r)
		if err != nil {
			return
		}
		o, err := parseRenderOptions(params)
		if err != nil {
			var ce *clientError
			if !errors.As(err, &ce) || ce.status != http.StatusBadRequest || ce.reason == "" {
				t.Fatalf("a refusal that is not a 400 with a reason: %v", err)
			}
			return
		}
		if o.url == "" || o.width < 0 || o.width > browser.MaxViewport || o.height < 0 || o.height > browser.MaxViewport {
			t.Fatalf("accepted options out of bounds: %+v", o)
		}
		if _, err := browser.ParseOutput(string(o.output)); err != nil {
			t.Fatalf("accepted output %q", o.output)
		}
	})
}

func TestACaptureWithNoTabFreeIsAnswered503WithRetryAfter(t *testing.T) {
	rig := newFreshRig(t, time.Hour, time.Hour, func(c *actors.Config) {
		c.TabsPerBrowser = 1
		c.QueueTimeout = 300 * time.Millisecond
	})
	origin := fixture.New(t)
	// A crawler's render of a page that is never done holds the one tab…
	held := make(chan struct{})
	go func() {
		defer close(held)
		if resp, err := http.Get(rig.front + "/" + origin.URL + "/timeout?hold=1"); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, "the tab to be taken", func() bool { return origin.Hits("/timeout") > 0 })
	// …so a screenshot waits render.queue_timeout, then is refused.
	a := get(t, rig.front, "render?renderType=png&url="+url.QueryEscape(origin.URL+"/"))
	if a.status != http.StatusServiceUnavailable || a.header.Get("X-Prerender-Reject-Reason") != "overloaded" || a.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %q, Retry-After %q", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.header.Get("Retry-After"))
	}
	<-held
}
