package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Environment is what a sandbox offers a solution, as measured from inside a job: the Python and
// its ML packages, the CPUs, memory and GPUs a job may use, the network, and the disk. The engine
// states it in its prompts, so the model writes code for the machine it has; Prompt renders it.
type Environment struct {
	Backend       string            `json:"backend"`                 // "docker", "local" or "slurm"
	Image         string            `json:"image,omitempty"`         // the Docker image
	Python        string            `json:"python"`                  // Python's version, e.g. 3.13.5
	Packages      map[string]string `json:"packages"`                // module -> version of the ML packages found
	Missing       []string          `json:"missing,omitempty"`       // ML modules looked for and not found
	CPUs          float64           `json:"cpus"`                    // CPUs a job may use (affinity, then the CPU quota)
	MemoryBytes   int64             `json:"memory_bytes"`            // memory a job may use (its limit, else the machine's)
	ShmBytes      int64             `json:"shm_bytes"`               // size of /dev/shm
	GPUs          []GPUInfo         `json:"gpus,omitempty"`          // GPUs a job that asks for them sees
	CUDA          string            `json:"cuda,omitempty"`          // CUDA version torch was built with; "" = a CPU build or no torch
	CUDAAvailable bool              `json:"cuda_available"`          // torch.cuda.is_available() in a job given the GPUs
	Network       bool              `json:"network"`                 // a job can reach beyond the machine (it has a default route)
	DiskFreeBytes int64             `json:"disk_free_bytes"`         // free space where the workspace is
	WeightsCache  string            `json:"weights_cache,omitempty"` // where a job finds the read-only weights cache; "" = none
}

// GPUInfo is a GPU as a job sees it.
type GPUInfo struct {
	Name        string `json:"name"`
	MemoryBytes int64  `json:"memory_bytes"`
}

// Prompt renders the environment as a few lines for a model's prompt.
func (e Environment) Prompt() string {
	var b strings.Builder
	where := e.Backend
	if e.Image != "" {
		where += ", image " + e.Image
	}
	fmt.Fprintf(&b, "Sandbox (%s): Python %s.\n", where, e.Python)
	if len(e.Packages) > 0 {
		var pkgs []string
		for _, p := range MLPackages() {
			if v, ok := e.Packages[p.Module]; ok {
				pkgs = append(pkgs, p.Module+" "+v)
			}
		}
		for _, m := range slices.Sorted(maps.Keys(e.Packages)) {
			if !moduleListed(m) {
				pkgs = append(pkgs, m+" "+e.Packages[m])
			}
		}
		fmt.Fprintf(&b, "Installed: %s.\n", strings.Join(pkgs, ", "))
	}
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "Not installed (nothing can be installed): %s.\n", strings.Join(e.Missing, ", "))
	}
	fmt.Fprintf(&b, "Resources per execution: %s CPUs, %s memory (/dev/shm %s), %s free disk in the working folder.\n",
		strconv.FormatFloat(e.CPUs, 'f', -1, 64), FormatBytes(e.MemoryBytes), FormatBytes(e.ShmBytes), FormatBytes(e.DiskFreeBytes))
	switch {
	case len(e.GPUs) == 0:
		b.WriteString("GPUs: none; run on the CPU.\n")
	default:
		var gpus []string
		for _, g := range e.GPUs {
			gpus = append(gpus, fmt.Sprintf("%s (%s)", g.Name, FormatBytes(g.MemoryBytes)))
		}
		cuda := "CUDA not usable from torch"
		if e.CUDAAvailable {
			cuda = "CUDA " + e.CUDA + " via torch"
		}
		fmt.Fprintf(&b, "GPUs: %s; %s.\n", strings.Join(gpus, ", "), cuda)
	}
	if e.Network {
		b.WriteString("Network: on.\n")
	} else {
		b.WriteString("Network: off; nothing can be downloaded (no pip install, no model hub).\n")
	}
	if e.WeightsCache != "" {
		fmt.Fprintf(&b, "Pretrained weights: a read-only cache at %s (XDG_CACHE_HOME; HF_HOME and TORCH_HOME point into it); load only what it holds.\n", e.WeightsCache)
	}
	return b.String()
}

// moduleListed reports whether module is one of MLPackages.
func moduleListed(module string) bool {
	return slices.ContainsFunc(MLPackages(), func(p MLPackage) bool { return p.Module == module })
}

