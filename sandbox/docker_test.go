package sandbox

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

// testImage is the image the Docker tests run in; GOME_SANDBOX_TEST_IMAGE overrides it.
func testImage() string {
	if im := os.Getenv("GOME_SANDBOX_TEST_IMAGE"); im != "" {
		return im
	}
	return DefaultImage
}

// newTestDocker connects to the real Docker daemon. The tests skip only when the daemon does not
// answer or the sandbox image has not been built (building it takes minutes, so the tests do not
// do it behind the developer's back); any other failure fails the test.
func newTestDocker(t *testing.T, opts ...DockerOption) *Docker {
	t.Helper()
	if testing.Short() {
		t.Skip("runs containers on the real Docker engine: run without -short")
	}
	d, err := NewDocker(t.Context(), testImage(), nil, opts...)
	switch {
	case errors.Is(err, ErrDockerUnavailable):
		t.Skipf("Docker tests need a running Docker daemon: %v", err)
	case errors.Is(err, ErrImageNotFound):
		t.Skipf("Docker tests need the sandbox image; build it first with `GOME_SANDBOX_BUILD=slim go test -run TestBuildImage ./sandbox/` or `gome-mcp sandbox build`: %v", err)
	case err != nil:
		t.Fatalf("NewDocker: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestContainerSpecIsolates(t *testing.T) {
	ws, data := t.TempDir(), t.TempDir()
	base := checkedJob{
		Job:       Job{Workspace: ws, Command: []string{Python, "main.py"}},
		workspace: ws,
	}
	tests := []struct {
		name  string
		job   func(checkedJob) checkedJob
		gpus  []string
		check func(t *testing.T, cfg *container.Config, host *container.HostConfig)
	}{
		{
			name: "defaults",
			job:  func(c checkedJob) checkedJob { return c },
			check: func(t *testing.T, cfg *container.Config, host *container.HostConfig) {
				want := []string{"python3", "main.py"}
				if !slices.Equal(cfg.Cmd, want) {
					t.Errorf("Cmd = %v, want %v", cfg.Cmd, want)
				}
				if cfg.User != "1000:1000" || cfg.WorkingDir != "/workspace" || cfg.Image != "img:1" {
					t.Errorf("User/WorkingDir/Image = %q/%q/%q", cfg.User, cfg.WorkingDir, cfg.Image)
				}
				if host.NetworkMode != "none" {
					t.Errorf("NetworkMode = %q, want none", host.NetworkMode)
				}
				if !host.ReadonlyRootfs {
					t.Error("root filesystem is writable")
				}
				if host.Memory != DefaultMemoryBytes || host.MemorySwap != DefaultMemoryBytes {
					t.Errorf("Memory/MemorySwap = %d/%d, want %d for both (no swap)", host.Memory, host.MemorySwap, DefaultMemoryBytes)
				}
				if host.NanoCPUs != 0 {
					t.Errorf("NanoCPUs = %d, want 0 (no CPU cap unless asked)", host.NanoCPUs)
				}
				if host.PidsLimit == nil || *host.PidsLimit != DefaultPidsLimit {
					t.Errorf("PidsLimit = %v, want %d", host.PidsLimit, DefaultPidsLimit)
				}
				if !slices.Equal(host.CapDrop, []string{"ALL"}) || !slices.Contains(host.SecurityOpt, "no-new-privileges") {
					t.Errorf("CapDrop = %v, SecurityOpt = %v; want ALL dropped and no-new-privileges", host.CapDrop, host.SecurityOpt)
				}
				if _, ok := host.Tmpfs["/tmp"]; !ok {
					t.Errorf("Tmpfs = %v, want a tmpfs at /tmp", host.Tmpfs)
				}
				if len(host.Mounts) != 1 || host.Mounts[0].Source != ws || host.Mounts[0].Target != "/workspace" || host.Mounts[0].ReadOnly {
					t.Errorf("Mounts = %+v, want only the workspace, read-write at /workspace", host.Mounts)
				}
				if len(host.DeviceRequests) != 0 {
					t.Errorf("DeviceRequests = %+v, want none", host.DeviceRequests)
				}
				if cfg.Labels[LabelManaged] != "true" {
					t.Errorf("Labels = %v, want %s=true", cfg.Labels, LabelManaged)
				}
				env := strings.Join(cfg.Env, "\n")
				for _, want := range []string{"GOME_OUTPUT_DIR=/workspace", "HOME=/workspace", "PYTHONUNBUFFERED=1"} {
					if !slices.Contains(cfg.Env, want) {
						t.Errorf("Env lacks %s:\n%s", want, env)
					}
				}
				if strings.Contains(env, EnvDataDir) {
					t.Errorf("Env sets %s without a DataDir:\n%s", EnvDataDir, env)
				}
			},
		},
		{
			name: "data, network, limits, labels",
			job: func(c checkedJob) checkedJob {
				c.dataDir = data
				c.Network = true
				c.MemoryBytes = 1 << 30
				c.CPUs = 1.5
				c.Labels = map[string]string{"gome.run": "r1", "gome.step": "7", LabelManaged: "false"}
				c.Env = map[string]string{"SEED": "1"}
				return c
			},
			check: func(t *testing.T, cfg *container.Config, host *container.HostConfig) {
				if host.NetworkMode != "bridge" {
					t.Errorf("NetworkMode = %q, want bridge when the job asks for network", host.NetworkMode)
				}
				if host.Memory != 1<<30 || host.MemorySwap != 1<<30 || host.NanoCPUs != 1_500_000_000 {
					t.Errorf("Memory/MemorySwap/NanoCPUs = %d/%d/%d", host.Memory, host.MemorySwap, host.NanoCPUs)
				}
				if len(host.Mounts) != 2 || host.Mounts[1].Source != data || host.Mounts[1].Target != "/data" || !host.Mounts[1].ReadOnly {
					t.Errorf("Mounts = %+v, want data read-only at /data", host.Mounts)
				}
				for _, want := range []string{"GOME_DATA_DIR=/data", "SEED=1"} {
					if !slices.Contains(cfg.Env, want) {
						t.Errorf("Env lacks %s: %v", want, cfg.Env)
					}
				}
				if cfg.Labels["gome.run"] != "r1" || cfg.Labels["gome.step"] != "7" || cfg.Labels[LabelManaged] != "true" {
					t.Errorf("Labels = %v, want the job's labels plus %s=true", cfg.Labels, LabelManaged)
				}
			},
		},
		{
			name: "leased GPUs become a device request",
			job:  func(c checkedJob) checkedJob { c.GPUs = 2; return c },
			gpus: []string{"1", "3"},
			check: func(t *testing.T, cfg *container.Config, host *container.HostConfig) {
				if len(host.DeviceRequests) != 1 {
					t.Fatalf("DeviceRequests = %+v, want one", host.DeviceRequests)
				}
				r := host.DeviceRequests[0]
				if r.Driver != "nvidia" || !slices.Equal(r.DeviceIDs, []string{"1", "3"}) || r.Count != 0 ||
					len(r.Capabilities) != 1 || !slices.Equal(r.Capabilities[0], []string{"gpu"}) {
					t.Errorf("DeviceRequest = %+v, want nvidia devices [1 3] with capability gpu and no count", r)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, host := containerSpec(tt.job(base), "img:1", "1000:1000", tt.gpus)
			tt.check(t, cfg, host)
		})
	}
}
