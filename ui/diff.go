package ui

import (
	"strconv"
	"strings"
)

// DiffLine is one line of a unified line diff: ' ' kept, '-' removed, '+' added, '@' a hunk
// header.
type DiffLine struct {
	Op   byte
	Text string
}

// maxDiffLines bounds the quadratic diff: a main.py is a few hundred lines.
const maxDiffLines = 4000

// context is how many unchanged lines surround each change.
const diffContext = 3

// lineDiff returns the unified diff of a and b by longest common subsequence, or nil when they
// are equal.
func lineDiff(a, b string) []DiffLine {
	if a == b {
		return nil
	}
	x, y := splitLines(a), splitLines(b)
	if len(x) > maxDiffLines || len(y) > maxDiffLines {
		return []DiffLine{{'@', "the files are too long to compare here: compare them with get_solution"}}
	}
	// lcs[i][j] is the length of the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int32, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var all []DiffLine
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			all = append(all, DiffLine{' ', x[i]})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			all = append(all, DiffLine{'-', x[i]})
			i++
		default:
			all = append(all, DiffLine{'+', y[j]})
			j++
		}
	}
	return hunks(all)
}

// hunks keeps the changed lines with diffContext lines around them, marking each gap.
func hunks(all []DiffLine) []DiffLine {
	keep := make([]bool, len(all))
	for k, l := range all {
		if l.Op != ' ' {
			for c := max(0, k-diffContext); c <= min(len(all)-1, k+diffContext); c++ {
				keep[c] = true
			}
		}
	}
	var out []DiffLine
	oldLine, newLine := 1, 1
	inHunk := false
	for k, l := range all {
		if keep[k] {
			if !inHunk {
				out = append(out, DiffLine{'@', "@@ line " + strconv.Itoa(oldLine) + " → " + strconv.Itoa(newLine) + " @@"})
				inHunk = true
			}
			out = append(out, l)
		} else {
			inHunk = false
		}
		if l.Op != '+' {
			oldLine++
		}
		if l.Op != '-' {
			newLine++
		}
	}
	return out
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
