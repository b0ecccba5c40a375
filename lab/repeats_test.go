package lab

import (
	"fmt"
	"testing"

	"github.com/gome-agent/gome/memory"
)

// TestRepeats counts a proposal as a repeat when its change was already proposed on the same
// solution while another change remained untried there, and not when every change was tried.
func TestRepeats(t *testing.T) {
	all := DefaultConfig.Changes()
	step := func(parent string, ch Change) memory.Step {
		return memory.Step{Kind: "tree-improve", ParentID: parent, Hypothesis: fmt.Sprintf("set %s [lab:%s]", ch, ch)}
	}
	every := func(parent string) []memory.Step {
		var out []memory.Step
		for _, ch := range all {
			out = append(out, step(parent, ch))
		}
		return out
	}
	tests := []struct {
		name                string
		steps               []memory.Step
		proposals, repeated int
	}{
		{"distinct changes", []memory.Step{step("a", all[0]), step("a", all[1])}, 2, 0},
		{"the same change on the same solution", []memory.Step{step("a", all[0]), step("a", all[0])}, 2, 1},
		{"the same change on another solution", []memory.Step{step("a", all[0]), step("b", all[0])}, 2, 0},
		{"a repeat once every change was tried", append(every("a"), step("a", all[0])), len(all) + 1, 0},
		{"a draft names no change", []memory.Step{{Kind: "draft", Hypothesis: "[lab:x=y]"}, step("a", all[0])}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r := repeats(tt.steps)
			if p != tt.proposals || r != tt.repeated {
				t.Errorf("repeats = %d proposals, %d repeated; want %d, %d", p, r, tt.proposals, tt.repeated)
			}
		})
	}
}
