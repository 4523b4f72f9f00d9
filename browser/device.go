package browser

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
)

// Device is the screen a render emulates.
type Device struct {
	Width  int     // viewport width in CSS pixels
	Height int     // viewport height in CSS pixels
	Scale  float64 // device scale factor (window.devicePixelRatio); 0 is 1
	// Mobile: a phone. The page sees touch (navigator.maxTouchPoints,
	// ontouchstart, pointer: coarse), its viewport meta tag is honoured, and
	// the render's default User-Agent is the mobile one.
	Mobile bool
}

// MaxViewport bounds a viewport's width and height in CSS pixels.
const MaxViewport = 8192

// DesktopDevice is the screen of a render that names no device: Chromium's
// own window (see the window-size flag), wide enough that responsive sites
// render their full desktop layout. Headless Chromium keeps part of the
// window's height for browser UI it does not draw: such a page's viewport is
// 1366 pixels wide and somewhat less than 768 high.
var DesktopDevice = Device{Width: 1366, Height: 768, Scale: 1}

// DefaultMobileDevice is the phone of the mobile variant unless configured
// otherwise: the 412 CSS pixels wide screen of the Android phones Googlebot
// smartphone emulates, at their density.
var DefaultMobileDevice = Device{Width: 412, Height: 915, Scale: 2.625, Mobile: true}

// ParseViewport reads "WIDTHxHEIGHT" or "WIDTHxHEIGHT@SCALE" ("412x915@2.625"):
// CSS pixels and the device scale factor (1 when left out). The device it
// returns is a phone (Mobile); the caller clears that for a desktop screen.
func ParseViewport(s string) (Device, error) {
	dims, scale, hasScale := strings.Cut(strings.TrimSpace(s), "@")
	ws, hs, ok := strings.Cut(dims, "x")
	if !ok {
		return Device{}, fmt.Errorf("bad viewport %q: want WIDTHxHEIGHT or WIDTHxHEIGHT@SCALE, e.g. \"412x915@2.625\"", s)
	}
	d := Device{Scale: 1, Mobile: true}
	var err error
	if d.Width, err = strconv.Atoi(ws); err != nil {
		return Device{}, fmt.Errorf("bad viewport %q: width %q is not a whole number", s, ws)
	}
	if d.Height, err = strconv.Atoi(hs); err != nil {
		return Device{}, fmt.Errorf("bad viewport %q: height %q is not a whole number", s, hs)
	}
	if hasScale {
		if d.Scale, err = strconv.ParseFloat(scale, 64); err != nil || d.Scale <= 0 {
			return Device{}, fmt.Errorf("bad viewport %q: scale %q is not a positive number", s, scale)
		}
	}
	if err := d.Validate(); err != nil {
		return Device{}, fmt.Errorf("bad viewport %q: %w", s, err)
	}
	return d, nil
}

// String is the form ParseViewport reads.
func (d Device) String() string {
	return fmt.Sprintf("%dx%d@%s", d.Width, d.Height, strconv.FormatFloat(d.scale(), 'f', -1, 64))
}

// Validate reports a width, height or scale Chromium cannot emulate, or that
// would make a screenshot absurdly large.
func (d Device) Validate() error {
	switch {
	case d.Width < 1 || d.Width > MaxViewport:
		return fmt.Errorf("width %d is not between 1 and %d", d.Width, MaxViewport)
	case d.Height < 1 || d.Height > MaxViewport:
		return fmt.Errorf("height %d is not between 1 and %d", d.Height, MaxViewport)
	case d.Scale != 0 && !(d.Scale >= 0.25 && d.Scale <= 5):
		return fmt.Errorf("scale %v is not between 0.25 and 5", d.Scale)
	}
	return nil
}

func (d Device) scale() float64 {
	if d.Scale == 0 {
		return 1
	}
	return d.Scale
}

// mobileUserAgent turns the desktop User-Agent of a render into the one of a
// phone running the same Chrome: an Android platform and "Mobile Safari",
// which is what sites (and Googlebot smartphone) match on. Everything else,
// the Chrome version and the suffix that names prerenderd, is kept, so both
// come from where the desktop User-Agent is made.
func mobileUserAgent(desktop string) string {
	ua := desktop
	if open := strings.IndexByte(ua, '('); open >= 0 {
		if end := strings.IndexByte(ua[open:], ')'); end >= 0 {
			ua = ua[:open] + "(Linux; Android 10; K)" + ua[open+end+1:]
		}
	}
	if !strings.Contains(ua, "Mobile") {
		if i := strings.Index(ua, " Safari/"); i >= 0 {
			ua = ua[:i] + " Mobile" + ua[i:]
		} else {
			ua += " Mobile"
		}
	}
	return ua
}

// emulate makes t's page the screen of d (nil: Chromium's window, the
// desktop default). A tab serves many renders, so the screen of the last one
// is remembered and only a change costs CDP calls.
func emulate(ctx context.Context, t *tab, d *Device) error {
	if t.emulated && sameDevice(t.device, d) {
		return nil
	}
	// Until the calls below succeed the tab's screen is unknown: the next
	// render sets it again.
	t.emulated = false
	if d == nil {
		if _, err := cdp.Call(ctx, t.target, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
			return fmt.Errorf("cannot clear the device emulation: %w", err)
		}
	} else {
		if _, err := cdp.Call(ctx, t.target, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width:             int64(d.Width),
			Height:            int64(d.Height),
			DeviceScaleFactor: d.scale(),
			Mobile:            d.Mobile,
			ScreenWidth:       int64(d.Width),
			ScreenHeight:      int64(d.Height),
		}); err != nil {
			return fmt.Errorf("cannot emulate the device %s: %w", d, err)
		}
	}
	touch := emulation.SetTouchEmulationEnabledParams{Enabled: d != nil && d.Mobile}
	if touch.Enabled {
		touch.MaxTouchPoints = 5
	}
	if _, err := cdp.Call(ctx, t.target, emulation.SetTouchEmulationEnabled, touch); err != nil {
		return fmt.Errorf("cannot set touch emulation: %w", err)
	}
	t.device, t.emulated = nil, true
	if d != nil {
		c := *d
		t.device = &c
	}
	return nil
}

func sameDevice(a, b *Device) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// errBadDevice wraps the reason a Request's Device was refused.
var errBadDevice = errors.New("bad device")
