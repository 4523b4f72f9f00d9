package storetest

import (
	"prerenderd/storage"
)

// Page returns a copy of the page stored under key, or storage.ErrNotFound.
// RenderTime is left zero: the view a hit reads does not carry it.
func Page(s *storage.Store, key string) (*storage.Page, error) {
	var p *storage.Page
	err := s.ViewPage(key, func(v *storage.PageView) error {
		plain, err := v.Plain()
		if err != nil {
			return err
		}
		p = &storage.Page{
			Key:         key,
			URL:         v.URL,
			Status:      v.Status,
			Header:      v.Header,
			RenderedAt:  v.RenderedAt,
			ExpiresAt:   v.ExpiresAt,
			Gzip:        append([]byte(nil), v.Gzip...),
			Plain:       append([]byte(nil), plain...),
			ETag:        v.ETag,
			Prerendered: v.Prerendered,
		}
		if v.HasMarkdown() {
			md, err := v.Markdown()
			if err != nil {
				return err
			}
			p.Markdown = append([]byte(nil), md...)
			p.MarkdownGzip = append([]byte(nil), v.MarkdownGzip...)
		}
		return nil
	})
	return p, err
}
