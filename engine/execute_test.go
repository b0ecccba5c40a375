package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/sandbox"
)

// What a failed run's problem tells the model that fixes it: a timeout, the job's own memory
// limit, a kill from outside both (the machine's out-of-memory killer, which Docker does not
// report as the job's), or an error exit with its last error line.
func TestRunProblem(t *testing.T) {
	tests := []struct {
		name  string
		res   sandbox.Result
		debug bool
		want  []string // each must appear; none: no problem
	}{
		{"exited 0", sandbox.Result{}, false, nil},
		{"debug run timed out", sandbox.Result{TimedOut: true, ExitCode: -1}, true, []string{"timed out at its limit of 60 s", "small sample"}},
		{"full run timed out", sandbox.Result{TimedOut: true, ExitCode: 137}, false, []string{"timed out at its limit of 60 s", estimateKey}},
		{"its memory limit", sandbox.Result{OOMKilled: true, ExitCode: 137}, false, []string{"ran out of memory"}},
		{"killed on Docker, no error output", sandbox.Result{ExitCode: 137}, false, []string{"was killed (exit 137, a signal)", "not by its own memory limit", "machine ran out of memory"}},
		{"killed on the local backend, with an error line", sandbox.Result{ExitCode: -1, Stderr: "epoch 1\nKilled\n"}, false, []string{"was killed (exit -1, a signal)", "its last error line: Killed"}},
		{"an error", sandbox.Result{ExitCode: 1, Stderr: "Traceback\nKeyError: 'label'\n"}, false, []string{"exited with code 1: KeyError: 'label'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runProblem(tt.res, time.Minute, tt.debug)
			if tt.want == nil && got != "" {
				t.Errorf("problem %q, want none", got)
			}
			if tt.want != nil && got == "" {
				t.Fatalf("no problem, want one saying %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("problem %q does not say %q", got, w)
				}
			}
		})
	}
}
