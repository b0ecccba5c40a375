package sandbox

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
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
	machine, err := MachineSettings(Settings{}, 16<<30, 8)
	if err != nil {
		t.Fatal(err)
	}
	weights := t.TempDir()
	tests := []struct {
		name     string
		job      func(checkedJob) checkedJob
		gpus     []string
		settings *Settings // nil = machine
		scratch  string
		check    func(t *testing.T, cfg *container.Config, host *container.HostConfig)
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
				if host.Memory != 14<<30 || host.MemorySwap != 14<<30 {
					t.Errorf("Memory/MemorySwap = %d/%d, want 14 GiB for both (16 GiB less 2 GiB for the system; no swap)", host.Memory, host.MemorySwap)
				}
				if host.ShmSize != 7<<30 {
					t.Errorf("ShmSize = %d, want half the memory", host.ShmSize)
				}
				if host.NanoCPUs != 8e9 {
					t.Errorf("NanoCPUs = %d, want all 8 CPUs", host.NanoCPUs)
				}
				if host.PidsLimit == nil || *host.PidsLimit != 512 {
					t.Errorf("PidsLimit = %v, want 512 for 8 CPUs", host.PidsLimit)
				}
				if !slices.Equal(host.CapDrop, []string{"ALL"}) || !slices.Contains(host.SecurityOpt, "no-new-privileges") {
					t.Errorf("CapDrop = %v, SecurityOpt = %v; want ALL dropped and no-new-privileges", host.CapDrop, host.SecurityOpt)
				}
				if len(host.Tmpfs) != 0 {
					t.Errorf("Tmpfs = %v, want none: scratch space is on disk", host.Tmpfs)
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
				for _, unwanted := range []string{EnvDataDir, "HF_HOME", "XDG_CACHE_HOME"} {
					if strings.Contains(env, unwanted) {
						t.Errorf("Env sets %s without a DataDir or weights cache:\n%s", unwanted, env)
					}
				}
			},
		},
		{
			name: "data, network, limits, labels",
			job: func(c checkedJob) checkedJob {
				c.dataDir = data
				c.Network = true
				c.MemoryBytes = 1 << 30
				c.ShmBytes = 2 << 30 // more than the memory: capped to it
				c.CPUs = 1.5
				c.Labels = map[string]string{"gome.run": "r1", "gome.step": "7", LabelManaged: "false"}
				c.Env = map[string]string{"SEED": "1"}
				return c
			},
			check: func(t *testing.T, cfg *container.Config, host *container.HostConfig) {
				if host.NetworkMode != "bridge" {
					t.Errorf("NetworkMode = %q, want bridge when the job asks for network", host.NetworkMode)
				}
				if host.Memory != 1<<30 || host.MemorySwap != 1<<30 || host.NanoCPUs != 1_500_000_000 || host.ShmSize != 1<<30 {
					t.Errorf("Memory/MemorySwap/NanoCPUs/ShmSize = %d/%d/%d/%d", host.Memory, host.MemorySwap, host.NanoCPUs, host.ShmSize)
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
		{
			name:     "weights cache read-only, scratch on disk, offline hubs",
			job:      func(c checkedJob) checkedJob { return c },
			settings: &Settings{MemoryBytes: 8 << 30, ShmBytes: 1 << 30, CPUs: 2, WeightsCache: weights},
			scratch:  ws + "/.gome-tmp-1",
			check: func(t *testing.T, cfg *container.Config, host *container.HostConfig) {
				want := map[string]mount.Mount{
					"/workspace": {Source: ws},
					"/tmp":       {Source: ws + "/.gome-tmp-1"},
					"/weights":   {Source: weights, ReadOnly: true},
				}
				if len(host.Mounts) != len(want) {
					t.Errorf("Mounts = %+v, want %d", host.Mounts, len(want))
				}
				for _, m := range host.Mounts {
					if w, ok := want[m.Target]; !ok || w.Source != m.Source || w.ReadOnly != m.ReadOnly {
						t.Errorf("mount %+v, want %+v at %s", m, w, m.Target)
					}
				}
				for _, kv := range []string{"XDG_CACHE_HOME=/weights", "HF_HOME=/weights/huggingface", "TORCH_HOME=/weights/torch", "HF_HUB_OFFLINE=1", "TMPDIR=/tmp"} {
					if !slices.Contains(cfg.Env, kv) {
						t.Errorf("Env lacks %s: %v", kv, cfg.Env)
					}
				}
				if host.Memory != 8<<30 || host.ShmSize != 1<<30 || host.NanoCPUs != 2e9 {
					t.Errorf("Memory/ShmSize/NanoCPUs = %d/%d/%d, want the settings' 8 GiB/1 GiB/2", host.Memory, host.ShmSize, host.NanoCPUs)
				}
			},
		},
		{
			name:     "server-wide network",
			job:      func(c checkedJob) checkedJob { return c },
			settings: &Settings{MemoryBytes: 1 << 30, ShmBytes: 1 << 29, CPUs: 1, Network: true, WeightsCache: weights},
			check: func(t *testing.T, cfg *container.Config, host *container.HostConfig) {
				if host.NetworkMode != "bridge" {
					t.Errorf("NetworkMode = %q, want bridge with --network", host.NetworkMode)
				}
				if slices.Contains(cfg.Env, "HF_HUB_OFFLINE=1") {
					t.Errorf("Env = %v: hubs told to stay offline although the network is on", cfg.Env)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := machine
			if tt.settings != nil {
				settings = *tt.settings
			}
			cfg, host := containerSpec(tt.job(base), runSpec{image: "img:1", user: "1000:1000", gpus: tt.gpus, scratch: tt.scratch, settings: settings})
			tt.check(t, cfg, host)
		})
	}
}
