package httpfront

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"prerenderd/crawlers"
)

func TestCrawlersRouteAnswersTheListAsJSON(t *testing.T) {
	srv := newFront(t, Config{})
	resp, err := http.Get(srv.URL + "/crawlers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /crawlers: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc crawlers.Document
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Crawlers) != len(crawlers.All()) || len(doc.Groups) != len(crawlers.Groups()) {
		t.Fatalf("the answer lists %d crawlers in %d groups", len(doc.Crawlers), len(doc.Groups))
	}
	var gpt *crawlers.Crawler
	for i := range doc.Crawlers {
		if doc.Crawlers[i].Name == "GPTBot" {
			gpt = &doc.Crawlers[i]
		}
	}
	if gpt == nil || gpt.Group != crawlers.AITraining || gpt.Source == "" {
		t.Fatalf("GPTBot is %+v", gpt)
	}
}

func TestCrawlersRouteRefusesAPost(t *testing.T) {
	srv := newFront(t, Config{})
	resp, err := http.Post(srv.URL+"/crawlers", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("X-Prerender-Reject-Reason") != "method-not-allowed" {
		t.Fatalf("POST /crawlers: %d %q", resp.StatusCode, resp.Header.Get("X-Prerender-Reject-Reason"))
	}
}
