// Command gen rewrites the generated parts of the files in deploy/ from the crawler
// list: `make deploy-files` (go generate ./deploy/) runs it after an edit of
// crawlers/crawlers.json.
package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"

	"prerenderd/deploy"
)

func main() {
	// go generate runs in the package directory, deploy/.
	var files []string
	for f := range deploy.Generated {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		out, err := deploy.Generate(".", f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "deploy/gen: %v\n", err)
			os.Exit(1)
		}
		old, _ := os.ReadFile(f)
		if bytes.Equal(old, out) {
			continue
		}
		if err := os.WriteFile(f, out, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "deploy/gen: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("deploy/gen: wrote deploy/%s\n", f)
	}
}
