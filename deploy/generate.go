package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"prerenderd/crawlers"
)

// Generated files, each with the crawlers format spliced between its markers.
var Generated = map[string]string{
	"nginx-prerenderd.conf": "nginx",
	"Caddyfile":             "caddy",
}

const (
	beginMarker = "# BEGIN generated"
	endMarker   = "# END generated"
)

// Generate returns the content file (a name of Generated, in dir) must have: its
// text with the generated part replaced by the current crawler list.
func Generate(dir, file string) ([]byte, error) {
	format, ok := Generated[file]
	if !ok {
		return nil, fmt.Errorf("%s is not a generated file", file)
	}
	path := filepath.Join(dir, file)
	old, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %w", path, err)
	}
	var gen bytes.Buffer
	if err := crawlers.Write(&gen, format); err != nil {
		return nil, err
	}
	out, err := Splice(old, gen.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Splice replaces the lines between the BEGIN and END markers of file with
// generated, indented as the BEGIN marker is.
func Splice(file []byte, generated string) ([]byte, error) {
	lines := strings.SplitAfter(string(file), "\n")
	begin, end := -1, -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, beginMarker):
			if begin >= 0 {
				return nil, fmt.Errorf("line %d: a second %q", i+1, beginMarker)
			}
			begin = i
		case strings.HasPrefix(t, endMarker):
			if begin < 0 || end >= 0 {
				return nil, fmt.Errorf("line %d: %q without its %q", i+1, endMarker, beginMarker)
			}
			end = i
		}
	}
	if begin < 0 || end < 0 {
		return nil, fmt.Errorf("no %q ... %q lines", beginMarker, endMarker)
	}
	indent := lines[begin][:len(lines[begin])-len(strings.TrimLeft(lines[begin], " \t"))]
	var b strings.Builder
	for _, l := range lines[:begin+1] {
		b.WriteString(l)
	}
	for _, l := range strings.SplitAfter(strings.TrimRight(generated, "\n")+"\n", "\n") {
		if l != "" {
			b.WriteString(indent + l)
		}
	}
	for _, l := range lines[end:] {
		b.WriteString(l)
	}
	return []byte(b.String()), nil
}
