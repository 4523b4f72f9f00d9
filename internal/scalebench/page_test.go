package scalebench

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func TestSyntheticPagesAreThirtyKBOfDistinctHTMLThatGzipsToAboutEight(t *testing.T) {
	var raw, packed int
	const pages = 12
	for i := range pages {
		h := PageHTML(nil, i*7919)
		if len(h) != PageSize || !strings.HasPrefix(string(h), "<!DOCTYPE html>") || !strings.HasSuffix(string(h), "</body></html>") {
			t.Fatalf("page %d: %d bytes, want %d of HTML", i*7919, len(h), PageSize)
		}
		if !bytes.Equal(h, PageHTML(nil, i*7919)) {
			t.Fatalf("page %d is not the same twice", i*7919)
		}
		if bytes.Equal(h, PageHTML(nil, i*7919+1)) {
			t.Fatalf("pages %d and %d are equal", i*7919, i*7919+1)
		}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(h)
		_ = zw.Close()
		raw += len(h)
		packed += b.Len()
	}
	if avg := packed / pages; avg < 6<<10 || avg > 10<<10 {
		t.Errorf("a page gzips to %d bytes on average, want about 8 KB", avg)
	}
}

func TestPageURLsSpreadOverTheHosts(t *testing.T) {
	if PageURL(1234) != "https://host234.example/p/1234" || !strings.HasPrefix(PageURL(1234), HostPrefix(234)) {
		t.Errorf("PageURL(1234) = %q, HostPrefix(234) = %q", PageURL(1234), HostPrefix(234))
	}
	if onHost(2500, 499) != 3 || onHost(2500, 500) != 2 {
		t.Errorf("onHost(2500, 499/500) = %d/%d, want 3/2", onHost(2500, 499), onHost(2500, 500))
	}
}
