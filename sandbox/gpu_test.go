package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGPUs is a device list standing in for a machine's GPUs: no test may assume a real GPU.
func fakeGPUs(t *testing.T, devices ...string) *GPUAllocator {
	t.Helper()
	a, err := NewGPUAllocator(ParseGPUList(strings.Join(devices, ",")))
	if err != nil {
		t.Fatalf("NewGPUAllocator: %v", err)
	}
	return a
}

func TestParseNvidiaSMI(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    []GPU
		wantErr bool
	}{
		{name: "no GPUs", out: "", want: nil},
		{
			name: "two H100s",
			out:  "0, 81559 MiB\n1, 81559 MiB\n",
			want: []GPU{{Device: "0", MemoryBytes: 81559 << 20}, {Device: "1", MemoryBytes: 81559 << 20}},
		},
		{name: "unknown memory", out: "0, [N/A]\n", want: []GPU{{Device: "0"}}},
		{name: "blank lines and spaces", out: "\n 3 , 16 GiB \n\n", want: []GPU{{Device: "3", MemoryBytes: 16 << 30}}},
		{name: "not csv", out: "NVIDIA-SMI has failed\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNvidiaSMI(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseNvidiaSMI error = %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("parseNvidiaSMI = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDiscoverGPUsRunsNvidiaSMI(t *testing.T) {
	tests := []struct {
		name    string
		script  string // "" = no nvidia-smi on PATH
		visible string // CUDA_VISIBLE_DEVICES
		want    []GPU
		wantErr string
	}{
		{name: "no nvidia-smi means no GPUs", script: ""},
		{
			name:   "reads the query output",
			script: "#!/bin/sh\n[ \"$1\" = --query-gpu=index,memory.total ] || exit 9\necho '0, 24576 MiB'\necho '1, 24576 MiB'\n",
			want:   []GPU{{Device: "0", MemoryBytes: 24576 << 20}, {Device: "1", MemoryBytes: 24576 << 20}},
		},
		{
			name:    "inside a Slurm job, only the GPUs it was given",
			script:  "#!/bin/sh\nfor i in 0 1 2 3; do echo \"$i, 81559 MiB\"; done\n",
			visible: "1,3",
			want:    []GPU{{Device: "1", MemoryBytes: 81559 << 20}, {Device: "3", MemoryBytes: 81559 << 20}},
		},
		{
			name:    "devices named by UUID keep the list",
			script:  "#!/bin/sh\necho '0, 81559 MiB'\n",
			visible: "GPU-8a1f",
			want:    []GPU{{Device: "0", MemoryBytes: 81559 << 20}},
		},
		{
			name:    "-1 hides every GPU",
			script:  "#!/bin/sh\necho '0, 81559 MiB'\n",
			visible: "-1",
		},
		{
			name:    "a broken driver is an error",
			script:  "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver' >&2\nexit 9\n",
			wantErr: "could not communicate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.script != "" {
				if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(tt.script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", dir)
			t.Setenv("CUDA_VISIBLE_DEVICES", tt.visible)
			got, err := DiscoverGPUs(t.Context())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DiscoverGPUs error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DiscoverGPUs: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("DiscoverGPUs = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewGPUAllocatorRejectsBadLists(t *testing.T) {
	tests := []struct {
		name string
		gpus []GPU
		want string
	}{
		{name: "empty device", gpus: []GPU{{Device: "0"}, {Device: ""}}, want: "empty device name"},
		{name: "duplicate", gpus: []GPU{{Device: "0"}, {Device: "0"}}, want: "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewGPUAllocator(tt.gpus); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewGPUAllocator error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestGPUAcquireImmediate(t *testing.T) {
	tests := []struct {
		name        string
		devices     []string
		n           int
		wantDevices []string
		wantErr     error
		wantHint    string
	}{
		{name: "one of two", devices: []string{"0", "1"}, n: 1, wantDevices: []string{"0"}},
		{name: "all", devices: []string{"0", "1"}, n: 2, wantDevices: []string{"0", "1"}},
		{name: "uuids", devices: []string{"GPU-aa", "GPU-bb"}, n: 1, wantDevices: []string{"GPU-aa"}},
		{name: "zero is an empty lease", devices: []string{"0"}, n: 0},
		{name: "more than the machine has", devices: []string{"0", "1"}, n: 3, wantErr: ErrNotEnoughGPUs, wantHint: "has 2 (devices 0,1)"},
		{name: "machine without GPUs", devices: nil, n: 1, wantErr: ErrNotEnoughGPUs, wantHint: "no GPUs found"},
		{name: "negative", devices: []string{"0"}, n: -1, wantErr: ErrInvalidJob, wantHint: "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := fakeGPUs(t, tt.devices...)
			lease, err := a.Acquire(t.Context(), tt.n)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Acquire(%d) error = %v, want %v", tt.n, err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantHint) {
					t.Errorf("error %q does not mention %q", err, tt.wantHint)
				}
				return
			}
			if got := lease.Devices(); !slices.Equal(got, tt.wantDevices) {
				t.Errorf("Devices() = %v, want %v", got, tt.wantDevices)
			}
			if got, want := a.Free(), len(tt.devices)-tt.n; got != want {
				t.Errorf("Free() = %d with the lease held, want %d", got, want)
			}
			lease.Release()
			lease.Release() // a second release must not free GPUs someone else holds
			if got := a.Free(); got != len(tt.devices) {
				t.Errorf("Free() = %d after Release, want %d", got, len(tt.devices))
			}
		})
	}
}

func TestGPUAcquireWaitsForRelease(t *testing.T) {
	a := fakeGPUs(t, "0", "1")
	held, err := a.Acquire(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	requests := watchRequests(a)
	got := make(chan Lease)
	go func() {
		l, err := a.Acquire(t.Context(), 1)
		if err != nil {
			t.Errorf("waiting Acquire: %v", err)
		}
		got <- l
	}()
	if r := <-requests; r.granted {
		t.Fatal("Acquire was granted a GPU while every GPU was leased")
	}
	held.Release()
	select {
	case l := <-got:
		if len(l.Devices()) != 1 {
			t.Errorf("waiting Acquire got devices %v, want one", l.Devices())
		}
		l.Release()
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire did not return after the GPUs were released")
	}
}

// request is one Acquire as the allocator's onRequest hook reports it.
type request struct {
	n       int
	granted bool
}

// watchRequests reports each Acquire on a once it has joined the queue, so a test knows a request
// waits without guessing how long it takes to get there.
func watchRequests(a *GPUAllocator) <-chan request {
	ch := make(chan request, 16)
	a.mu.Lock()
	a.onRequest = func(n int, granted bool) { ch <- request{n, granted} }
	a.mu.Unlock()
	return ch
}

func TestGPUAcquireGivesUpWhenContextEnds(t *testing.T) {
	a := fakeGPUs(t, "0")
	held, err := a.Acquire(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = a.Acquire(ctx, 1)
	if !errors.Is(err, ErrGPUsBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire error = %v, want ErrGPUsBusy wrapping context.DeadlineExceeded", err)
	}
	held.Release()
	// The abandoned request must not keep a GPU or block the next caller.
	l, err := a.Acquire(t.Context(), 1)
	if err != nil {
		t.Fatalf("Acquire after an abandoned wait: %v", err)
	}
	l.Release()
}

func TestGPUAcquireIsFirstComeFirstServed(t *testing.T) {
	a := fakeGPUs(t, "0", "1")
	held, err := a.Acquire(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	requests := watchRequests(a)
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	acquire := func(name string, n int) {
		wg.Go(func() {
			l, err := a.Acquire(t.Context(), n)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			l.Release()
		})
	}
	acquire("wants two", 2) // cannot be served while one GPU is held
	if r := <-requests; r.granted {
		t.Fatal("the request for two GPUs was served while one of the two was held")
	}
	acquire("wants one", 1) // would fit now, but came later
	if r := <-requests; r.granted {
		t.Fatal("the request for one GPU overtook the earlier request for two")
	}
	held.Release()
	wg.Wait()
	if want := []string{"wants two", "wants one"}; !slices.Equal(order, want) {
		t.Errorf("served in order %v, want %v", order, want)
	}
}

func TestGPULeasesNeverOverlap(t *testing.T) {
	a := fakeGPUs(t, "0", "1", "2")
	var mu sync.Mutex
	inUse := map[string]bool{}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			l, err := a.Acquire(t.Context(), 1+i%3)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			for _, d := range l.Devices() {
				if inUse[d] {
					t.Errorf("GPU %s leased twice at once", d)
				}
				inUse[d] = true
			}
			mu.Unlock()
			runtime.Gosched() // hold the lease while other goroutines try to take the same GPUs
			mu.Lock()
			for _, d := range l.Devices() {
				inUse[d] = false
			}
			mu.Unlock()
			l.Release()
		})
	}
	wg.Wait()
	if a.Free() != 3 {
		t.Errorf("Free() = %d after every lease was released, want 3", a.Free())
	}
}

func TestLocalPassesLeasedGPUs(t *testing.T) {
	alloc := fakeGPUs(t, "0", "1")
	l := newTestLocal(t, WithLocalGPUs(alloc))
	tests := []struct {
		name     string
		gpus     int
		env      map[string]string
		want     string
		wantErr  error
		hold     int // GPUs leased elsewhere while the job asks
		deadline time.Duration
	}{
		{name: "one GPU", gpus: 1, want: "0"},
		{name: "two GPUs", gpus: 2, want: "0,1"},
		{name: "none means none visible", gpus: 0, env: map[string]string{"CUDA_VISIBLE_DEVICES": "0,1"}, want: ""},
		{name: "more than the machine has", gpus: 3, wantErr: ErrNotEnoughGPUs},
		{name: "busy until the context ends", gpus: 2, hold: 1, deadline: 200 * time.Millisecond, wantErr: ErrGPUsBusy},
		{name: "the free one while the other is leased", gpus: 1, hold: 1, want: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hold > 0 {
				held, err := alloc.Acquire(t.Context(), tt.hold)
				if err != nil {
					t.Fatal(err)
				}
				defer held.Release()
			}
			ctx := t.Context()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			res, err := l.Run(ctx, Job{
				Workspace: t.TempDir(),
				Env:       tt.env,
				GPUs:      tt.gpus,
				Command:   []string{Python, "-c", "import os; print(os.environ.get('CUDA_VISIBLE_DEVICES', 'unset'))"},
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := strings.TrimSpace(res.Stdout); got != tt.want {
				t.Errorf("job sees CUDA_VISIBLE_DEVICES=%q, want %q", got, tt.want)
			}
			if alloc.Free() != 2-tt.hold {
				t.Errorf("Free() = %d after the job, want %d: the job's lease was not released", alloc.Free(), 2-tt.hold)
			}
		})
	}
}
