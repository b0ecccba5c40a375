package sandbox

import (
	"errors"
	"strings"
	"testing"
)

func TestEnvironmentPrompt(t *testing.T) {
	tests := []struct {
		name string
		env  Environment
		want []string
		not  []string
	}{
		{
			name: "CPU machine, docker, network off, weights cache",
			env: Environment{Backend: BackendDocker, Image: "gome-sandbox:latest", Python: "3.13.5",
				Packages: map[string]string{"torch": "2.6.0", "numpy": "2.2.4", "extra": "1.0"}, Missing: []string{"cv2"},
				CPUs: 2, MemoryBytes: 21 << 30, ShmBytes: 21 << 29, DiskFreeBytes: 70 << 30, WeightsCache: "/weights"},
			want: []string{
				"Sandbox (docker, image gome-sandbox:latest): Python 3.13.5.",
				"Installed: numpy 2.2.4, torch 2.6.0, extra 1.0.", // the listed packages in their order, then others
				"Not installed (nothing can be installed): cv2.",
				"2 CPUs, 21 GiB memory (/dev/shm 10.5 GiB), 70 GiB free disk",
				"GPUs: none; run on the CPU.",
				"Network: off",
				"read-only cache at /weights",
			},
		},
		{
			name: "GPU machine, local, network on",
			env: Environment{Backend: BackendLocal, Python: "3.11.2", CPUs: 1.5, MemoryBytes: 8 << 30, Network: true,
				GPUs: []GPUInfo{{Name: "NVIDIA H100 80GB HBM3", MemoryBytes: 80 << 30}}, CUDA: "12.4", CUDAAvailable: true},
			want: []string{"Sandbox (local): Python 3.11.2.", "1.5 CPUs", "GPUs: NVIDIA H100 80GB HBM3 (80 GiB); CUDA 12.4 via torch.", "Network: on."},
			not:  []string{"Installed:", "Pretrained weights"},
		},
		{
			name: "GPU torch cannot use",
			env:  Environment{Backend: BackendDocker, GPUs: []GPUInfo{{Name: "Tesla T4", MemoryBytes: 15 << 30}}},
			want: []string{"GPUs: Tesla T4 (15 GiB); CUDA not usable from torch."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.env.Prompt()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Prompt lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("Prompt has %q:\n%s", n, got)
				}
			}
		})
	}
}

func TestCUDABuildErrors(t *testing.T) {
	tests := []struct {
		name     string
		stream   string
		registry bool // the error must say that no registry answers
	}{
		{name: "no DNS for Docker Hub", stream: `{"stream":"Step 1/8 : FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\n"}
{"errorDetail":{"message":"Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host"},"error":"Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host"}`, registry: true},
		{name: "PyPI unreachable", stream: `{"stream":"Step 3/8 : RUN python3 -m pip install ...\n"}
{"stream":"WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError': /simple/numpy/\nERROR: No matching distribution found for numpy<2.2\n"}
{"errorDetail":{"message":"The command '/bin/sh -c python3 -m pip install ...' returned a non-zero code: 1"},"error":"x"}`, registry: true},
		{name: "a package that does not import", stream: `{"stream":"Step 3/8 : RUN python3 -m pip install ...\n"}
{"stream":"ModuleNotFoundError: No module named 'timm'\n"}
{"errorDetail":{"message":"The command '/bin/sh -c python3 -m pip install ...' returned a non-zero code: 1"},"error":"x"}`, registry: false},
		{name: "pip cannot resolve", stream: `{"error":"ERROR: Could not fetch URL https://pypi.org/simple/lightgbm/: connection refused"}`, registry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := readBuildStream(strings.NewReader(tt.stream), &out)
			if err == nil {
				t.Fatal("readBuildStream found no error in a failed build")
			}
			err = cudaBuildError(CUDAImage, err)
			if got := errors.Is(err, ErrRegistryUnreachable); got != tt.registry {
				t.Errorf("errors.Is(ErrRegistryUnreachable) = %v, want %v: %v", got, tt.registry, err)
			}
			if tt.registry && (!strings.Contains(err.Error(), "docker save") || !strings.Contains(err.Error(), "gome-mcp sandbox build")) {
				t.Errorf("error does not say what to do without a registry: %v", err)
			}
			if !tt.registry && !errors.Is(err, ErrBuild) {
				t.Errorf("error = %v, want ErrBuild", err)
			}
		})
	}
	var out strings.Builder
	if err := readBuildStream(strings.NewReader(`{"stream":"Step 1/2 : FROM x\n"}{"status":"Pulling fs layer"}{"stream":"Successfully tagged gome-sandbox:cuda\n"}`), &out); err != nil {
		t.Fatalf("readBuildStream on a good build: %v", err)
	}
	if want := "Step 1/2 : FROM x\nPulling fs layer\nSuccessfully tagged gome-sandbox:cuda\n"; out.String() != want {
		t.Errorf("progress = %q, want %q", out.String(), want)
	}
}

func TestCUDADockerfileKeepsTheContract(t *testing.T) {
	df := string(cudaDockerfile)
	for _, want := range []string{"FROM pytorch/pytorch:", "lightgbm", "catboost", "timm", "transformers", "albumentations",
		"--uid 1000", "/workspace", "/weights", "LABEL gome.sandbox=cuda", "USER 1000:1000"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile.cuda lacks %q", want)
		}
	}
}
