// Package clip shortens text for prompts, logs and tool results to a byte budget without ever
// cutting a UTF-8 character in two. Every part of Gome that shortens text uses it.
package clip

import "unicode/utf8"

// Head keeps the first at most n bytes of s, cut on a character boundary, and appends marker
// when anything was cut.
func Head(s string, n int, marker string) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}

// Tail keeps the last at most n bytes of s, cut on a character boundary, and puts marker in
// front when anything was cut.
func Tail(s string, n int, marker string) string {
	if len(s) <= n {
		return s
	}
	cut := len(s) - max(n, 0)
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return marker + s[cut:]
}
