package pagemeta

import (
	"strconv"
	"strings"
)

// Status returns the first of the prerender-status-code values that is a
// status a page may declare: a final status, 200–599. An informational 1xx
// is not an answer (101 would hand the connection to a protocol that never
// comes, 100 would promise a second status line), and anything else is not
// a status; such values are ignored and the page's own status stands
// (ok = false when none is left).
func Status(values []string) (status int, ok bool) {
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) != 3 {
			continue
		}
		n, err := strconv.Atoi(v)
		if err == nil && n >= 200 && n <= 599 {
			return n, true
		}
	}
	return 0, false
}

// Header splits the content of a prerender-header tag, "Name: value", and
// reports whether it may be sent: the name must be an HTTP token (RFC 9110
// §5.1) and the value, once trimmed, free of control characters (§5.5: a NUL,
// CR or LF would end or split the header block). A header that fails is
// dropped whole, never repaired: a repaired value is not what the page said.
func Header(content string) (name, value string, ok bool) {
	name, value, found := strings.Cut(content, ":")
	if !found {
		return "", "", false
	}
	name = strings.TrimSpace(name)
	value = strings.Trim(value, " \t")
	if !ValidName(name) || !ValidValue(value) {
		return "", "", false
	}
	return name, value, true
}

// Valid reports whether the header name: values may be sent as they are.
func Valid(name string, values []string) bool {
	if !ValidName(name) {
		return false
	}
	for _, v := range values {
		if !ValidValue(v) {
			return false
		}
	}
	return true
}

// ValidName reports whether s is a non-empty HTTP token.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// ValidValue reports whether s holds no control character: every byte is a
// visible ASCII character, a space, a tab, or part of a non-ASCII character
// (obs-text), and it neither starts nor ends with white space.
func ValidValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return s == strings.Trim(s, " \t")
}

// isTchar: RFC 9110 §5.6.2, tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" /
// "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
