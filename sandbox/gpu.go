package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Errors from GPU leasing, checked with errors.Is.
var (
	// ErrNotEnoughGPUs reports a request for more GPUs than the machine has; waiting cannot help.
	ErrNotEnoughGPUs = errors.New("sandbox: not enough GPUs where the execution runs")
	// ErrGPUsBusy reports that the GPUs a job asked for did not become free before its context
	// ended.
	ErrGPUsBusy = errors.New("sandbox: GPUs still busy")
)

// GPU is one device the allocator may lease.
type GPU struct {
	// Device names the GPU the way CUDA_VISIBLE_DEVICES and Docker device requests accept it: an
	// index ("0") or a UUID ("GPU-…").
	Device string
	// MemoryBytes is the device's memory, 0 when unknown.
	MemoryBytes int64
}

// DiscoverGPUs lists the host's NVIDIA GPUs with nvidia-smi. A machine without nvidia-smi has no
// GPUs for Gome: that is an empty list, not an error. nvidia-smi failing (a broken driver) is an
// error, because silently running GPU work on the CPU would waste the budget.
//
// Inside a Slurm job (a `bench --on slurm` run with --gpu), nvidia-smi may list every GPU of the
// node while the job was given some: when CUDA_VISIBLE_DEVICES lists indices, as Slurm sets it,
// only those GPUs are Gome's, so that executions never use another job's GPU.
func DiscoverGPUs(ctx context.Context) ([]GPU, error) {
	smi, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil, nil
	}
	cmd := exec.CommandContext(ctx, smi, "--query-gpu=index,memory.total", "--format=csv,noheader")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("sandbox: nvidia-smi failed (%w): %s; fix the NVIDIA driver (nvidia-smi must run), or take nvidia-smi out of the server's PATH to run everything on the CPU", err, strings.TrimSpace(stderr.String()))
	}
	gpus, err := parseNvidiaSMI(string(out))
	if err != nil {
		return nil, err
	}
	return visibleGPUs(gpus, os.Getenv("CUDA_VISIBLE_DEVICES")), nil
}

// visibleGPUs keeps the GPUs that CUDA_VISIBLE_DEVICES (visible) lists by index; a value that is
// empty or names devices otherwise (UUIDs, MIG instances) keeps them all.
func visibleGPUs(gpus []GPU, visible string) []GPU {
	if visible == "" {
		return gpus
	}
	keep := map[string]bool{}
	for d := range strings.SplitSeq(visible, ",") {
		d = strings.TrimSpace(d)
		if _, err := strconv.Atoi(d); err != nil {
			return gpus
		}
		keep[d] = true
	}
	var out []GPU
	for _, g := range gpus {
		if keep[g.Device] {
			out = append(out, g)
		}
	}
	return out
}

// parseNvidiaSMI reads the output of
// nvidia-smi --query-gpu=index,memory.total --format=csv,noheader, one "0, 81559 MiB" per GPU.
func parseNvidiaSMI(out string) ([]GPU, error) {
	var gpus []GPU
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		index, memory, ok := strings.Cut(line, ",")
		index = strings.TrimSpace(index)
		if !ok || index == "" {
			return nil, fmt.Errorf("sandbox: cannot read nvidia-smi line %q: want \"index, memory\"", line)
		}
		gpus = append(gpus, GPU{Device: index, MemoryBytes: parseMemory(memory)})
	}
	return gpus, nil
}

// parseMemory reads an nvidia-smi size such as "81559 MiB"; anything else ("[N/A]") is unknown.
func parseMemory(s string) int64 {
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return 0
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0
	}
	switch fields[1] {
	case "KiB":
		return n << 10
	case "MiB":
		return n << 20
	case "GiB":
		return n << 30
	}
	return 0
}

// ParseGPUList turns a comma-separated device list ("0,1" or UUIDs), as given on a command line,
// into GPUs of unknown memory. An empty string is no GPUs.
func ParseGPUList(list string) []GPU {
	var gpus []GPU
	for d := range strings.SplitSeq(list, ",") {
		if d = strings.TrimSpace(d); d != "" {
			gpus = append(gpus, GPU{Device: d})
		}
	}
	return gpus
}

// GPUAllocator hands out whole GPUs as leases so that concurrent traces never share one. Requests
// are served first come, first served: a job waiting for two GPUs is not overtaken forever by a
// stream of one-GPU jobs. It is safe for concurrent use.
type GPUAllocator struct {
	mu      sync.Mutex
	gpus    []GPU
	busy    []bool
	waiting []*gpuRequest // oldest first

	// onRequest, when set, is told of each Acquire of n > 0 GPUs once it has joined the queue and
	// whether it was granted at once. Tests set it to act when a request is known to be
	// waiting, instead of sleeping; it is called with the allocator's lock held.
	onRequest func(n int, granted bool)
}

// gpuRequest is one Acquire waiting for its turn; ready receives the granted indices.
type gpuRequest struct {
	n     int
	ready chan []int
}

