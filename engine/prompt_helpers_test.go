package engine

import (
	"strings"
	"testing"
)

func TestStripFences(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, in, want string }{
		{"python fence", "```python\nprint(1)\n```", "print(1)\n"},
		{"bare fence with blank lines around", "\n```\nimport os\nprint(2)\n```\n\n", "import os\nprint(2)\n"},
		{"py tag", "```py\nx = 1\n```\n", "x = 1\n"},
		{"no fence", "print(3)\n", "print(3)\n"},
		{"fence inside code is kept", "s = '''\n```\n'''\nprint(s)\n", "s = '''\n```\n'''\nprint(s)\n"},
		{"two blocks are left alone", "```python\na = 1\n```\ntext\n```python\nb = 2\n```", "```python\na = 1\n```\ntext\n```python\nb = 2\n```"},
	} {
		if got := stripFences(c.in); got != c.want {
			t.Errorf("%s: stripFences(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestEstimateOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		out  string
		want float64
	}{
		{"training\nGOME_DEBUG_SECONDS=3.5\nGOME_ESTIMATE_SECONDS=120.5\n", 120.5},
		{"GOME_ESTIMATE_SECONDS=10\nmore\nGOME_ESTIMATE_SECONDS=20", 20},
		{"  GOME_ESTIMATE_SECONDS= 7 ", 7},
		{"no estimate", 0},
		{"GOME_ESTIMATE_SECONDS=soon", 0},
		{"GOME_ESTIMATE_SECONDS=-5", 0},
		{"GOME_ESTIMATE_SECONDS=inf", 0},
	} {
		if got := estimateOf(c.out); got != c.want {
			t.Errorf("estimateOf(%q) = %g, want %g", c.out, got, c.want)
		}
	}
}

// TestLongTextsKeepBothEnds: a description over its budget and a long log keep their beginning
// and their end, and say how much of the middle was left out.
func TestLongTextsKeepBothEnds(t *testing.T) {
	t.Parallel()
	desc := "FIRST LINE\n" + strings.Repeat("middle of the description\n", 4000) + "LAST LINE: the data section"
	got, note := fitText(desc, descriptionChars)
	if !strings.HasPrefix(got, "FIRST LINE") || !strings.HasSuffix(got, "LAST LINE: the data section") || !strings.Contains(got, "characters left out here") {
		t.Fatalf("fitted description lost an end or the mark of the cut:\n%s...%s", got[:40], got[len(got)-60:])
	}
	if len(got) > descriptionChars+100 || !strings.Contains(note, "left out") {
		t.Fatalf("fitted description has %d characters (budget %d), note %q", len(got), descriptionChars, note)
	}
	if short, note := fitText("short", descriptionChars); short != "short" || note != "" {
		t.Fatalf("a short description changed: %q, %q", short, note)
	}
	log := "columns: a, b, c\n" + strings.Repeat("epoch line\n", 2000) + "Traceback: KeyError 'label'"
	kept := headTail(log)
	if !strings.HasPrefix(kept, "columns: a, b, c") || !strings.HasSuffix(kept, "KeyError 'label'") || !strings.Contains(kept, "characters of output left out") {
		t.Fatalf("log lost its head or tail:\n%s", kept)
	}
}
