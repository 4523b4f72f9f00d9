package httpfront

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"prerenderd/actors"
	"prerenderd/browser"
	"prerenderd/browser/fixture"
	"prerenderd/cachekey"
	"prerenderd/storage"
)

func TestDocumentsTheOriginDidNotDeliverAreRefusedNotCached(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{AllowPrivate: true}).URL
	tests := []struct {
		name   string
		path   string
		reason string
	}{
		{"a connection reset mid-body is a 502, not half a page", "/broken/reset", "document-incomplete"},
		{"a body shorter than its Content-Length is a 502", "/broken/short", "document-incomplete"},
		{"an empty 200 is a 502", "/broken/empty", "empty-document"},
		{"a page reloading itself for ever is a 502", "/reload-loop", "navigation-loop"},
		{"a page sending itself to itself for ever is a 502", "/href-loop", "navigation-loop"},
		{"a document over render.max_html_bytes is a 502", "/big?kb=51200", "too-large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := origin.URL + tc.path
			a := get(t, front, target)
			if a.status != http.StatusBadGateway {
				t.Fatalf("status = %d, want 502; cache %q, body: %.300s", a.status, a.header.Get("X-Prerender-Cache"), a.body)
			}
			if got := a.header.Get("X-Prerender-Reject-Reason"); got != tc.reason {
				t.Errorf("X-Prerender-Reject-Reason = %q, want %q", got, tc.reason)
			}
			if strings.Contains(a.body, "half-page") {
				t.Errorf("the answer carries part of the page: %.300s", a.body)
			}
			if stored(t, target) {
				t.Error("a broken document was stored")
			}
		})
	}
}

func TestWhatAPageDeclaresIsAnsweredOnlyWhenHTTPCanCarryIt(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{AllowPrivate: true}).URL
	target := origin.URL + "/declared-bad"
	for _, want := range []string{"MISS", "HIT"} {
		a := get(t, front, target)
		if a.status != http.StatusOK {
			t.Fatalf("%s: status = %d, want the page's own 200 over the declared 101 and 100", want, a.status)
		}
		if got := a.header.Get("X-Prerender-Cache"); got != want {
			t.Errorf("X-Prerender-Cache = %q, want %q", got, want)
		}
		if got := a.header.Get("X-Good"); got != "kept" {
			t.Errorf("%s: X-Good = %q, want kept", want, got)
		}
		for _, name := range []string{"X-Nul", "X-Split", "X-Esc", "Set-Cookie"} {
			if v, ok := a.header[name]; ok {
				t.Errorf("%s: %s = %q was sent", want, name, v)
			}
		}
		// A bad header once made net/http drop every header after it.
		if a.header.Get("X-Prerender-Request-Id") == "" || a.header.Get("Date") == "" {
			t.Errorf("%s: headers lost: %v", want, a.header)
		}
	}
}

func TestAHeaderStoredBeforeTheRuleIsNotSent(t *testing.T) {
	front := newFront(t, Config{AllowPrivate: true}).URL
	u := "http://cached-before.example/page"
	putPage(t, u, []byte("<html><body>old</body></html>"), http.Header{"X-Old": {"a\x00b"}, "X-Fine": {"yes"}})
	a := get(t, front, u)
	if a.status != http.StatusOK || a.header.Get("X-Prerender-Cache") != "HIT" {
		t.Fatalf("status %d, cache %q", a.status, a.header.Get("X-Prerender-Cache"))
	}
	if _, ok := a.header["X-Old"]; ok {
		t.Error("a stored header with a NUL was sent")
	}
	if a.header.Get("X-Fine") != "yes" || a.header.Get("X-Prerender-Request-Id") == "" {
		t.Errorf("headers lost: %v", a.header)
	}
}

func TestRenderTimeoutStatusDecidesTheAnswerOfAPageBusyAtTheTimeout(t *testing.T) {
	origin := fixture.New(t)
	front := newFront(t, Config{AllowPrivate: true, TimeoutStatus: http.StatusGatewayTimeout}).URL
	target := origin.URL + "/timeout?status=504"
	a := get(t, front, target)
	if a.status != http.StatusGatewayTimeout {
		t.Fatalf("status = %d, want 504; body %.200s", a.status, a.body)
	}
	if got := a.header.Get("X-Prerender-Reject-Reason"); got != "timeout" {
		t.Errorf("X-Prerender-Reject-Reason = %q, want timeout", got)
	}
	if strings.Contains(a.body, "ticks") {
		t.Error("the snapshot was sent with a 504")
	}
	if stored(t, target) {
		t.Error("an incomplete page was stored")
	}
}

// putPage stores a page for url directly, as an earlier render would have.
func putPage(t testing.TB, url string, body []byte, h http.Header) string {
	t.Helper()
	u, err := cachekey.Normalize(url, cachekey.StripTracking)
	if err != nil {
		t.Fatal(err)
	}
	key := cachekey.Key(cachekey.Desktop, u)
	now := time.Now()
	if err := testStore.PutPage(&storage.Page{Key: key, URL: u.String(), Status: 200, Header: h,
		RenderedAt: now, ExpiresAt: now.Add(time.Hour), Plain: body}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testStore.DeletePage(key) })
	return key
}

