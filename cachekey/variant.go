package cachekey

import (
	"fmt"
	"strings"
)

// Variants lists every variant a page can be rendered as, in the order
// config.toml and the README name them.
var Variants = []string{Desktop, Mobile}

// mobileMarks are the User-Agent fragments of phones and of the crawlers that
// browse as one: Googlebot smartphone ("Android … Mobile Safari"), bingbot
// mobile ("iPhone … Mobile/…"), Applebot on iOS, Windows Phone ("IEMobile"),
// Opera Mini. Matched without regard to case.
var mobileMarks = []string{"mobile", "android", "iphone", "ipod", "opera mini"}

// IsMobile reports whether ua is the User-Agent of a phone or of a crawler
// that browses as one.
func IsMobile(ua string) bool {
	for _, m := range mobileMarks {
		if containsFold(ua, m) {
			return true
		}
	}
	return false
}

// VariantFor is the variant a request with User-Agent ua is served from, given
// the variants rendered separately (render.variants): mobile for a mobile
// User-Agent when mobile is among them, else desktop when it is, else the one
// variant there is. It is on the hit path: no allocation.
func VariantFor(ua string, enabled []string) string {
	hasDesktop, hasMobile := false, false
	for _, v := range enabled {
		switch v {
		case Desktop:
			hasDesktop = true
		case Mobile:
			hasMobile = true
		}
	}
	switch {
	case hasMobile && (!hasDesktop || IsMobile(ua)):
		return Mobile
	default:
		return Desktop
	}
}

// CheckVariants refuses a render.variants list that names an unknown variant,
// names one twice, or is empty.
func CheckVariants(vs []string) error {
	if len(vs) == 0 {
		return fmt.Errorf("no variant: want %q, %q or both", Desktop, Mobile)
	}
	seen := map[string]bool{}
	for _, v := range vs {
		if v != Desktop && v != Mobile {
			return fmt.Errorf("unknown variant %q: want %q or %q", v, Desktop, Mobile)
		}
		if seen[v] {
			return fmt.Errorf("variant %q named twice", v)
		}
		seen[v] = true
	}
	return nil
}

// VariantOfKey is the variant part of a key built by Key.
func VariantOfKey(key string) string {
	v, _, _ := strings.Cut(key, "|")
	return v
}

// containsFold reports whether s contains sub, ASCII letters compared without
// regard to case; sub must be lower case.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