// probeScript runs inside a job and prints what it finds as one JSON object. The modules to look
// for come in GOME_PROBE_MODULES; each is imported, so a version is only reported for a package
// that really loads.
const probeScript = `
import importlib, json, os, platform, shutil, sys
out = {"python": platform.python_version(), "packages": {}, "missing": []}
for m in os.environ.get("GOME_PROBE_MODULES", "").split(","):
    if not m:
        continue
    try:
        mod = importlib.import_module(m)
        out["packages"][m] = str(getattr(mod, "__version__", "") or getattr(mod, "VERSION", "") or "?")
    except Exception:
        out["missing"].append(m)
cpus = float(len(os.sched_getaffinity(0)))
def read(path):
    try:
        return open(path).read().strip()
    except OSError:
        return ""
quota = read("/sys/fs/cgroup/cpu.max").split()  # cgroup v2: "quota period" or "max period"
if len(quota) != 2:  # cgroup v1
    quota = [read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")]
try:
    if int(quota[0]) > 0:
        cpus = min(cpus, int(quota[0]) / int(quota[1]))
except ValueError:
    pass
out["cpus"] = cpus
mem = 0
for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
    try:
        v = open(path).read().strip()
        if v != "max" and int(v) < 1 << 60:
            mem = int(v)
            break
    except (OSError, ValueError):
        pass
try:
    import resource
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft != resource.RLIM_INFINITY and (mem == 0 or soft < mem):
        mem = soft
except (ImportError, ValueError):
    pass
if mem == 0:
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) * 1024
out["memory_bytes"] = mem
try:
    st = os.statvfs("/dev/shm")
    out["shm_bytes"] = st.f_blocks * st.f_frsize
except OSError:
    out["shm_bytes"] = 0
out["disk_free_bytes"] = shutil.disk_usage(os.getcwd()).free
route = False
try:
    for line in open("/proc/net/route").read().splitlines()[1:]:
        f = line.split()
        if len(f) > 1 and f[1] == "00000000":
            route = True
except OSError:
    pass
out["network"] = route
gpus, cuda, avail = [], "", False
if "torch" in out["packages"]:
    import torch
    cuda = torch.version.cuda or ""
    avail = torch.cuda.is_available()
    if avail:
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            gpus.append({"name": p.name, "memory_bytes": p.total_memory})
if not gpus and shutil.which("nvidia-smi"):
    import subprocess
    try:
        q = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=30)
        for line in q.stdout.splitlines():
            name, _, mib = line.rpartition(",")
            if name:
                gpus.append({"name": name.strip(), "memory_bytes": int(float(mib)) << 20})
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
out["gpus"], out["cuda"], out["cuda_available"] = gpus, cuda, avail
print(json.dumps(out))
`

// probeTimeout bounds the probe job; importing torch and OpenCV on a slow disk takes seconds.
const probeTimeout = 3 * time.Minute

// runner is the part of a backend the probe needs.
type runner interface {
	Run(ctx context.Context, job Job) (Result, error)
}

// probeCache keeps a backend's Environment, probed once: a backend runs one image with fixed
// settings, so the answer cannot change while it lives.
type probeCache struct {
	mu  sync.Mutex
	env *Environment
}

// get returns the cached environment, probing it with probe the first time. A failed probe is
// not cached, so the next call tries again.
func (c *probeCache) get(ctx context.Context, probe func(context.Context) (Environment, error)) (Environment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.env != nil {
		return *c.env, nil
	}
	env, err := probe(ctx)
	if err != nil {
		return Environment{}, err
	}
	c.env = &env
	return env, nil
}

// probeEnvironment runs probeScript as a job of r in a scratch workspace under parent ("" = the
// system temp folder) and reads its report. gpus is how many GPUs the job leases, so that GPU
// names and CUDA are seen as a GPU job sees them.
func probeEnvironment(ctx context.Context, r runner, parent string, gpus int) (Environment, error) {
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return Environment{}, fmt.Errorf("%w: probe workspace in %s: %w; set --home to a writable folder", ErrStart, parent, err)
		}
	}
	ws, err := os.MkdirTemp(parent, "gome-probe-")
	if err != nil {
		return Environment{}, fmt.Errorf("%w: probe workspace: %w", ErrStart, err)
	}
	defer func() { _ = os.RemoveAll(ws) }()
	if err := os.Chmod(ws, 0o755); err != nil {
		return Environment{}, fmt.Errorf("%w: probe workspace: %w", ErrStart, err)
	}
	var modules []string
	for _, p := range MLPackages() {
		modules = append(modules, p.Module)
	}
	res, err := r.Run(ctx, Job{
		Workspace: ws,
		Command:   []string{Python, "-c", probeScript},
		Env:       map[string]string{"GOME_PROBE_MODULES": strings.Join(modules, ",")},
		Timeout:   probeTimeout,
		GPUs:      gpus,
		Labels:    map[string]string{"gome.probe": "true"},
	})
	if err != nil {
		return Environment{}, fmt.Errorf("sandbox: probing the environment: %w", err)
	}
	if res.ExitCode != 0 {
		return Environment{}, fmt.Errorf("sandbox: the environment probe failed (exit %d, timed out %v, out of memory %v): %s; check that the image or --python has a working python3",
			res.ExitCode, res.TimedOut, res.OOMKilled, lastLines(res.Stderr, 5))
	}
	var env Environment
	if err := json.Unmarshal([]byte(lastLines(res.Stdout, 1)), &env); err != nil {
		return Environment{}, fmt.Errorf("sandbox: reading the environment probe's report %q: %w", lastLines(res.Stdout, 1), err)
	}
	return env, nil
}

// lastLines returns the last n non-empty lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Environment probes, once, what a job of this backend finds (see Environment). With GPUs to
// lease, the probe leases all of them, so the first call waits until they are free.
func (d *Docker) Environment(ctx context.Context) (Environment, error) {
	return d.probe.get(ctx, func(ctx context.Context) (Environment, error) {
		gpus := 0
		if d.gpus != nil {
			gpus = len(d.gpus.GPUs())
		}
		env, err := probeEnvironment(ctx, d, d.settings.WorkRoot, gpus)
		if err != nil {
			return env, err
		}
		env.Backend, env.Image = BackendDocker, d.image
		if d.settings.WeightsCache != "" {
			env.WeightsCache = containerWeights
		}
		return env, nil
	})
}

// Environment probes, once, what a job of this backend finds (see Environment). With GPUs to
// lease, the probe leases all of them, so the first call waits until they are free.
func (l *Local) Environment(ctx context.Context) (Environment, error) {
	return l.probe.get(ctx, func(ctx context.Context) (Environment, error) {
		gpus := 0
		if l.gpus != nil {
			gpus = len(l.gpus.GPUs())
		}
		env, err := probeEnvironment(ctx, l, l.settings.WorkRoot, gpus)
		if err != nil {
			return env, err
		}
		env.Backend = BackendLocal
		env.WeightsCache = l.settings.WeightsCache
		return env, nil
	})
}
