package pagemeta

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   int
		ok     bool
	}{
		{"a 404 is taken", []string{"404"}, 404, true},
		{"white space around the number is ignored", []string{" 301 "}, 301, true},
		{"200 is the lowest status taken", []string{"200"}, 200, true},
		{"599 is the highest status taken", []string{"599"}, 599, true},
		{"101 is ignored, it would hand the connection over", []string{"101"}, 0, false},
		{"100 is ignored, it would promise a second answer", []string{"100"}, 0, false},
		{"199 is ignored", []string{"199"}, 0, false},
		{"600 is ignored", []string{"600"}, 0, false},
		{"a negative number is ignored", []string{"-404"}, 0, false},
		{"a leading plus is ignored", []string{"+404"}, 0, false},
		{"leading zeros are ignored", []string{"0404"}, 0, false},
		{"a word is ignored", []string{"not found"}, 0, false},
		{"an empty value is ignored", []string{""}, 0, false},
		{"a status with text after it is ignored", []string{"404 Not Found"}, 0, false},
		{"the first valid value wins over a 1xx before it", []string{"101", "404"}, 404, true},
		{"the first valid value wins over later ones", []string{"410", "404"}, 410, true},
		{"no value leaves the page's own status", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Status(tt.values)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Status(%q) = %d, %v; want %d, %v", tt.values, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	tests := []struct {
		name      string
		content   string
		wantName  string
		wantValue string
		ok        bool
	}{
		{"a Location header is taken", "Location: https://shop.example/new", "Location", "https://shop.example/new", true},
		{"white space around name and value is trimmed", "  X-Robots-Tag :  noindex  ", "X-Robots-Tag", "noindex", true},
		{"a colon in the value stays", "Link: <https://a.example/>; rel=preload", "Link", "<https://a.example/>; rel=preload", true},
		{"an empty value is kept", "X-Empty:", "X-Empty", "", true},
		{"a tab inside the value is kept", "X-Tab: a\tb", "X-Tab", "a\tb", true},
		{"non-ASCII text in the value is kept", "X-Title: café ☕", "X-Title", "café ☕", true},
		{"a NUL in the value drops the header", "X-Evil: a\x00b", "", "", false},
		{"a CR LF in the value drops the header", "X-Evil: a\r\nSet-Cookie: x=1", "", "", false},
		{"a lone LF in the value drops the header", "X-Evil: a\nb", "", "", false},
		{"a lone CR in the value drops the header", "X-Evil: a\rb", "", "", false},
		{"an escape character in the value drops the header", "X-Evil: a\x1bb", "", "", false},
		{"a DEL in the value drops the header", "X-Evil: a\x7fb", "", "", false},
		{"a trailing LF drops the header", "X-Evil: ab\n", "", "", false},
		{"no colon is not a header", "Location https://shop.example/", "", "", false},
		{"an empty name is not a header", ": value", "", "", false},
		{"a space inside the name is not a header", "X Evil: value", "", "", false},
		{"a NUL in the name is not a header", "X-E\x00vil: value", "", "", false},
		{"a CR LF in the name is not a header", "X\r\nSet-Cookie: value", "", "", false},
		{"a non-ASCII name is not a header", "X-Café: value", "", "", false},
		{"a separator in the name is not a header", "X(Evil): value", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, value, ok := Header(tt.content)
			if name != tt.wantName || value != tt.wantValue || ok != tt.ok {
				t.Errorf("Header(%q) = %q, %q, %v; want %q, %q, %v", tt.content, name, value, ok, tt.wantName, tt.wantValue, tt.ok)
			}
		})
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		name   string
		header string
		values []string
		want   bool
	}{
		{"a clean header is valid", "Location", []string{"/new"}, true},
		{"one bad value of several makes it invalid", "X-A", []string{"ok", "a\x00b"}, false},
		{"a bad name makes it invalid", "X A", []string{"ok"}, false},
		{"a value with white space at its end is invalid", "X-A", []string{"ok "}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Valid(tt.header, tt.values); got != tt.want {
				t.Errorf("Valid(%q, %q) = %v, want %v", tt.header, tt.values, got, tt.want)
			}
		})
	}
}

func FuzzStatus(f *testing.F) {
	for _, s := range []string{"404", "101", "100", " 200 ", "600", "-1", "0404", "abc", "", "\x00", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Status([]string{s})
		if !ok {
			if got != 0 {
				t.Fatalf("Status(%q) = %d, false; want 0 when not ok", s, got)
			}
			return
		}
		if got < 200 || got > 599 {
			t.Fatalf("Status(%q) = %d, outside 200-599", s, got)
		}
		if strconv.Itoa(got) != strings.TrimSpace(s) {
			t.Fatalf("Status(%q) = %d, not the number written", s, got)
		}
	})
}

// FuzzHeader checks that every header Header lets through survives being
// written by net/http and read back by an HTTP client unchanged: nothing in
// it can end the header block, start another header or be rewritten.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		"Location: https://shop.example/new", "X-Evil: a\x00b", "X-Evil: a\r\nSet-Cookie: x=1",
		"X: ", ":", "X-Tab: a\tb", "X-Title: café", "X-E\x00vil: v", " Name : value ", "\xff: \xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		name, value, ok := Header(content)
		if !ok {
			return
		}
		if http.CanonicalHeaderKey(name) == "Content-Length" {
			return // the test's own header; prerenderd never sends this one from a page
		}
		if !Valid(name, []string{value}) {
			t.Fatalf("Header(%q) let through %q: %q, which Valid refuses", content, name, value)
		}
		h := http.Header{}
		h.Add(name, value)
		var b strings.Builder
		b.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n")
		if err := h.Write(&b); err != nil {
			t.Fatal(err)
		}
		b.WriteString("\r\n")
		res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(b.String())), nil)
		if err != nil {
			t.Fatalf("Header(%q) = %q: %q, which a client cannot read back: %v", content, name, value, err)
		}
		if got := res.Header.Values(name); len(got) != 1 || got[0] != value {
			t.Fatalf("Header(%q) = %q: %q, read back as %q", content, name, value, got)
		}
		if len(res.Header) != 2 {
			t.Fatalf("Header(%q) = %q: %q, read back as %d headers: %v", content, name, value, len(res.Header), res.Header)
		}
	})
}
