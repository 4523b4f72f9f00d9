package scalebench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// PageSize is the size of a synthetic page's HTML, about that of a rendered
// product page of a shop.
const PageSize = 30 << 10

// Hosts is how many sites the pages are spread over: page i is on host i % Hosts.
const Hosts = 1000

// vocabulary is the words of the pages' text: made-up words of 2 to 11 letters,
// the same for every page, so pages share words as a site's pages do.
var vocabulary = func() []string {
	r := rand.New(rand.NewPCG(17, 17))
	words := make([]string, 4000)
	for i := range words {
		b := make([]byte, 2+r.IntN(10))
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		words[i] = string(b)
	}
	return words
}()

// PageURL is the URL of page i.
func PageURL(i int) string {
	return "https://host" + strconv.Itoa(i%Hosts) + ".example/p/" + strconv.Itoa(i)
}

// HostPrefix is the URL prefix of every page of host h.
func HostPrefix(h int) string {
	return "https://host" + strconv.Itoa(h) + ".example/"
}

// PageHTML appends to dst the HTML of page i: a shop's product page, PageSize bytes,
// its markup and navigation shared with its site's other pages and its text,
// numbers and inline state its own, so that it compresses as a real page does
// (gzip: about 8 KB).
func PageHTML(dst []byte, i int) []byte {
	host := i % Hosts
	r := rand.New(rand.NewPCG(uint64(i), 99))
	site := rand.New(rand.NewPCG(uint64(host), 7))
	// Words are drawn as a language uses them: a few often, most rarely (Zipf).
	zr := rand.NewZipf(r, 1.01, 30, uint64(len(vocabulary)-1))
	zs := rand.NewZipf(site, 1.01, 30, uint64(len(vocabulary)-1))
	word := func(r *rand.Rand) string {
		if r == site {
			return vocabulary[zs.Uint64()]
		}
		return vocabulary[zr.Uint64()]
	}
	dst = fmt.Appendf(dst, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s %s | host%d</title>`,
		word(r), word(r), host)
	dst = fmt.Appendf(dst, `<meta name="description" content="%s %s %s %s %s"><link rel="canonical" href="%s">`,
		word(r), word(r), word(r), word(r), word(r), PageURL(i))
	dst = append(dst, `<link rel="stylesheet" href="/static/app.css"><script type="module" src="/static/app.js"></script></head><body><header class="site-header"><nav class="main-nav"><ul>`...)
	for range 24 {
		w := word(site)
		dst = fmt.Appendf(dst, `<li class="nav-item"><a class="nav-link" href="/c/%s">%s</a></li>`, w, w)
	}
	dst = append(dst, `</ul></nav></header><main id="app"><div class="product">`...)
	// The app's state, as a framework inlines it: ids and numbers of its own.
	dst = append(dst, `<script id="__STATE__" type="application/json">{"product":{"id":`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, `,"variants":[`...)
	for v := range 12 {
		if v > 0 {
			dst = append(dst, ',')
		}
		dst = fmt.Appendf(dst, `{"sku":"%x","price":%d.%02d,"stock":%d}`, r.Uint64(), r.IntN(500), r.IntN(100), r.IntN(80))
	}
	dst = append(dst, `]}}</script>`...)
	for len(dst) < PageSize-600 {
		dst = append(dst, `<section class="block"><h2 class="block-title">`...)
		dst = append(dst, word(r)...)
		dst = append(dst, ' ')
		dst = append(dst, word(r)...)
		dst = append(dst, `</h2><p class="text">`...)
		for range 10 + r.IntN(30) {
			dst = append(dst, word(r)...)
			dst = append(dst, ' ')
		}
		dst = append(dst, `</p><ul class="specs">`...)
		for range 2 + r.IntN(4) {
			dst = fmt.Appendf(dst, `<li class="spec"><span class="spec-name">%s</span><span class="spec-value">%d %s</span></li>`, word(r), r.IntN(1000), word(r))
		}
		dst = append(dst, `</ul><p class="text">`...)
		dst = fmt.Appendf(dst, `</p><a class="related" href="/p/%d">%s</a></section>`, r.IntN(1_000_000), word(r))
	}
	dst = append(dst, `</div></main><footer class="site-footer">`...)
	for len(dst) < PageSize-len(pageEnd) {
		dst = append(dst, word(site)...)
		dst = append(dst, ' ')
	}
	dst = dst[:min(len(dst), PageSize-len(pageEnd))]
	return append(dst, pageEnd...)
}

const pageEnd = "</footer></body></html>"
