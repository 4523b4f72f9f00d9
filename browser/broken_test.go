package browser

import (
	"context"
	"errors"
	"net"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

// TestRenderRefusesDocumentsTheOriginDidNotDeliver: what Chromium reports
// about the main document decides, never half a page answered as the page.
func TestRenderRefusesDocumentsTheOriginDidNotDeliver(t *testing.T) {
	tests := []struct {
		name string
		path string
		want error
		text string
	}{
		{"a connection reset after half the body is an incomplete document", "/broken/reset", ErrDocumentIncomplete, "net::ERR_CONNECTION_RESET"},
		{"a chunked body cut by a reset is an incomplete document", "/broken/reset-chunked", ErrDocumentIncomplete, "net::ERR_CONNECTION_RESET"},
		{"a body shorter than its Content-Length is an incomplete document", "/broken/short", ErrDocumentIncomplete, "net::ERR_CONTENT_LENGTH_MISMATCH"},
		{"a 200 with an empty body is an empty document", "/broken/empty", ErrEmptyDocument, "empty body"},
		{"a page reloading itself for ever is a navigation loop", "/reload-loop", ErrNavigationLoop, "documents"},
		{"a page sending itself to itself for ever is a navigation loop", "/href-loop", ErrNavigationLoop, "documents"},
		{"a script navigation to a host that refuses is a failed navigation, not its error page", "/nav-to?to={REFUSED}", ErrNavigation, "net::ERR_CONNECTION_REFUSED"},
		{"a document declaring 50 MiB is too large before it downloads", "/big?kb=51200", ErrTooLarge, "Content-Length"},
		{"a 12 MiB document is too large, measured in the page or while it is parsed", "/big?kb=12288", ErrTooLarge, "the limit is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fixture.New(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			path := strings.ReplaceAll(tt.path, "{REFUSED}", url.QueryEscape(refusedURL(t)))
			res, err := shared.Render(ctx, Request{URL: o.URL + path})
			if err == nil {
				t.Fatalf("Render = status %d, %d bytes, incomplete %v; want %v", res.Status, len(res.HTML), res.Incomplete, tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %q is not %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not say %q", err, tt.text)
			}
		})
	}
}

// TestRenderCapsTheDocument runs a browser with a cap of 256 KiB, so that
// each way of measuring a document is reached at once, whatever the load.
func TestRenderCapsTheDocument(t *testing.T) {
	opts := testOptions(shared.path)
	opts.MaxHTMLBytes = 256 << 10
	opts.PageTimeout = 15 * time.Second
	b, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	o := fixture.New(t)
	tests := []struct {
		name string
		path string
		text string // "" = rendered whole
	}{
		{"a page under the cap is rendered whole", "/big?kb=200", ""},
		{"a chunked document is cut once its source passes four times the cap", "/big?kb=4096&chunked=1", "as it downloaded"},
		{"a document over the cap but under four times it is measured in the page", "/big?kb=512", "serializes to"},
		{"a DOM a script builds over the cap is measured in the page", "/big-js?kb=512", "serializes to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := b.Render(ctx, Request{URL: o.URL + tt.path})
			if tt.text == "" {
				if err != nil {
					t.Fatal(err)
				}
				contains(t, res, "big done")
				return
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Render = %v, want %v", err, ErrTooLarge)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not say %q", err, tt.text)
			}
		})
	}
}

// TestRenderOfA50MiBPageNeverBringsItOver: the size is measured where the
// document is, so a render allocates a small part of the page in this
// process, whatever the page weighs. A script building 50 MiB may keep its
// main thread busy past the page timeout on a loaded machine: a hung tab then,
// never a page.
func TestRenderOfA50MiBPageNeverBringsItOver(t *testing.T) {
	o := fixture.New(t)
	for _, path := range []string{"/big?kb=51200&chunked=1", "/big-js?kb=51200"} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := shared.Render(ctx, Request{URL: o.URL + path})
		cancel()
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s: Render = status %d, %d bytes; want no page", path, res.Status, len(res.HTML))
		}
		if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTabHung) {
			t.Fatalf("%s: error %v, want %v or %v", path, err, ErrTooLarge, ErrTabHung)
		}
		// The whole process allocates, the fixture origin included; 50 MiB
		// brought over would be at least 100 MiB (the message and its string).
		if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
			t.Errorf("%s: the render allocated %d MiB, want well under the page's 50 MiB", path, got>>20)
		}
	}
}

func TestRenderDropsWhatNoHTTPAnswerMayCarry(t *testing.T) {
	o := fixture.New(t)
	res := render(t, shared, o, "/declared-bad")
	status(t, res, 200)
	if res.StatusDeclared {
		t.Errorf("StatusDeclared = true, want the page's own 200 to stand against 101 and 100")
	}
	if got := res.Header.Get("X-Good"); got != "kept" {
		t.Errorf("X-Good = %q, want kept", got)
	}
	for name := range res.Header {
		if name != "X-Good" {
			t.Errorf("header %q = %q was let through", name, res.Header[name])
		}
	}
}

// refusedURL is a loopback URL on a port nothing listens on.
func refusedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/"
}
