// Command fastspike is the spike of issue 17: is net/http the ceiling of a
// cache hit? It stores one 30 KB page (the page of make bench-hits) and serves
// it from prerenderd's store, the same read as a hit (storage.ViewPage, the hot
// cache), with a hit's headers, through net/http or fasthttp (-server), so the
// two servers differ in nothing else. It is a module of its own so that
// fasthttp never enters prerenderd's go.mod; nothing imports it.
//
//	cd internal/fastspike && go build && ./fastspike -server fasthttp -dir "$(mktemp -d)"
//
// prints "listening ADDR"; drive it with wrk -t2 -c32 -H 'Accept-Encoding: gzip'
// http://ADDR/https://bench.example/p/0 beside the other mode (README, Cache hits).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"prerenderd/cachekey"
	"prerenderd/storage"
)

// page is hitbench's page: 30 KB of ordinary HTML, about 8 KB gzipped.
func page(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!DOCTYPE html><html><head><title>Product %d</title></head><body>", n)
	for i := 0; b.Len() < 30<<10; i++ {
		fmt.Fprintf(&b, `<div class="item" id="i%d"><h2>Item %d</h2><p>Price $%d.99, in stock, ships in %d days.</p></div>`, i, i+n, (i+n)%97, i%5+1)
	}
	b.WriteString("</body></html>")
	return b.Bytes()
}

func main() {
	which := flag.String("server", "nethttp", "nethttp or fasthttp")
	dir := flag.String("dir", "", "store dir")
	flag.Parse()
	st, err := storage.Open(storage.Options{Dir: *dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	target := "https://bench.example/p/0"
	u, _ := cachekey.Normalize(target, cachekey.StripTracking)
	key := cachekey.Key(cachekey.Desktop, u)
	now := time.Now()
	if err := st.PutPage(&storage.Page{Key: key, URL: u.String(), Status: 200, RenderedAt: now, ExpiresAt: now.Add(24 * time.Hour), Plain: page(0)}); err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	switch *which {
	case "nethttp":
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gz := strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
			_ = st.ViewPage(key, func(v *storage.PageView) error {
				body := v.Gzip
				if !gz {
					body, _ = v.Plain()
				}
				hd := w.Header()
				hd["Content-Type"] = []string{"text/html; charset=utf-8"}
				hd["Etag"] = []string{v.ETag}
				hd["Vary"] = []string{"Accept-Encoding, User-Agent"}
				hd["Age"] = []string{strconv.FormatInt(int64(time.Since(v.RenderedAt)/time.Second), 10)}
				hd["X-Prerender-Cache"] = []string{"HIT"}
				if gz {
					hd["Content-Encoding"] = []string{"gzip"}
				}
				hd["Content-Length"] = []string{strconv.Itoa(len(body))}
				w.Write(body)
				return nil
			})
		})
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		panic(srv.Serve(ln))
	case "fasthttp":
		h := func(c *fasthttp.RequestCtx) {
			gz := bytes.Contains(c.Request.Header.Peek("Accept-Encoding"), []byte("gzip"))
			_ = st.ViewPage(key, func(v *storage.PageView) error {
				body := v.Gzip
				if !gz {
					body, _ = v.Plain()
				}
				c.Response.Header.Set("Content-Type", "text/html; charset=utf-8")
				c.Response.Header.Set("Etag", v.ETag)
				c.Response.Header.Set("Vary", "Accept-Encoding, User-Agent")
				c.Response.Header.Set("Age", strconv.FormatInt(int64(time.Since(v.RenderedAt)/time.Second), 10))
				c.Response.Header.Set("X-Prerender-Cache", "HIT")
				if gz {
					c.Response.Header.Set("Content-Encoding", "gzip")
				}
				c.SetBody(body)
				return nil
			})
		}
		srv := &fasthttp.Server{Handler: h, ReadTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		panic(srv.Serve(ln))
	}
	fmt.Fprintf(os.Stderr, "-server %q: want nethttp or fasthttp\n", *which)
	os.Exit(2)
}
