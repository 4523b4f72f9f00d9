package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"prerenderd/crawlers"
)

func TestCommittedFilesAreGeneratedFromTheCrawlerList(t *testing.T) {
	for file := range Generated {
		t.Run(file, func(t *testing.T) {
			want, err := Generate(".", file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("deploy/%s is not what crawlers/crawlers.json gives: run `make deploy-files` and commit it", file)
			}
			for _, c := range crawlers.All() {
				if in := strings.Contains(string(got), regexp.QuoteMeta(strings.ToLower(c.Pattern))); in == c.TokenOnly {
					t.Errorf("%s: %s is in it: %v, token only: %v", file, c.Name, in, c.TokenOnly)
				}
			}
		})
	}
}

func TestSplice(t *testing.T) {
	got, err := Splice([]byte("a\n\t# BEGIN generated x\n\told\n\t# END generated\nb\n"), "one\ntwo\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\n\t# BEGIN generated x\n\tone\n\ttwo\n\t# END generated\nb\n"; string(got) != want {
		t.Fatalf("Splice = %q, want %q", got, want)
	}
	for _, tc := range []struct{ name, file string }{
		{"no markers", "a\nb\n"},
		{"no END", "# BEGIN generated\na\n"},
		{"END before BEGIN", "# END generated\n# BEGIN generated\n"},
		{"two BEGINs", "# BEGIN generated\n# BEGIN generated\n# END generated\n"},
		{"two ENDs", "# BEGIN generated\n# END generated\n# END generated\n"},
	} {
		t.Run("a file with "+tc.name+" is refused", func(t *testing.T) {
			if _, err := Splice([]byte(tc.file), "x\n"); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := Generate(".", "prometheus.yml"); err == nil {
		t.Fatal("a file that is not generated was generated")
	}
}
