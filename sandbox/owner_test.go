package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

func TestOwnerAlive(t *testing.T) {
	host, _ := os.Hostname()
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := dead.Process.Pid
	tests := []struct {
		name  string
		owner string
		alive bool
	}{
		{"this process", ownerID(), true},
		{"a process that exited", fmt.Sprintf("%s/%d/%s", host, deadPid, "1"), false},
		{"a reused pid (other start time)", fmt.Sprintf("%s/%d/%s", host, os.Getpid(), "not-my-start"), false},
		{"another host", "elsewhere/1/1", true},
		{"no owner label (older Gome)", "", false},
		{"malformed", "a/b", false},
	}
	for _, tt := range tests {
		if got := ownerAlive(tt.owner); got != tt.alive {
			t.Errorf("%s: ownerAlive(%q) = %v, want %v", tt.name, tt.owner, got, tt.alive)
		}
	}
}
