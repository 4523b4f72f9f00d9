package client

import (
	"bytes"
	"flag"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"prerenderd/httpfront"
)

// The appliance's own HTTP front, with tokens set: its refusals come before it
// touches the appliance, which is why none is needed here. The commands that reach
// a cache run against the built binary in package main's tests.
func refusingFront(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(httpfront.New(httpfront.Config{Tokens: []string{"s3cret"}}, nil))
	t.Cleanup(srv.Close)
	return srv.URL
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestCacheCommandsSayWhatToDoNext(t *testing.T) {
	t.Setenv("PRERENDERD_TOKEN", "")
	t.Setenv("PRERENDERD_ADDR", "")
	front := refusingFront(t)
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		stderrOnce string // must appear exactly once
	}{
		{name: "a missing token names -token and does not repeat its reason",
			args: []string{"ls", "product"}, code: 1,
			stderr:     []string{"prerenderd cache ls: 401 token-missing: prerenderToken (or X-Prerender-Token) is required", "next step: pass -token"},
			stderrOnce: "token-missing"},
		{name: "a token given after the arguments is used as the token, not as a query",
			args: []string{"ls", "product", "-token", "nope"}, code: 1,
			stderr: []string{"403 token-invalid", "-token"}, stderrOnce: "token-invalid"},
		{name: "nothing listening at -addr names -addr",
			args: []string{"ls", "-addr", closedAddr(t)}, code: 1,
			stderr: []string{"cannot reach the appliance", "is prerenderd running", "-addr"}},
		{name: "two queries are bad usage that says how to quote one",
			args: []string{"ls", "a", "b"}, code: 2,
			stderr: []string{`ls takes at most one QUERY, got 2 ("a", "b")`}},
		{name: "a recache where every URL is refused prints each one's reason as a table",
			args: []string{"recache", "notaurl", "ftp://example.com/", "-token", "s3cret"}, code: 1,
			stdout: []string{"queued 0, already queued 0, refused 2", "REFUSED", "bad-url", "notaurl", "ftp://example.com/"},
			stderr: []string{"400 no-valid-url: none of the 2 URL(s) was queued", "next step: give absolute http(s) URLs"}},
		{name: "the same recache with -json prints the API's answer for scripts",
			args: []string{"recache", "-json", "notaurl", "-token", "s3cret"}, code: 1,
			stdout: []string{`"queued": 0`, `"reason": "bad-url"`}},
		{name: "purge without a URL is bad usage",
			args: []string{"purge"}, code: 2, stderr: []string{"purge takes one URL or pattern, got 0"}},
		{name: "an unknown command is bad usage",
			args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`}},
		{name: "an unknown flag is bad usage",
			args: []string{"ls", "-frob"}, code: 2, stderr: []string{"flag provided but not defined: -frob"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tc.args, front, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, &stdout, &stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, &stdout)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, &stderr)
				}
			}
			if tc.stderrOnce != "" && strings.Count(stderr.String(), tc.stderrOnce) != 1 {
				t.Errorf("stderr says %q %d times:\n%s", tc.stderrOnce, strings.Count(stderr.String(), tc.stderrOnce), &stderr)
			}
		})
	}
}

func TestFlagsAreParsedWhereverTheyStand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		pos  []string
		json bool
	}{
		{"flags before the arguments", []string{"-json", "product"}, []string{"product"}, true},
		{"flags after the arguments", []string{"product", "-json"}, []string{"product"}, true},
		{"flags between the arguments", []string{"a", "-json", "b"}, []string{"a", "b"}, true},
		{"a pattern of % is an argument", []string{"%", "-json"}, []string{"%"}, true},
		{"after -- everything is an argument", []string{"a", "--", "-json"}, []string{"a", "-json"}, false},
		{"no arguments", []string{"-json"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			asJSON := fs.Bool("json", false, "")
			pos, err := parseInterspersed(fs, tc.args)
			if err != nil || !slices.Equal(pos, tc.pos) || *asJSON != tc.json {
				t.Fatalf("parse %q = %q, json %v, %v; want %q, json %v", tc.args, pos, *asJSON, err, tc.pos, tc.json)
			}
		})
	}
}

func TestAnAPIErrorDoesNotRepeatItsReason(t *testing.T) {
	tests := []struct {
		name string
		err  APIError
		want string
	}{
		{"a plain-text refusal starting with its reason", APIError{401, "token-missing", "token-missing: a token is required\n"}, "401 token-missing: a token is required"},
		{"a message that does not start with the reason", APIError{400, "bad-url", "no host"}, "400 bad-url: no host"},
		{"no reason header (not a prerenderd answer)", APIError{502, "", "Bad Gateway"}, "502 Bad Gateway"},
		{"neither reason nor body", APIError{500, "", ""}, "500 Internal Server Error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}
