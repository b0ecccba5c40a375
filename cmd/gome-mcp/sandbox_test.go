package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/tools"
)

// TestSandboxCheckReportsTheEnvironment runs `gome-mcp sandbox check` on the local backend: the
// probe's report names the Python, the CPUs this machine has, the network as off and the weights
// cache given.
func TestSandboxCheckReportsTheEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("the probe runs a real Python job; skipped under -short")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("the local probe needs /usr/bin/python3: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	weights := t.TempDir()
	cmd := exec.CommandContext(ctx, binary, "sandbox", "check", "--sandbox", "local", "--python", "/usr/bin/python3",
		"--home", filepath.Join(t.TempDir(), "new-home"), "--weights-cache", weights) // a home not made yet, as on first use
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sandbox check: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"environment:\n",
		"Sandbox (local): Python 3.",
		"Installed: numpy ",
		"Resources per execution: " + strconv.Itoa(runtime.NumCPU()) + " CPUs",
		"GPUs: none; run on the CPU.",
		"read-only cache at " + weights,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("sandbox check output lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(got, "Network: off") && !strings.Contains(got, "allows neither a network namespace") {
		t.Errorf("sandbox check says the network is on without --network, and no warning why:\n%s", got)
	}
}

// TestSandboxFlagErrorsNameTheFlag checks that bad sandbox settings fail before anything runs,
// with the flag to fix.
func TestSandboxFlagErrorsNameTheFlag(t *testing.T) {
	endToEnd(t)
	missing := filepath.Join(t.TempDir(), "no-such-cache")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "memory not a size", args: []string{"sandbox", "check", "--sandbox", "local", "--memory", "lots"}, want: "--memory"},
		{name: "shm larger than memory", args: []string{"sandbox", "check", "--sandbox", "local", "--memory", "1g", "--shm-size", "2g"}, want: "--shm-size"},
		{name: "negative cpus", args: []string{"sandbox", "check", "--sandbox", "local", "--cpus", "-2"}, want: "--cpus"},
		{name: "missing weights cache", args: []string{"sandbox", "check", "--sandbox", "local", "--weights-cache", missing}, want: "--weights-cache"},
		{name: "unknown suite", args: []string{"sandbox", "build", "--suite", "sid"}, want: "--suite trixie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			args := tt.args
			if args[1] == "check" {
				args = append(args, "--home", t.TempDir())
			}
			cmd := exec.CommandContext(ctx, binary, args...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("gome-mcp %s succeeded; want an error naming %s:\n%s", strings.Join(tt.args, " "), tt.want, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("error does not name %s:\n%s", tt.want, out)
			}
		})
	}
}

// TestServeEnvironmentResource reads gome://sandbox/environment from the real server over stdio
// with the go-sdk client: the local sandbox's Python version and CPUs, as Python itself sees
// them.
func TestServeEnvironmentResource(t *testing.T) {
	endToEnd(t)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("the local probe needs /usr/bin/python3: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := connect(t, ctx, t.TempDir(), "GOME_PYTHON=/usr/bin/python3")
	res, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: tools.EnvironmentURI})
	if err != nil {
		t.Fatalf("read %s: %v", tools.EnvironmentURI, err)
	}
	if len(res.Contents) != 1 {
		t.Fatalf("%d contents, want 1", len(res.Contents))
	}
	var env engine.Environment
	if err := json.Unmarshal([]byte(res.Contents[0].Text), &env); err != nil {
		t.Fatalf("%s is not an environment: %v\n%s", tools.EnvironmentURI, err, res.Contents[0].Text)
	}
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", "import os, platform; print(platform.python_version(), len(os.sched_getaffinity(0)))").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(out))
	if got := []string{env.Python, strconv.FormatFloat(env.CPUs, 'f', -1, 64)}; env.Backend != "local" || !slices.Equal(got, want) {
		t.Errorf("backend %s, Python and CPUs %v; want local, %v", env.Backend, got, want)
	}
}
