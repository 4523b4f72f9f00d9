package cachekey

import (
	"strings"
	"testing"
)

const (
	googlebotSmartphone = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	googlebotDesktop    = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	bingbotMobile       = "Mozilla/5.0 (iPhone; CPU iPhone OS 7_0 like Mac OS X) AppleWebKit/537.51.1 (KHTML, like Gecko) Version/7.0 Mobile/11A465 Safari/9537.53 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
	bingbotDesktop      = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
	gptBot              = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
	androidTablet       = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)

func TestVariantFor(t *testing.T) {
	both := []string{Desktop, Mobile}
	tests := []struct {
		name, ua string
		enabled  []string
		want     string
	}{
		{"Googlebot smartphone gets the mobile variant", googlebotSmartphone, both, Mobile},
		{"Googlebot desktop gets the desktop variant", googlebotDesktop, both, Desktop},
		{"bingbot mobile gets the mobile variant", bingbotMobile, both, Mobile},
		{"bingbot desktop gets the desktop variant", bingbotDesktop, both, Desktop},
		{"GPTBot gets the desktop variant", gptBot, both, Desktop},
		{"an Android tablet counts as mobile", androidTablet, both, Mobile},
		{"an iPod counts as mobile", "Mozilla/5.0 (iPod touch; CPU iPhone OS 12_0 like Mac OS X)", both, Mobile},
		{"case does not matter", "some-crawler (MOBILE)", both, Mobile},
		{"an empty User-Agent is desktop", "", both, Desktop},
		{"with only desktop rendered a phone gets desktop", googlebotSmartphone, []string{Desktop}, Desktop},
		{"with only mobile rendered a desktop crawler gets mobile", googlebotDesktop, []string{Mobile}, Mobile},
		{"with nothing configured everyone gets desktop", googlebotSmartphone, nil, Desktop},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := VariantFor(tc.ua, tc.enabled); got != tc.want {
				t.Fatalf("VariantFor(%q, %v) = %q, want %q", tc.ua, tc.enabled, got, tc.want)
			}
		})
	}
}

func TestVariantForDoesNotAllocate(t *testing.T) {
	enabled := []string{Desktop, Mobile}
	if n := testing.AllocsPerRun(100, func() { VariantFor(googlebotSmartphone, enabled) }); n != 0 {
		t.Fatalf("VariantFor allocates %v times per call; it is on the hit path", n)
	}
}

func TestCheckVariants(t *testing.T) {
	for _, ok := range [][]string{{Desktop}, {Mobile}, {Desktop, Mobile}, {Mobile, Desktop}} {
		if err := CheckVariants(ok); err != nil {
			t.Errorf("CheckVariants(%v): %v", ok, err)
		}
	}
	for _, bad := range [][]string{nil, {}, {"tablet"}, {Desktop, Desktop}, {""}} {
		if err := CheckVariants(bad); err == nil {
			t.Errorf("CheckVariants(%v) accepted", bad)
		}
	}
}

func TestVariantOfKey(t *testing.T) {
	for key, want := range map[string]string{
		"mobile|https://a.example/":      Mobile,
		"desktop|https://a.example/?x=|": Desktop,
		"no-bar":                         "no-bar",
	} {
		if got := VariantOfKey(key); got != want {
			t.Errorf("VariantOfKey(%q) = %q, want %q", key, got, want)
		}
	}
}

func FuzzVariantFor(f *testing.F) {
	for _, s := range []string{googlebotSmartphone, bingbotMobile, gptBot, "", "MoBiLe", "\xff\xfeandroid"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		got := VariantFor(ua, []string{Desktop, Mobile})
		want := Desktop
		if l := strings.ToLower(ua); strings.Contains(l, "mobile") || strings.Contains(l, "android") ||
			strings.Contains(l, "iphone") || strings.Contains(l, "ipod") || strings.Contains(l, "opera mini") {
			want = Mobile
		}
		if got != want {
			t.Fatalf("VariantFor(%q) = %q, want %q", ua, got, want)
		}
	})
}
