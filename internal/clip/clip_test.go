package clip

import (
	"testing"
	"unicode/utf8"
)

func TestHeadAndTailKeepCharactersWhole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		s          string
		n          int
		head, tail string
	}{
		{"short stays", "abc", 5, "abc", "abc"},
		{"exact stays", "abcde", 5, "abcde", "abcde"},
		{"ascii cut", "abcdefgh", 3, "abc…", "…fgh"},
		{"no half é", "éééé", 3, "é…", "…é"},
		{"no half emoji", "a😀b😀", 4, "a…", "…😀"},
		{"zero budget", "abc", 0, "…", "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, tl := Head(tt.s, tt.n, "…"), Tail(tt.s, tt.n, "…")
			if h != tt.head || tl != tt.tail {
				t.Fatalf("Head = %q, Tail = %q; want %q, %q", h, tl, tt.head, tt.tail)
			}
			if !utf8.ValidString(h) || !utf8.ValidString(tl) {
				t.Fatalf("invalid UTF-8: %q %q", h, tl)
			}
		})
	}
}
