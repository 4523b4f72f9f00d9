// Command barehttp is the ceiling prerenderd's cache hits are measured against
// (make bench-hits): a bare net/http server answering the same bytes with the same
// headers a hit has (Content-Type, ETag, Content-Encoding, Vary), from memory, with
// nothing else on its path but a map lookup of the request URI. It is a benchmark
// tool only; no part of prerenderd imports it.
//
//	barehttp -manifest DIR/manifest.json
//
// prints "listening ADDR" once it serves on a free loopback port and stops at
// SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Entry is one page of the manifest: the request URI it answers and the files
// and headers of its plain and gzip answers, as prerenderd sent them.
type Entry struct {
	Path        string `json:"path"`
	PlainFile   string `json:"plain_file"`
	GzipFile    string `json:"gzip_file"`
	ETag        string `json:"etag"`
	GzipETag    string `json:"gzip_etag"`
	ContentType string `json:"content_type"`
	Vary        string `json:"vary"`
}

// answer is one encoding of a page, its header values made once.
type answer struct {
	body                      []byte
	etag, length, contentType []string
	vary                      []string
}

type page struct{ plain, gzip answer }

func main() {
	manifest := flag.String("manifest", "", "the manifest.json of the pages to serve")
	flag.Parse()
	if err := run(*manifest); err != nil {
		fmt.Fprintln(os.Stderr, "barehttp:", err)
		os.Exit(1)
	}
}

func run(manifest string) error {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		return fmt.Errorf("cannot read the manifest: %w", err)
	}
	var entries []Entry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return fmt.Errorf("cannot parse the manifest %s: %w", manifest, err)
	}
	dir := filepath.Dir(manifest)
	pages := make(map[string]*page, len(entries))
	for _, e := range entries {
		plain, err := os.ReadFile(filepath.Join(dir, e.PlainFile))
		if err != nil {
			return err
		}
		gz, err := os.ReadFile(filepath.Join(dir, e.GzipFile))
		if err != nil {
			return err
		}
		mk := func(body []byte, etag string) answer {
			return answer{body: body, etag: []string{etag}, length: []string{strconv.Itoa(len(body))},
				contentType: []string{e.ContentType}, vary: []string{e.Vary}}
		}
		pages[e.Path] = &page{plain: mk(plain, e.ETag), gzip: mk(gz, e.GzipETag)}
	}
	gzipValue := []string{"gzip"}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pages[r.RequestURI]
		if p == nil {
			http.NotFound(w, r)
			return
		}
		a, gz := &p.plain, strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
		if gz {
			a = &p.gzip
		}
		h := w.Header()
		h["Content-Type"] = a.contentType
		h["Etag"] = a.etag
		h["Vary"] = a.vary
		h["Content-Length"] = a.length
		if gz {
			h["Content-Encoding"] = gzipValue
		}
		_, _ = w.Write(a.body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-done
	return nil
}
