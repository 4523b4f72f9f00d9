package browser

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"prerenderd/browser/fixture"
)

func TestParseViewport(t *testing.T) {
	tests := []struct {
		name, in string
		want     Device
	}{
		{"width, height and scale", "412x915@2.625", Device{Width: 412, Height: 915, Scale: 2.625, Mobile: true}},
		{"the scale may be left out", "360x640", Device{Width: 360, Height: 640, Scale: 1, Mobile: true}},
		{"spaces around are ignored", " 390x844@3 ", Device{Width: 390, Height: 844, Scale: 3, Mobile: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseViewport(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("ParseViewport(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			if again, err := ParseViewport(got.String()); err != nil || again != got {
				t.Fatalf("String() %q does not read back: %+v, %v", got.String(), again, err)
			}
		})
	}
	for _, bad := range []string{"", "412", "412x", "x915", "0x915", "412x0", "100000x915", "412x915@0", "412x915@9", "412x915@x", "-1x5", "4.5x9"} {
		if d, err := ParseViewport(bad); err == nil {
			t.Errorf("ParseViewport(%q) = %+v, want an error", bad, d)
		}
	}
}

func TestMobileUserAgent(t *testing.T) {
	desktop := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 prerenderd"
	want := "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36 prerenderd"
	if got := mobileUserAgent(desktop); got != want {
		t.Errorf("mobileUserAgent = %q, want %q", got, want)
	}
	if got := mobileUserAgent("odd agent"); !strings.Contains(got, "Mobile") {
		t.Errorf("mobileUserAgent of an unusual agent = %q, want it marked Mobile", got)
	}
}

// devicePage reads what the fixture page /device printed.
func devicePage(t *testing.T, res *Result) (width, scale, touch, class string) {
	t.Helper()
	field := func(id string) string {
		m := regexp.MustCompile(`<span id="` + id + `">([^<]*)</span>`).FindStringSubmatch(string(res.HTML))
		if m == nil {
			t.Fatalf("no %s in the page:\n%.1500s", id, res.HTML)
		}
		return m[1]
	}
	return field("width"), field("scale"), field("touch"), field("class")
}

func TestEachRenderSeesTheScreenOfItsDevice(t *testing.T) {
	o := fixture.New(t)
	mobile := DefaultMobileDevice
	desktopWide := Device{Width: 1024, Height: 700}
	tests := []struct {
		name                       string
		device                     *Device
		width, scale, touch, class string
	}{
		{"a render without a device is desktop", nil, "1366", "1", "false", "desktop"},
		{"a mobile render has the phone's width, density, touch and a mobile User-Agent", &mobile, "412", "2.625", "true", "mobile"},
		{"the next render on the same tabs is desktop again", nil, "1366", "1", "false", "desktop"},
		{"a desktop device of another width", &desktopWide, "1024", "1", "false", "desktop"},
		{"mobile once more", &mobile, "412", "2.625", "true", "mobile"},
	}
	// In sequence: the shared browser's tabs are reused, so each render must
	// undo the emulation of the one before.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := shared.Render(ctx, Request{URL: o.URL + "/device", Device: tc.device})
			if err != nil {
				t.Fatal(err)
			}
			width, scale, touch, class := devicePage(t, res)
			if width != tc.width || scale != tc.scale || touch != tc.touch || class != tc.class {
				t.Fatalf("page saw width %s, scale %s, touch %s, class %s; want %s, %s, %s, %s",
					width, scale, touch, class, tc.width, tc.scale, tc.touch, tc.class)
			}
			ua := o.Header("/device").Get("User-Agent")
			if (tc.class == "mobile") != strings.Contains(ua, "Mobile") || !strings.HasSuffix(ua, UserAgentSuffix) {
				t.Errorf("the origin saw User-Agent %q", ua)
			}
		})
	}
}

func TestABadDeviceIsRefusedBeforeAnyTab(t *testing.T) {
	_, err := shared.Render(context.Background(), Request{URL: "http://127.0.0.1:1/", Device: &Device{Width: 0, Height: 10}})
	if err == nil || !strings.Contains(err.Error(), "width 0") {
		t.Fatalf("err = %v, want a refusal naming the width", err)
	}
}
