package sandbox

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTailBufferKeepsTheEnd(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		writes []string
		want   string
	}{
		{name: "nothing written", limit: 4, writes: nil, want: ""},
		{name: "fits", limit: 10, writes: []string{"abc", "def"}, want: "abcdef"},
		{name: "exactly full", limit: 6, writes: []string{"abc", "def"}, want: "abcdef"},
		{name: "wraps across writes", limit: 4, writes: []string{"abc", "def", "g"}, want: "defg"},
		{name: "one write larger than limit", limit: 3, writes: []string{"ab", "cdefgh"}, want: "fgh"},
		{name: "small writes wrap many times", limit: 5, writes: strings.Split("0123456789abcdefghij", ""), want: "fghij"},
		{name: "write fills then overflows", limit: 4, writes: []string{"a", "bcdef"}, want: "cdef"},
		{name: "partial fill then long overflow", limit: 4, writes: []string{"ab", "cde", "fg"}, want: "defg"},
		// "é" is two bytes; cutting inside it must not leave a broken rune at the start.
		{name: "cut rune dropped", limit: 4, writes: []string{"xxé", "abc"}, want: "abc"},
		{name: "whole rune kept", limit: 5, writes: []string{"xé", "abc"}, want: "éabc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTailBuffer(tt.limit)
			var total int
			for _, w := range tt.writes {
				n, err := b.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
				total += len(w)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if !utf8.ValidString(b.String()) {
				t.Errorf("String() = %q is not valid UTF-8", b.String())
			}
			if got := b.Total(); got != int64(total) {
				t.Errorf("Total() = %d, want %d", got, total)
			}
		})
	}
}