// TestSlowReadersCannotPinTheServer: clients that ask for a cached 8 MiB page
// and never read it lose their connection at the write deadline; the
// server's goroutines and connections return to what they were.
func TestSlowReadersCannotPinTheServer(t *testing.T) {
	page := bytes.Repeat([]byte("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n"), 8<<20/64)
	u := "http://slow-readers.example/big"
	putPage(t, u, page, nil)

	var open atomic.Int64
	srv := httptest.NewUnstartedServer(New(Config{AllowPrivate: true, WriteTimeout: 3 * time.Second}, testApp))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	baseline := runtime.NumGoroutine()
	const clients = 50
	var conns []net.Conn
	for range clients {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", u)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	// Each handler blocks in a write once the socket buffers are full.
	waitFor(t, "every slow reader to be connected", func() bool { return open.Load() == clients })

	t.Run("a client that reads, even slowly, gets the whole page", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", u)
		var got bytes.Buffer
		buf := make([]byte, 256<<10)
		for {
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		if !bytes.HasSuffix(got.Bytes(), page) {
			t.Fatalf("got %d bytes, want the %d bytes of the page after the headers", got.Len(), len(page))
		}
	})

	waitFor(t, "the server to drop every client that does not read", func() bool { return open.Load() == 0 })
	waitFor(t, fmt.Sprintf("goroutines to return to %d", baseline), func() bool {
		return runtime.NumGoroutine() <= baseline
	})
}

// TestDeletesWorkAtLowDisk: below storage.min_free, pages can still be cleared
// (they free space) while writes are refused naming the disk; below the delete
// floor even a delete is refused, the same way.
func TestDeletesWorkAtLowDisk(t *testing.T) {
	front := newFront(t, Config{AllowPrivate: true}).URL
	t.Cleanup(func() { testFree.Store(plentyFree) })
	low := func(free int64) { testFree.Store(free) }

	u := "http://low-disk.example/page"
	putPage(t, u, []byte("<html><body>cached</body></html>"), nil)

	low(100 << 20) // under the default 256 MiB guard, over the 64 MiB delete floor
	t.Run("a recache, a write, is refused as disk-full", func(t *testing.T) {
		a := post(t, front, "/recache", fmt.Sprintf(`{"url": %q}`, u))
		if a.status != http.StatusInsufficientStorage || a.header.Get("X-Prerender-Reject-Reason") != "disk-full" {
			t.Fatalf("status %d, reason %q, want 507 disk-full; body %s", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
		}
		if !strings.Contains(a.body, "bytes free (100 MiB)") {
			t.Errorf("the refusal does not say how much is free: %s", a.body)
		}
	})
	t.Run("the cached page is still served", func(t *testing.T) {
		if a := get(t, front, u); a.status != 200 || a.header.Get("X-Prerender-Cache") != "HIT" {
			t.Fatalf("status %d, cache %q", a.status, a.header.Get("X-Prerender-Cache"))
		}
	})
	t.Run("clearing one URL frees space and is done", func(t *testing.T) {
		a := post(t, front, "/cache-clear", fmt.Sprintf(`{"query": %q}`, u))
		if a.status != http.StatusOK || !strings.Contains(a.body, `"deleted":1`) {
			t.Fatalf("status %d, body %s; want 200 deleted 1", a.status, a.body)
		}
		if stored(t, u) {
			t.Error("the page is still stored")
		}
	})

	putKey := func() {
		testFree.Store(plentyFree)
		putPage(t, u, []byte("<html><body>cached again</body></html>"), nil)
	}
	putKey()
	low(10 << 20) // under the delete floor
	t.Run("under the delete floor a clear is refused as disk-full too", func(t *testing.T) {
		a := post(t, front, "/cache-clear", fmt.Sprintf(`{"query": %q}`, u))
		if a.status != http.StatusInsufficientStorage || a.header.Get("X-Prerender-Reject-Reason") != "disk-full" {
			t.Fatalf("status %d, reason %q, want 507 disk-full; body %s", a.status, a.header.Get("X-Prerender-Reject-Reason"), a.body)
		}
		if !stored(t, u) {
			t.Error("a refused clear removed the page")
		}
	})
}

// TestStatusOfEveryRenderFailure is the table of what a client sees for each
// way a render fails.
func TestStatusOfEveryRenderFailure(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		reason string
	}{
		{"a document cut short", fmt.Errorf("cannot render: %w: net::ERR_CONNECTION_RESET", browser.ErrDocumentIncomplete), 502, "document-incomplete"},
		{"a navigation loop", fmt.Errorf("cannot render: %w", browser.ErrNavigationLoop), 502, "navigation-loop"},
		{"an empty document", fmt.Errorf("cannot render: %w", browser.ErrEmptyDocument), 502, "empty-document"},
		{"a document over the cap", fmt.Errorf("cannot render: %w", browser.ErrTooLarge), 502, "too-large"},
		{"a full disk", fmt.Errorf("cannot queue: %w", storage.ErrDiskFull), 507, "disk-full"},
		{"a hung tab", fmt.Errorf("cannot render: %w", browser.ErrTabHung), 504, "tab-hung"},
		{"a shard or pool restarted by its supervisor", actors.ErrRestarted, 503, "restarted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, reason := statusOf(tc.err)
			if status != tc.status || reason != tc.reason {
				t.Errorf("statusOf = %d %s, want %d %s", status, reason, tc.status, tc.reason)
			}
		})
	}
}
