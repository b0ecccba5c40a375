package llm

import (
	"strings"
	"testing"
)

func TestExtractJSON(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    string // "" means an error is expected
		wantErr string
	}{
		{name: "bare object", text: ` {"a":1} `, want: `{"a":1}`},
		{name: "bare array", text: `[1,2]`, want: `[1,2]`},
		{name: "json fence", text: "```json\n{\"a\":1}\n```", want: `{"a":1}`},
		{name: "fence without language", text: "```\n{\"a\":1}\n```", want: `{"a":1}`},
		{name: "prose then fence", text: "Sure:\n```json\n{\"a\":1}\n```\nHope it helps", want: `{"a":1}`},
		{name: "prose around bare object", text: `The answer is {"a":{"b":2}} as requested.`, want: `{"a":{"b":2}}`},
		{name: "fence inside a string stays", text: `{"code":"` + "```py\\nx=1\\n```" + `"}`, want: `{"code":"` + "```py\\nx=1\\n```" + `"}`},
		{name: "empty", text: "  \n ", wantErr: "empty"},
		{name: "prose only", text: "I cannot do that.", wantErr: "not valid JSON"},
		{name: "truncated", text: `{"code":"print(`, wantErr: "not valid JSON"},
		{name: "unclosed fence", text: "```json\n{\"a\":", wantErr: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractJSON(tt.text)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("extractJSON(%q) = %s, %v; want error mentioning %q", tt.text, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("extractJSON(%q) = %s, %v; want %s", tt.text, got, err, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"cut", "abcdef", 3, "abc… (3 more bytes)"},
		{"never splits a rune", "ééé", 3, "é… (4 more bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := truncate(tt.s, tt.n); got != tt.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
		})
	}
}
