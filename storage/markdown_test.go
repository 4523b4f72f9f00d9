package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

func TestAPageStoresItsMarkdownBesideItsHTML(t *testing.T) {
	s := openMem(t)
	plain := htmlBody(3, 8<<10)
	md := []byte("---\ntitle: A\n---\n\n# A\n\nText.\n")
	withMD := &Page{Key: "desktop|https://a.example/md", URL: "https://a.example/md", Status: 200,
		RenderedAt: t0, ExpiresAt: t0.Add(time.Hour), Plain: plain, Markdown: md}
	mustPut(t, s, withMD)
	without := &Page{Key: "desktop|https://a.example/html", URL: "https://a.example/html", Status: 200,
		RenderedAt: t0, ExpiresAt: t0.Add(time.Hour), Plain: plain}
	mustPut(t, s, without)

	t.Run("the Markdown and its gzip read back with the HTML", func(t *testing.T) {
		err := s.ViewPage(withMD.Key, func(v *PageView) error {
			if !bytes.Equal(mustBody(v.Markdown()), md) || !bytes.Equal(gunzipped(t, v.MarkdownGzip), md) {
				t.Errorf("Markdown %q, its gzip %q; want %q", mustBody(v.Markdown()), gunzipped(t, v.MarkdownGzip), md)
			}
			if !bytes.Equal(mustBody(v.Plain()), plain) || v.ETag != withMD.ETag {
				t.Errorf("the HTML changed beside the Markdown")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	// Since issue 17 every page is written as version 3 (gzip bodies only);
	// versions 1 and 2 are still read (TestOldRecordsStillRead).
	t.Run("a page stored without Markdown is written with no Markdown section and reads with none", func(t *testing.T) {
		raw := rawValue(t, s, appendKey(nil, prefixPage, without.Key))
		version, mdLen := raw[0], binary.LittleEndian.Uint32(raw[44:])
		if version != pageVersionGzip || mdLen != 0 {
			t.Errorf("stored as version %d with %d bytes of Markdown gzip, want version %d with none", version, mdLen, pageVersionGzip)
		}
		_ = s.ViewPage(without.Key, func(v *PageView) error {
			if mustBody(v.Markdown()) != nil || v.MarkdownGzip != nil || !bytes.Equal(mustBody(v.Plain()), plain) {
				t.Errorf("Markdown %q, gzip %d bytes; want none", mustBody(v.Markdown()), len(v.MarkdownGzip))
			}
			return nil
		})
	})
	t.Run("SetPageMarkdown adds Markdown to the page it was made from", func(t *testing.T) {
		before, _ := s.Summary(without.Key)
		if err := s.SetPageMarkdown(without.Key, without.ETag, md); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetPage(without.Key)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Markdown, md) || !bytes.Equal(got.Plain, plain) || got.ETag != without.ETag ||
			!got.ExpiresAt.Equal(without.ExpiresAt) || got.URL != without.URL {
			t.Errorf("after SetPageMarkdown: %+v", got)
		}
		after, _ := s.Summary(without.Key)
		if after.Size <= before.Size {
			t.Errorf("summary size %d, was %d: the Markdown is not counted", after.Size, before.Size)
		}
	})
	t.Run("SetPageMarkdown refuses a page rendered again meanwhile", func(t *testing.T) {
		err := s.SetPageMarkdown(withMD.Key, `"another"`, []byte("# B\n"))
		if !errors.Is(err, ErrPageChanged) {
			t.Fatalf("err = %v, want ErrPageChanged", err)
		}
		got, _ := s.GetPage(withMD.Key)
		if !bytes.Equal(got.Markdown, md) {
			t.Errorf("the Markdown changed to %q", got.Markdown)
		}
	})
	t.Run("SetPageMarkdown of a page not stored is ErrNotFound", func(t *testing.T) {
		if err := s.SetPageMarkdown("desktop|https://a.example/none", `"x"`, md); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("a page stored again without Markdown loses the old one", func(t *testing.T) {
		again := &Page{Key: withMD.Key, URL: withMD.URL, Status: 200, RenderedAt: t0, ExpiresAt: t0.Add(time.Hour), Plain: []byte("<p>new</p>")}
		mustPut(t, s, again)
		got, _ := s.GetPage(withMD.Key)
		if got.Markdown != nil || got.MarkdownGzip != nil {
			t.Errorf("Markdown %q kept for a new page", got.Markdown)
		}
	})
}
