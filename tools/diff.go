package tools

import (
	"fmt"
	"strings"
)

// maxDiffLines bounds the changed region diffDelta compares line by line (its table grows with
// the square); a bigger change is described, not diffed.
const maxDiffLines = 1500

// unifiedDiff returns the lines that differ between a and b as a unified diff with context
// lines, "" when they are equal.
func unifiedDiff(a, b, nameA, nameB string) string {
	if a == b {
		return ""
	}
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]
	var b2 strings.Builder
	fmt.Fprintf(&b2, "--- %s\n+++ %s\n", nameA, nameB)
	if len(mx) > maxDiffLines || len(my) > maxDiffLines {
		fmt.Fprintf(&b2, "@@ lines %d-%d replaced by %d lines (too large a change to diff line by line) @@\n", pre+1, pre+len(mx), len(my))
		return b2.String()
	}
	const ctx = 3
	start := max(pre-ctx, 0)
	fmt.Fprintf(&b2, "@@ -%d +%d @@\n", start+1, start+1)
	for _, l := range x[start:pre] {
		b2.WriteString(" " + l + "\n")
	}
	// Longest common subsequence of the changed region.
	n, m := len(mx), len(my)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if mx[i] == my[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && mx[i] == my[j]:
			b2.WriteString(" " + mx[i] + "\n")
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			b2.WriteString("+" + my[j] + "\n")
			j++
		default:
			b2.WriteString("-" + mx[i] + "\n")
			i++
		}
	}
	for _, l := range x[len(x)-suf : min(len(x)-suf+ctx, len(x))] {
		b2.WriteString(" " + l + "\n")
	}
	return b2.String()
}