// NewGPUAllocator returns an allocator over gpus (from DiscoverGPUs or ParseGPUList). It rejects
// empty or repeated device names, which would let two jobs share a GPU.
func NewGPUAllocator(gpus []GPU) (*GPUAllocator, error) {
	seen := make(map[string]bool, len(gpus))
	for i, g := range gpus {
		switch {
		case g.Device == "":
			return nil, fmt.Errorf("sandbox: GPU %d has an empty device name; give an index such as 0 or a UUID", i)
		case seen[g.Device]:
			return nil, fmt.Errorf("sandbox: GPU device %q is listed twice; list each GPU once", g.Device)
		}
		seen[g.Device] = true
	}
	return &GPUAllocator{gpus: slices.Clone(gpus), busy: make([]bool, len(gpus))}, nil
}

// GPUs returns the devices the allocator manages.
func (a *GPUAllocator) GPUs() []GPU { return slices.Clone(a.gpus) }

// Free returns how many GPUs are not leased now.
func (a *GPUAllocator) Free() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	free := 0
	for _, b := range a.busy {
		if !b {
			free++
		}
	}
	return free
}

// Acquire leases n whole GPUs, waiting until they are free. It fails at once when n exceeds the
// machine's GPUs, and with ErrGPUsBusy (wrapping ctx.Err()) when ctx ends first. Acquire(ctx, 0)
// returns an empty lease. Release the lease when the job is done.
func (a *GPUAllocator) Acquire(ctx context.Context, n int) (Lease, error) {
	switch {
	case n < 0:
		return Lease{}, fmt.Errorf("%w: asked for %d GPUs; ask for 0 or more", ErrInvalidJob, n)
	case n == 0:
		return Lease{}, nil
	case n > len(a.gpus):
		return Lease{}, fmt.Errorf("%w: asked for %d GPU(s) but this machine has %d (%s); ask for at most %d (gpus: %d), or gpus: 0 to run on the CPU",
			ErrNotEnoughGPUs, n, len(a.gpus), a.deviceList(), len(a.gpus), len(a.gpus))
	}
	req := &gpuRequest{n: n, ready: make(chan []int, 1)}
	a.mu.Lock()
	a.waiting = append(a.waiting, req)
	a.grantLocked()
	if a.onRequest != nil {
		a.onRequest(n, len(req.ready) > 0)
	}
	a.mu.Unlock()

	select {
	case idx := <-req.ready:
		return a.lease(idx), nil
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case idx := <-req.ready:
		// Granted while ctx ended: give the GPUs back to whoever waits next.
		a.releaseLocked(idx)
	default:
		a.waiting = slices.DeleteFunc(a.waiting, func(r *gpuRequest) bool { return r == req })
	}
	a.grantLocked()
	return Lease{}, fmt.Errorf("%w: waited for %d of %d GPU(s) (%s) to be free, but other executions held them: %w; ask for fewer (gpus: N), or stop a run that holds them (stop_run)",
		ErrGPUsBusy, n, len(a.gpus), a.deviceList(), ctx.Err())
}

// grantLocked serves waiting requests in order while the oldest one fits.
func (a *GPUAllocator) grantLocked() {
	for len(a.waiting) > 0 {
		req := a.waiting[0]
		var free []int
		for i, b := range a.busy {
			if !b {
				free = append(free, i)
			}
		}
		if len(free) < req.n {
			return
		}
		idx := free[:req.n]
		for _, i := range idx {
			a.busy[i] = true
		}
		req.ready <- idx
		a.waiting = a.waiting[1:]
	}
}

// releaseLocked frees the GPUs at idx.
func (a *GPUAllocator) releaseLocked(idx []int) {
	for _, i := range idx {
		a.busy[i] = false
	}
}

// lease wraps granted indices.
func (a *GPUAllocator) lease(idx []int) Lease {
	devices := make([]string, len(idx))
	for i, j := range idx {
		devices[i] = a.gpus[j].Device
	}
	return Lease{grant: &gpuGrant{alloc: a, idx: idx, devices: devices}}
}

// deviceList names the managed devices for error messages.
func (a *GPUAllocator) deviceList() string {
	if len(a.gpus) == 0 {
		return "no GPUs found"
	}
	names := make([]string, len(a.gpus))
	for i, g := range a.gpus {
		names[i] = g.Device
	}
	return "devices " + strings.Join(names, ",")
}

// Lease is a set of GPUs held by one job until Release. The zero Lease holds nothing.
type Lease struct {
	grant *gpuGrant
}

// gpuGrant is the shared state behind a Lease, so copies of a Lease release once.
type gpuGrant struct {
	alloc   *GPUAllocator
	idx     []int
	devices []string
	once    sync.Once
}

// Devices returns the leased devices, as CUDA_VISIBLE_DEVICES and Docker device requests name
// them.
func (l Lease) Devices() []string {
	if l.grant == nil {
		return nil
	}
	return slices.Clone(l.grant.devices)
}

// Release returns the GPUs to the allocator. Calling it again, or on the zero Lease, does nothing.
func (l Lease) Release() {
	if l.grant == nil {
		return
	}
	l.grant.once.Do(func() {
		a := l.grant.alloc
		a.mu.Lock()
		defer a.mu.Unlock()
		a.releaseLocked(l.grant.idx)
		a.grantLocked()
	})
}

// noGPUError is the answer to a job that asks for n GPUs on a machine without any: it says so and
// how to run the job on the CPU instead.
func noGPUError(n int) error {
	return fmt.Errorf("%w: the job asks for %d GPU(s) but nvidia-smi finds none here; run it on the CPU with gpus: 0 (Job.GPUs = 0), or move the server to a machine with an NVIDIA GPU", ErrNoGPUAllocator, n)
}
