package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

func capture(t *testing.T, req Request) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := shared.Render(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func decodeImage(t *testing.T, res *Result, decode func([]byte) (image.Image, error)) image.Rectangle {
	t.Helper()
	if res.HTML != nil {
		t.Errorf("a capture carries HTML too")
	}
	img, err := decode(res.Body)
	if err != nil {
		t.Fatalf("the %s does not decode: %v", res.ContentType, err)
	}
	return img.Bounds()
}

func TestCaptures(t *testing.T) {
	o := fixture.New(t)
	o.SetFile("tall", []byte(`<!DOCTYPE html><html><body style="margin:0"><div style="height:3000px;background:#08f">tall</div></body></html>`))
	pngOf := func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	jpegOf := func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	tests := []struct {
		name  string
		req   Request
		check func(t *testing.T, res *Result)
	}{
		{"a PNG is the viewport of the asked width", Request{URL: o.URL + "/product", Output: OutputPNG, Device: &Device{Width: 800, Height: 600}},
			func(t *testing.T, res *Result) {
				if b := decodeImage(t, res, pngOf); b.Dx() != 800 || b.Dy() != 600 {
					t.Errorf("PNG is %v, want 800×600", b.Size())
				}
				if res.ContentType != "image/png" || res.Status != 200 {
					t.Errorf("%s %d", res.ContentType, res.Status)
				}
			}},
		{"a JPEG without a device is the desktop window", Request{URL: o.URL + "/", Output: OutputJPEG},
			func(t *testing.T, res *Result) {
				if b := decodeImage(t, res, jpegOf); b.Dx() != DesktopDevice.Width || b.Dy() < 600 || b.Dy() > DesktopDevice.Height {
					t.Errorf("JPEG is %v, want the desktop window's viewport", b.Size())
				}
			}},
		{"a full-page PNG is as tall as the page", Request{URL: o.URL + "/tall", Output: OutputPNG, FullPage: true, Device: &Device{Width: 400, Height: 300}},
			func(t *testing.T, res *Result) {
				if b := decodeImage(t, res, pngOf); b.Dx() != 400 || b.Dy() != 3000 {
					t.Errorf("PNG is %v, want 400×3000", b.Size())
				}
			}},
		{"a mobile PNG has the phone's pixels", Request{URL: o.URL + "/device", Output: OutputPNG, Device: &Device{Width: 400, Height: 800, Scale: 2, Mobile: true}},
			func(t *testing.T, res *Result) {
				if b := decodeImage(t, res, pngOf); b.Dx() != 800 || b.Dy() != 1600 {
					t.Errorf("PNG is %v, want 800×1600", b.Size())
				}
			}},
		{"a PDF starts with %PDF", Request{URL: o.URL + "/product", Output: OutputPDF},
			func(t *testing.T, res *Result) {
				if !bytes.HasPrefix(res.Body, []byte("%PDF")) || res.ContentType != "application/pdf" {
					t.Errorf("%s starting %q", res.ContentType, res.Body[:min(len(res.Body), 8)])
				}
			}},
		{"a HAR lists the document and what the page fetched", Request{URL: o.URL + "/product", Output: OutputHAR},
			func(t *testing.T, res *Result) {
				var h harFile
				if err := json.Unmarshal(res.Body, &h); err != nil {
					t.Fatalf("HAR is not JSON: %v", err)
				}
				if h.Log.Version != "1.2" || len(h.Log.Pages) != 1 || h.Log.Pages[0].PageTimings.OnLoad <= 0 {
					t.Errorf("HAR log: version %q, pages %+v", h.Log.Version, h.Log.Pages)
				}
				seen := map[string]int64{}
				for _, e := range h.Log.Entries {
					seen[e.Request.URL] = e.Response.Status
				}
				if seen[o.URL+"/product"] != 200 || seen[o.URL+"/api/product?id=42"] != 200 {
					t.Errorf("HAR entries %v lack the document or its API call", seen)
				}
				if e := h.Log.Entries[0]; e.Request.URL != o.URL+"/product" || e.Response.Content.MimeType != "text/html" || e.Time <= 0 {
					t.Errorf("first entry %+v, want the document", e)
				}
			}},
		{"a redirect is answered as a redirect by default", Request{URL: o.URL + "/redirect", Output: OutputPNG},
			func(t *testing.T, res *Result) {
				if res.Status != 301 || res.Body != nil || res.Header.Get("Location") != o.URL+"/product" {
					t.Errorf("got %d %q with %d bytes", res.Status, res.Header.Get("Location"), len(res.Body))
				}
			}},
		{"followRedirects renders the page the redirect leads to", Request{URL: o.URL + "/redirect", FollowRedirects: true},
			func(t *testing.T, res *Result) {
				status(t, res, 200)
				contains(t, res, "Espresso Machine 42")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, capture(t, tc.req))
		})
	}
}

func TestParseOutput(t *testing.T) {
	for in, want := range map[string]Output{"": OutputHTML, "html": OutputHTML, "png": OutputPNG, "jpeg": OutputJPEG, "pdf": OutputPDF, "har": OutputHAR} {
		if got, err := ParseOutput(in); err != nil || got != want {
			t.Errorf("ParseOutput(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"PNG", "jpg", "gif", "html5", " png"} {
		if _, err := ParseOutput(bad); err == nil {
			t.Errorf("ParseOutput(%q) accepted", bad)
		}
	}
}
