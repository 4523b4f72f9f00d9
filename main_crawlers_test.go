package main

import (
	"os/exec"
	"strings"
	"testing"

	"prerenderd/crawlers"
)

func TestCrawlersCommandPrintsEachFormat(t *testing.T) {
	tests := []struct{ format, want string }{
		{"text", "GPTBot"},
		{"json", `"name": "GPTBot"`},
		{"nginx", "map $http_user_agent $prerender_crawler {"},
		{"caddy", "header_regexp User-Agent"},
		{"regex", crawlers.Regexp()},
	}
	for _, tc := range tests {
		t.Run("-format "+tc.format, func(t *testing.T) {
			out, err := exec.Command(binary, "crawlers", "-format", tc.format).CombinedOutput()
			if err != nil {
				t.Fatalf("prerenderd crawlers -format %s: %v\n%s", tc.format, err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("the output lacks %q:\n%.500s", tc.want, out)
			}
		})
	}
	t.Run("an unknown format exits 2", func(t *testing.T) {
		err := exec.Command(binary, "crawlers", "-format", "yaml").Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Fatalf("exit: %v, want 2", err)
		}
	})
}
