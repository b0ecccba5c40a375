package sandbox

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLocalRunsTorchOnLeasedGPU is the real-hardware proof of the GPU path: GPUs discovered
// with nvidia-smi, two jobs each leasing one, PyTorch seeing exactly the leased device. It skips
// where there is no GPU (CI never has one); on a GPU machine run
//
//	go test -run TestLocalRunsTorchOnLeasedGPU -v ./sandbox/
func TestLocalRunsTorchOnLeasedGPU(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gpus, err := DiscoverGPUs(ctx)
	if err != nil {
		t.Fatalf("nvidia-smi is present but failed: %v", err)
	}
	if len(gpus) == 0 {
		t.Skip("no NVIDIA GPU on this machine (nvidia-smi absent or lists none): the GPU path is proven on a GPU machine")
	}
	alloc, err := NewGPUAllocator(gpus)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(os.Getenv(EnvPython), nil, WithLocalGPUs(alloc))
	if err != nil {
		t.Skipf("no Python: %v", err)
	}
	script := `import os, torch
print("CUDA_VISIBLE_DEVICES=" + os.environ.get("CUDA_VISIBLE_DEVICES", ""))
assert torch.cuda.is_available(), "CUDA not available"
x = torch.randn(2048, 2048, device="cuda")
print("devices", torch.cuda.device_count(), torch.cuda.get_device_name(0), "sum", float((x @ x).sum()) != 0)
`
	res, err := l.Run(ctx, Job{Workspace: t.TempDir(), Command: []string{Python, "-c", script}, GPUs: 1, Timeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "devices 1 ") {
		t.Fatalf("torch on the leased GPU: exit %d; want one visible device", res.ExitCode)
	}
	if !strings.Contains(res.Stdout, "CUDA_VISIBLE_DEVICES="+gpus[0].Device) && len(gpus) == 1 {
		t.Errorf("CUDA_VISIBLE_DEVICES does not name the leased GPU %s", gpus[0].Device)
	}
	if alloc.Free() != len(gpus) {
		t.Errorf("%d of %d GPUs free after the job: the lease was not released", alloc.Free(), len(gpus))
	}

	// The environment probe leases every GPU and reports them as torch sees them.
	env, err := l.Environment(ctx)
	if err != nil {
		t.Fatalf("Environment: %v", err)
	}
	t.Logf("probe:\n%s", env.Prompt())
	if !env.CUDAAvailable || len(env.GPUs) != len(gpus) || env.CUDA == "" {
		t.Errorf("probe: CUDA available %v (CUDA %q), %d GPUs %v; want CUDA and the %d GPUs nvidia-smi lists", env.CUDAAvailable, env.CUDA, len(env.GPUs), env.GPUs, len(gpus))
	}
	for i, g := range env.GPUs {
		if g.Name == "" || g.MemoryBytes <= 0 {
			t.Errorf("probe: GPU %d = %+v, want a name and its memory", i, g)
		}
	}
}
