package httpfront

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

//go:embed demo
var demoFiles embed.FS

type demoProduct struct {
	ID          int     `json:"id"`
	Name        string  `json:"name"`
	Price       float64 `json:"price"`
	Description string  `json:"description"`
}

var demoProducts = []demoProduct{
	{1, "Walnut desk lamp", 89, "A lamp turned from one piece of walnut, with a linen shade."},
	{2, "Wool throw", 129, "Heavy merino throw, woven in Portugal."},
	{3, "Stoneware mug", 24, "Glazed by hand; every one is a little different."},
}

// demoAPIDelay makes the demo behave like a real single-page app: its content only
// exists after a slow API call, which is what a crawler without JavaScript misses.
const demoAPIDelay = 150 * time.Millisecond

// demoHandler serves the built-in JS demo site at /demo/: static pages whose content
// is built by JavaScript from a JSON API, so a first run shows a real render with no
// network at all.
func demoHandler() http.Handler {
	static, err := fs.Sub(demoFiles, "demo")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	files := http.StripPrefix("/demo/", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/demo":
			http.Redirect(w, r, "/demo/", http.StatusMovedPermanently)
		case "/demo/api/products":
			time.Sleep(demoAPIDelay)
			writeJSON(w, demoProducts)
		case "/demo/api/product":
			time.Sleep(demoAPIDelay)
			id, _ := strconv.Atoi(r.URL.Query().Get("id"))
			for _, p := range demoProducts {
				if p.ID == id {
					writeJSON(w, p)
					return
				}
			}
			http.Error(w, `{"error":"no such product"}`, http.StatusNotFound)
		default:
			files.ServeHTTP(w, r)
		}
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
