package main

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// configKeys flattens config.toml into "table.key" → value, adding the keys of the
// commented-out [[sites]] example (sites.host …) with no value: they have no default.
func configKeys(t *testing.T) map[string]any {
	t.Helper()
	var tables map[string]any
	if _, err := toml.Decode(defaultConfigTOML, &tables); err != nil {
		t.Fatal(err)
	}
	keys := make(map[string]any)
	for table, v := range tables {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("config.toml: top-level key %q outside a table", table)
		}
		for k, val := range m {
			keys[table+"."+k] = val
		}
	}
	inSites := false
	for _, line := range strings.Split(defaultConfigTOML, "\n") {
		switch {
		case strings.HasPrefix(line, "# [[sites]]"):
			inSites = true
		case inSites:
			if m := regexp.MustCompile(`^# ([a-z_]+) = `).FindStringSubmatch(line); m != nil {
				keys["sites."+m[1]] = nil
			}
		}
	}
	if len(keys) < 20 {
		t.Fatalf("found only %d keys in config.toml", len(keys))
	}
	return keys
}

// readmeConfigRows reads the key tables of README's Configuration section:
// "| `table.key` | `default` | what |" → key → the default's TOML text.
func readmeConfigRows(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_]+)` \\|\\s*([^|]*?)\\s*\\|")
	rows := make(map[string]string)
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		if _, dup := rows[m[1]]; dup {
			t.Errorf("README documents %s twice", m[1])
		}
		rows[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
	}
	return rows
}

func TestREADMEDocumentsEveryConfigKeyWithItsDefault(t *testing.T) {
	keys, rows := configKeys(t), readmeConfigRows(t)
	var missing, extra []string
	for k := range keys {
		if _, ok := rows[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range rows {
		if _, ok := keys[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("keys of config.toml missing from README's Configuration tables: %s", strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("README's Configuration tables document keys config.toml does not have: %s", strings.Join(extra, ", "))
	}
	for k, want := range keys {
		lit, ok := rows[k]
		if !ok || want == nil {
			continue
		}
		var got map[string]any
		if _, err := toml.Decode("v = "+lit, &got); err != nil {
			t.Errorf("README's default of %s, %q, is not a TOML value: %v", k, lit, err)
			continue
		}
		if !reflect.DeepEqual(got["v"], want) {
			t.Errorf("README says %s defaults to %s; config.toml says %#v", k, lit, want)
		}
	}
}
