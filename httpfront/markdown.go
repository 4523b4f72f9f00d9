package httpfront

import (
	"errors"
	"strconv"
	"strings"

	"prerenderd/actors"
	"prerenderd/storage"
)

// Markdown for AI agents: a page asked for with Accept: text/markdown (GET
// /{url}) or format=markdown (/render) is answered with its Markdown
// rendition, stored beside its HTML (actors.Markdown, storage.Page.Markdown),
// with its own ETag and the same cache labels, statuses and headers as the
// HTML.

var markdownType = []string{"text/markdown; charset=utf-8"}

// prefersMarkdown reads an Accept header: true when it names text/markdown
// (or text/x-markdown) itself, with a q above 0 and at least that of text/html.
// A wildcard (*/*, text/*) never asks for Markdown: browsers and crawlers
// that send one get HTML, as before.
func prefersMarkdown(accept string) bool {
	if accept == "" || !strings.Contains(strings.ToLower(accept), "markdown") {
		return false // the common case, without parsing
	}
	md, html := -1.0, -1.0     // q of the most specific range that names each
	mdRank, htmlRank := -1, -1 // 2 exact, 1 text/*, 0 */*
	for part := range strings.SplitSeq(accept, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0 // a q that does not parse asks for nothing
				}
				q = f
			}
		}
		rank := -1
		switch name {
		case "text/markdown", "text/x-markdown":
			if 2 > mdRank || q > md {
				md, mdRank = q, 2
			}
			continue
		case "text/html":
			rank = 2
		case "text/*":
			rank = 1
		case "*/*":
			rank = 0
		default:
			continue
		}
		if rank > htmlRank || rank == htmlRank && q > html {
			html, htmlRank = q, rank
		}
	}
	return md > 0 && md >= html
}

// markdownETag is the entity tag of a page's Markdown, derived from the tag of
// its HTML: another representation of the same page (gzipETag applies on top).
func markdownETag(tag string) string {
	if t, ok := strings.CutSuffix(tag, `"`); ok && t != "" {
		return t + `-md"`
	}
	return tag + "-md"
}

// markdownOfView makes the Markdown of a stored page stored without one
// (before Markdown existed, or its conversion failed) from its HTML, to be
// answered plain, and has its shard store it for the next agent. ok is false
// when it cannot be made (or the page is over actors.MarkdownMaxHTML): the
// caller answers the HTML.
func (s *Server) markdownOfView(v *storage.PageView, key string) (md []byte, ok bool) {
	html, err := v.Plain()
	if err == nil {
		md, err = actors.Markdown(html, v.URL)
	}
	if errors.Is(err, actors.ErrTooLargeForMarkdown) {
		return nil, false
	}
	if err != nil {
		s.log.Warn("cannot make the Markdown of a stored page; answered HTML", "key", key, "err", err)
		return nil, false
	}
	s.app.StoreMarkdown(key, v.ETag, md)
	return md, true
}
