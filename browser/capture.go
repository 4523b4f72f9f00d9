package browser

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
)

// Output is what a render answers with: the page's HTML (what the cache
// stores), or, as the npm prerender server's renderType, a screenshot, a PDF
// or a HAR of the page once it is done.
type Output string

const (
	OutputHTML Output = "html"
	OutputPNG  Output = "png"
	OutputJPEG Output = "jpeg"
	OutputPDF  Output = "pdf"
	OutputHAR  Output = "har"
)

// ParseOutput reads a renderType: html, png, jpeg, pdf or har ("" is html).
func ParseOutput(s string) (Output, error) {
	switch o := Output(s); o {
	case "":
		return OutputHTML, nil
	case OutputHTML, OutputPNG, OutputJPEG, OutputPDF, OutputHAR:
		return o, nil
	}
	return "", fmt.Errorf("unknown renderType %q: want html, png, jpeg, pdf or har", s)
}

// ContentType is the media type of a body of this output.
func (o Output) ContentType() string {
	switch o {
	case OutputPNG:
		return "image/png"
	case OutputJPEG:
		return "image/jpeg"
	case OutputPDF:
		return "application/pdf"
	case OutputHAR:
		return "application/json"
	}
	return "text/html; charset=utf-8"
}

// isCapture: the output is taken from the page as it is, not serialized
// (its scripts stay, no meta tag is read).
func (o Output) isCapture() bool { return o != "" && o != OutputHTML }

const (
	// captureTimeout bounds a screenshot or a PDF: encoding even a long page
	// takes a second or two; a page stuck in a script loop never answers.
	captureTimeout = 10 * time.Second

	// maxCaptureHeight bounds a full-page screenshot, in CSS pixels: an
	// endless page (an infinite scroll) would otherwise give an image of
	// hundreds of megabytes.
	maxCaptureHeight = 16384
)

// capture answers req with its Output once the page is done.
func (b *Browser) capture(opCtx context.Context, t *tab, req Request, w *watch, har *harRecorder, begin time.Time, incomplete bool) (*Result, error) {
	ctx, cancel := context.WithTimeout(opCtx, captureTimeout)
	defer cancel()
	var body []byte
	var err error
	switch req.Output {
	case OutputPNG, OutputJPEG:
		body, err = screenshot(ctx, t, req.Output, req.FullPage)
	case OutputPDF:
		body, err = printPDF(ctx, t)
	case OutputHAR:
		body, err = har.encode(req.URL)
	default:
		err = fmt.Errorf("no capture for output %q", req.Output)
	}
	if errors.Is(err, context.DeadlineExceeded) && opCtx.Err() == nil {
		// As for a snapshot: the page's main thread does not answer.
		tctx, cancel := context.WithTimeout(opCtx, time.Second)
		_, _ = cdp.Call(tctx, t.target, runtime.TerminateExecution, cdp.Empty{})
		cancel()
		return nil, fmt.Errorf("%w: the page did not answer within %s: %w", ErrTabHung, captureTimeout, err)
	}
	if err != nil {
		return nil, b.fail(opCtx, err)
	}
	return &Result{
		Status:      w.documentStatus(),
		Header:      http.Header{},
		Body:        body,
		ContentType: req.Output.ContentType(),
		FinalURL:    req.URL,
		Incomplete:  incomplete,
		Duration:    time.Since(begin),
	}, nil
}

// screenshot captures the viewport, or the whole page (at most
// maxCaptureHeight CSS pixels high) when fullPage, as the npm prerender
// server does. The image is the viewport's CSS size times the device scale.
func screenshot(ctx context.Context, t *tab, format Output, fullPage bool) ([]byte, error) {
	m, err := cdp.Call(ctx, t.target, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, fmt.Errorf("cannot measure the page: %w", err)
	}
	if m.CSSVisualViewport == nil {
		return nil, errors.New("cannot measure the page: no viewport")
	}
	vv := m.CSSVisualViewport
	clip := &page.Viewport{Width: vv.ClientWidth, Height: vv.ClientHeight, Scale: 1}
	if fullPage && m.CSSContentSize != nil {
		clip.Width = math.Max(clip.Width, m.CSSContentSize.Width)
		clip.Height = math.Min(math.Max(clip.Height, m.CSSContentSize.Height), maxCaptureHeight)
	}
	p := page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng, Clip: clip, CaptureBeyondViewport: new(fullPage)}
	if format == OutputJPEG {
		p.Format = page.CaptureScreenshotFormatJpeg
	}
	res, err := cdp.Call(ctx, t.target, page.CaptureScreenshot, p)
	if err != nil {
		return nil, fmt.Errorf("cannot capture a screenshot: %w", err)
	}
	return res.Data, nil
}

// printPDF prints the page with its backgrounds, the npm prerender server's
// default (Letter paper, Chromium's margins).
func printPDF(ctx context.Context, t *tab) ([]byte, error) {
	res, err := cdp.Call(ctx, t.target, page.PrintToPDF, page.PrintToPDFParams{PrintBackground: new(true)})
	if err != nil {
		return nil, fmt.Errorf("cannot print the page to PDF: %w", err)
	}
	return res.Data, nil
}
