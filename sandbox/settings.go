package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Settings are a backend's server-wide choices: the limits a job gets when it leaves them at 0,
// the pretrained-weights cache, and whether jobs reach the network. Zero fields take the
// machine's defaults (see MachineSettings). The command line sets them with --memory,
// --shm-size, --cpus, --weights-cache and --network.
type Settings struct {
	MemoryBytes  int64   // memory per job; 0 = most of the machine's RAM
	ShmBytes     int64   // /dev/shm per job (Docker); counts against MemoryBytes when used; 0 = half of it
	CPUs         float64 // CPUs per job; 0 = all of the machine's
	WeightsCache string  // host folder of pretrained weights, read-only for jobs; "" = none
	Network      bool    // every job may reach the network (otherwise only jobs that set Job.Network)
	WorkRoot     string  // folder the workspaces lie in; the environment probe reports its free disk; "" = the system temp folder
}

// Where a job finds the weights cache: XDG_CACHE_HOME is the folder itself, and HF_HOME and
// TORCH_HOME the subfolders Hugging Face and torch.hub use by default under it, so a cache filled
// on the host with XDG_CACHE_HOME=DIR is found as it is.
const (
	containerWeights   = "/weights" // the cache's mount point in a Docker job
	weightsHFSubdir    = "huggingface"
	weightsTorchSubdir = "torch"
)

// weightsEnv returns the variables that point a job at the weights cache, mounted at dir. With
// the network off, the Hugging Face libraries are told to stay offline, so a missing model fails
// at once instead of after a long connection timeout.
func weightsEnv(dir string, network bool) map[string]string {
	env := map[string]string{
		"XDG_CACHE_HOME": dir,
		"HF_HOME":        filepath.Join(dir, weightsHFSubdir),
		"TORCH_HOME":     filepath.Join(dir, weightsTorchSubdir),
	}
	if !network {
		env["HF_HUB_OFFLINE"] = "1"
		env["TRANSFORMERS_OFFLINE"] = "1"
	}
	return env
}

// MachineSettings returns s with its zero limits filled from a machine with memTotal bytes of
// RAM and cpus CPUs: memory is all of it but what the server and the system need (an eighth, at
// least 2 GiB), /dev/shm half of the memory, and every CPU. It checks the limits and the weights
// cache, naming the flag that fixes a bad one.
func MachineSettings(s Settings, memTotal int64, cpus int) (Settings, error) {
	switch {
	case s.MemoryBytes < 0:
		return s, fmt.Errorf("%w: memory limit %d is negative; give --memory a size such as 8g", ErrInvalidJob, s.MemoryBytes)
	case s.ShmBytes < 0:
		return s, fmt.Errorf("%w: shared-memory size %d is negative; give --shm-size a size such as 2g", ErrInvalidJob, s.ShmBytes)
	case s.CPUs < 0:
		return s, fmt.Errorf("%w: CPU limit %g is negative; give --cpus a positive number", ErrInvalidJob, s.CPUs)
	}
	if s.MemoryBytes == 0 {
		s.MemoryBytes = defaultMemory(memTotal)
	}
	if s.ShmBytes == 0 {
		s.ShmBytes = s.MemoryBytes / 2
	}
	if s.ShmBytes > s.MemoryBytes {
		return s, fmt.Errorf("%w: --shm-size %s is larger than --memory %s, which it counts against; lower --shm-size or raise --memory",
			ErrInvalidJob, FormatBytes(s.ShmBytes), FormatBytes(s.MemoryBytes))
	}
	if s.CPUs == 0 {
		s.CPUs = float64(max(cpus, 1))
	}
	if s.WeightsCache != "" {
		abs, err := filepath.Abs(s.WeightsCache)
		if err != nil {
			return s, fmt.Errorf("%w: --weights-cache %q: %w", ErrInvalidJob, s.WeightsCache, err)
		}
		info, err := os.Stat(abs)
		if err != nil || !info.IsDir() {
			return s, fmt.Errorf("%w: --weights-cache %q is not a folder; create it and fill it on a machine with network (XDG_CACHE_HOME=%s python3 ...), or leave the flag out",
				ErrInvalidJob, s.WeightsCache, abs)
		}
		s.WeightsCache = abs
	}
	return s, nil
}

// defaultMemory is the memory a job may use on a machine with total bytes of RAM.
func defaultMemory(total int64) int64 {
	if total <= 0 {
		return 4 << 30 // unknown machine: a modest limit that still runs most tabular work
	}
	reserve := max(total/8, 2<<30)
	return max(total-reserve, 512<<20) &^ (1<<20 - 1)
}

// hostMemory returns the RAM this process may use: the machine's, or its cgroup's limit when
// lower (a server in a container).
func hostMemory() int64 {
	total := memTotal("/proc/meminfo")
	if data, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
			total = n
		}
	}
	return total
}

// memTotal reads MemTotal from a meminfo file; 0 when it cannot.
func memTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kib << 10
		}
	}
	return 0
}

// LocalMachineSettings fills s from this machine (see MachineSettings).
func LocalMachineSettings(s Settings) (Settings, error) {
	return MachineSettings(s, hostMemory(), runtime.NumCPU())
}

// ParseBytes reads a size as the docker CLI writes it: a number with an optional unit b, k, m, g
// or t (powers of 1024, case-insensitive, an optional trailing "b" or "ib": 512m, 8g, 8GiB).
// "" is 0.
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, nil
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	shift := 0
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			shift = 10
		case 'm':
			shift = 20
		case 'g':
			shift = 30
		case 't':
			shift = 40
		}
		if shift > 0 {
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit, such as 512m or 8g", s)
	}
	return int64(f * float64(int64(1)<<shift)), nil
}

// FormatBytes writes a size in the largest binary unit that keeps it readable ("7.5 GiB").
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + string("KMGT"[exp]) + "iB"
}
