package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSlurm installs stand-ins for the Slurm commands in a folder put first in PATH: sbatch
// numbers submissions 1, 2, ... and writes "run N" as the job's stdout; scontrol reports job N in
// line N of states ("INVALID" for a job the controller forgot). They let the tests drive the
// outcomes a one-node cluster cannot produce on demand (node failures, preemption, a job cancelled
// by someone else); what real Slurm does is tested in slurm_run_test.go.
func fakeSlurm(t *testing.T, states ...string) (bin string) {
	t.Helper()
	bin = t.TempDir()
	scripts := map[string]string{
		"sbatch": `here=$(dirname "$0")
n=$(( $(cat "$here/count" 2>/dev/null || echo 0) + 1 ))
echo $n > "$here/count"
for a; do case $a in --output=*) out=${a#--output=};; esac; done
echo "run $n" > "$out"
echo $n`,
		"scontrol": `here=$(dirname "$0")
case "$1" in
ping) echo "Slurmctld(primary) at fake is UP" ;;
show)
	state=$(sed -n "${4}p" "$here/states")
	if [ "$state" = INVALID ]; then echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; fi
	echo "JobId=$4 JobName=gome-exec JobState=$state Reason=None ExitCode=0:0 StartTime=2026-01-01T00:00:00 EndTime=2026-01-01T00:00:05" ;;
esac`,
		"scancel": `echo "$@" >> "$(dirname "$0")/cancelled"`,
		"squeue":  `:`,
		"sinfo":   `:`,
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "states"), []byte(strings.Join(states, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	return bin
}

func TestSlurmLostJobs(t *testing.T) {
	tests := []struct {
		name        string
		states      []string
		submissions string
		stdout      string
		err         error
		says        string
	}{
		{"a node failure is retried", []string{"NODE_FAIL", "COMPLETED"}, "2", "run 2\n", nil, ""},
		{"preempted twice, then completed", []string{"PREEMPTED", "PREEMPTED", "COMPLETED"}, "3", "run 3\n", nil, ""},
		{"lost every time", []string{"PREEMPTED", "NODE_FAIL", "BOOT_FAIL"}, "3", "run 3\n", ErrSlurmJob, "BOOT_FAIL"},
		{"cancelled by someone else", []string{"CANCELLED"}, "1", "run 1\n", ErrSlurmJob, "cancelled outside Gome"},
		{"forgotten by the controller", []string{"INVALID"}, "1", "run 1\n", ErrSlurmJob, "no longer in Slurm's records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := fakeSlurm(t, tt.states...)
			s, err := NewSlurm(context.Background(), SlurmConfig{SharedDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			s.pollMin, s.pollMax = time.Millisecond, time.Millisecond
			ws := filepath.Join(s.SharedDir(), "ws")
			if err := os.Mkdir(ws, 0o755); err != nil {
				t.Fatal(err)
			}
			res, err := s.Run(context.Background(), Job{Workspace: ws, Command: []string{"true"}})
			if !errors.Is(err, tt.err) || (tt.says != "" && !strings.Contains(err.Error(), tt.says)) {
				t.Fatalf("Run: %v; want %v saying %q", err, tt.err, tt.says)
			}
			if got, _ := os.ReadFile(filepath.Join(bin, "count")); strings.TrimSpace(string(got)) != tt.submissions {
				t.Errorf("%s submissions, want %s", strings.TrimSpace(string(got)), tt.submissions)
			}
			if res.Stdout != tt.stdout {
				t.Errorf("stdout %q, want %q: the last job's", res.Stdout, tt.stdout)
			}
			if err == nil && (res.ExitCode != 0 || res.Duration != 5*time.Second) {
				t.Errorf("result %+v: want exit 0 and Slurm's 5 s", res)
			}
		})
	}
}

func TestNewSlurmControllerDown(t *testing.T) {
	bin := fakeSlurm(t)
	ping := "#!/bin/sh\necho 'Slurmctld(primary) at ctl is DOWN'\necho 'scontrol: error: Unable to contact slurm controller' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "scontrol"), []byte(ping), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := NewSlurm(context.Background(), SlurmConfig{SharedDir: t.TempDir()})
	if !errors.Is(err, ErrSlurmUnavailable) || !strings.Contains(err.Error(), "Unable to contact slurm controller") || !strings.Contains(err.Error(), "start slurmctld") {
		t.Errorf("controller down: %v; want ErrSlurmUnavailable with scontrol's words and what to do", err)
	}
}
