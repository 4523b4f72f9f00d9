package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// listedPackage is what `go list -json` says of one package.
type listedPackage struct {
	ImportPath   string
	Imports      []string // of its Go files
	Deps         []string // every package its Go files need, transitively
	TestImports  []string // of its _test.go files in the package
	XTestImports []string // of its _test.go files of package x_test
}

func listPackages(t *testing.T, args ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	for d := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listedPackage
		if err := d.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// under reports whether pkg is root or a package below it.
func under(pkg, root string) bool { return pkg == root || strings.HasPrefix(pkg, root+"/") }

// owners says which packages may import each outside dependency (CONTRIBUTING,
// Package rules): Chromium's protocol only in browser/, Pebble only in
// storage/, protoactor only in actors/, tests included (the dashboard's test,
// which drives a real Chromium page itself, lives in browser/dashboardtest for
// that reason). Raw strings: the module paths appear here as data only.
var owners = []struct{ dep, owner string }{
	{`github.com/chromedp/chromedp`, "prerenderd/browser"},
	{`github.com/chromedp/cdproto`, "prerenderd/browser"},
	{`github.com/cockroachdb/pebble`, "prerenderd/storage"},
	{`github.com/asynkron/protoactor-go`, "prerenderd/actors"},
}

// The layers, top to bottom: httpfront → actors → {browser, storage}. A
// package may import its own layer and those below, never one above.
var layers = map[string]int{
	"prerenderd/httpfront": 3,
	"prerenderd/actors":    2,
	"prerenderd/analytics": 2, // beside actors: httpfront records into it, it keeps its counts in storage
	"prerenderd/browser":   1,
	"prerenderd/storage":   1,
}

// standalone are the small packages beside the layers: pure, or owning one
// outside thing of their own (the egress proxy, the admin client). They
// import none of the four layers, so any layer can use them.
var standalone = []string{
	"prerenderd/api", "prerenderd/cachekey", "prerenderd/crawlers", "prerenderd/deploy",
	"prerenderd/deploy/gen", "prerenderd/egress", "prerenderd/markdown", "prerenderd/middleware",
	"prerenderd/netguard", "prerenderd/policy", "prerenderd/actors/sitemap", "prerenderd/browser/pagemeta",
	"prerenderd/httpfront/client", "prerenderd/httpfront/target", "prerenderd/browser/fixture",
	"prerenderd/soak", "prerenderd/internal/hitbench/barehttp",
}

// testHelpers are packages only tests import, which may read the layer they
// help test.
var testHelpers = map[string]string{
	"prerenderd/storage/storetest":       "prerenderd/storage",
	"prerenderd/browser/dashboardtest":   "prerenderd/browser", // loads the dashboard in a real Chromium
	"prerenderd/internal/appliancebench": "prerenderd/browser", // benchmarks the binary; finds Chromium and serves fixture pages
	"prerenderd/internal/prerenderdtest": "prerenderd/browser", // starts the binary on the Chromium browser finds
	"prerenderd/internal/scalebench":     "prerenderd/storage", // fills a store through its public API, then benchmarks the binary on it
	"prerenderd/internal/hitbench":       "prerenderd/storage", // fills a store with the pages whose hits it measures through the binary
	"prerenderd/internal/clustertest":    "prerenderd/browser", // runs clusters of the binary; finds Chromium
	"prerenderd/internal/clusterbench":   "prerenderd/browser", // measures clusters of the binary; finds Chromium
}

// layerOf is the layer a package belongs to, and the top-level package of it.
func layerOf(pkg string) (string, int, bool) {
	for root, n := range layers {
		if under(pkg, root) {
			return root, n, true
		}
	}
	return "", 0, false
}

// inAnyLayer: pkg belongs to one of the four layers (a standalone package
// whose directory is under one does not).
func inAnyLayer(pkg string) bool {
	_, _, isLayer := layerOf(pkg)
	return isLayer && !slices.Contains(standalone, pkg) && testHelpers[pkg] == ""
}

func TestEveryImportKeepsToItsLayer(t *testing.T) {
	pkgs := listPackages(t, "./...")
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		// Each outside dependency only in its owner, tests included.
		for _, imports := range [][]string{p.Imports, p.TestImports, p.XTestImports} {
			for _, imp := range imports {
				for _, o := range owners {
					if under(imp, o.dep) && !under(p.ImportPath, o.owner) {
						t.Errorf("%s imports %s: only %s may", p.ImportPath, imp, o.owner)
					}
				}
			}
		}
		var allowed func(dep string) bool
		switch root, n, inLayer := layerOf(p.ImportPath); {
		case p.ImportPath == "prerenderd":
			continue // main wires every layer
		case slices.Contains(standalone, p.ImportPath):
			allowed = func(dep string) bool { return !inAnyLayer(dep) }
		case testHelpers[p.ImportPath] != "":
			helped := testHelpers[p.ImportPath]
			allowed = func(dep string) bool { return !inAnyLayer(dep) || dep == helped }
		case inLayer:
			allowed = func(dep string) bool {
				depRoot, m, isLayer := layerOf(dep)
				return !inAnyLayer(dep) || m < n || (isLayer && depRoot == root)
			}
		default:
			t.Errorf("%s is in no layer and not listed as standalone: place it in layers_test.go", p.ImportPath)
			continue
		}
		for _, dep := range p.Deps {
			if strings.HasPrefix(dep, "prerenderd") && !allowed(dep) {
				t.Errorf("%s depends on %s: a package never imports a layer above its own, and a standalone package none of the layers", p.ImportPath, dep)
			}
		}
	}
}

// The admin CLI is a client of the HTTP API: it shares the JSON types (api)
// and nothing of the server, so it builds without Pebble, Chromium or
// protoactor.
func TestTheAdminClientPullsInNoneOfTheServer(t *testing.T) {
	pkgs := listPackages(t, "-deps", "./httpfront/client")
	for _, p := range pkgs {
		for _, bad := range []string{`github.com/cockroachdb/pebble`, `github.com/chromedp/`, `github.com/asynkron/protoactor-go`, "prerenderd/httpfront", "prerenderd/actors", "prerenderd/storage", "prerenderd/browser"} {
			if strings.HasPrefix(p.ImportPath, bad) && p.ImportPath != "prerenderd/httpfront/client" {
				t.Errorf("httpfront/client depends on %s", p.ImportPath)
			}
		}
	}
}
