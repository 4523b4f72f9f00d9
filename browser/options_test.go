package browser

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOptionsEnsureDefaultsFillsZeroFields(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	if o.Tabs != 2 || o.IdleWindow != defaultIdleWindow || o.PageTimeout != 15*time.Second || o.Logger == nil {
		t.Errorf("defaults = %+v", o)
	}
	if strings.Join(o.Block, ",") != "image,media,font" {
		t.Errorf("Block = %v", o.Block)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate of the defaults = %v", err)
	}
}

func TestOptionsValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
		field  string
	}{
		{"negative tabs are refused", func(o *Options) { o.Tabs = -1 }, "Tabs"},
		{"a negative idle window is refused", func(o *Options) { o.IdleWindow = -time.Second }, "IdleWindow"},
		{"a page timeout shorter than the idle window is refused", func(o *Options) { o.PageTimeout = time.Millisecond }, "PageTimeout"},
		{"an unknown resource type is refused", func(o *Options) { o.Block = []string{"image", "scripts"} }, "Block[1]"},
		{"an empty URL pattern is refused", func(o *Options) { o.BlockURLs = []string{" "} }, "BlockURLs[0]"},
		{"a relative URL pattern is refused", func(o *Options) { o.BlockURLs = []string{"ok.example", "/ads/*"} }, "BlockURLs[1]"},
		{"a user agent of two lines is refused", func(o *Options) { o.UserAgent = "Bot\r\nX-Evil: 1" }, "UserAgent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Options
			o.EnsureDefaults()
			tt.change(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestURLPatternTurnsHostsIntoURLPatterns(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hotjar.com", "*://{*.}?hotjar.com:*/*"},
		{"facebook.com/tr", "*://{*.}?facebook.com:*/tr"},
		{"*.example.com", "*://*.example.com:*/*"},
		{"https://ads.example/*", "https://ads.example/*"},
	}
	for _, tt := range tests {
		if got := urlPattern(tt.in); got != tt.want {
			t.Errorf("urlPattern(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFindChromium(t *testing.T) {
	if _, err := FindChromium("/nonexistent/chromium"); err == nil || !strings.Contains(err.Error(), "/nonexistent/chromium") {
		t.Errorf("FindChromium of a missing path = %v, want an error naming it", err)
	}
	if _, err := FindChromium(t.TempDir()); err == nil {
		t.Error("FindChromium of a directory = nil error")
	}
	// The installed headless shell is named by its path: put a path of this
	// test in its place.
	dir := t.TempDir()
	shell := filepath.Join(dir, "lib", "chromium-headless-shell")
	saved := chromiumNames
	t.Cleanup(func() { chromiumNames = saved })
	chromiumNames = append([]string{shell}, saved[1:]...)
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(filepath.Dir(shell), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	_, err := FindChromium("")
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "chromium-browser") || !strings.Contains(err.Error(), "chromium-headless-shell") {
		t.Errorf("FindChromium with an empty PATH = %v, want ErrNotFound listing the names tried and the package to install", err)
	}
	install := func(path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct{ install, want string }{
		{filepath.Join(bin, "chromium"), filepath.Join(bin, "chromium")},
		{filepath.Join(bin, "chrome-headless-shell"), filepath.Join(bin, "chrome-headless-shell")},
		{shell, shell},
	} {
		install(step.install)
		if got, err := FindChromium(""); err != nil || got != step.want {
			t.Errorf("with %s installed, FindChromium = %q, %v; want %q (the headless shell before a full Chromium)", step.install, got, err, step.want)
		}
	}
}

func TestOriginPatternCoversThePagesOriginOnly(t *testing.T) {
	for raw, want := range map[string]string{
		"https://shop.example/p?q=1#!/x": "https://shop.example/*",
		"http://127.0.0.1:8080/a":        "http://127.0.0.1:8080/*",
		"http://[::1]:3000/":             "http://[::1]:3000/*",
		"about:blank":                    "",
		"data:text/html,hi":              "",
	} {
		got, ok := originPattern(raw)
		if got != want || ok != (want != "") {
			t.Errorf("originPattern(%q) = %q, %v; want %q", raw, got, ok, want)
		}
	}
}

func TestDefaultUserAgentHidesHeadless(t *testing.T) {
	in := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
	want := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 Prerender (prerenderd)"
	if got := defaultUserAgent(in); got != want {
		t.Errorf("defaultUserAgent = %q", got)
	}
}
