package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gome-agent/gome/sandbox"
)

// limitSettings is a sandbox that says which limits its executions get by default (the Docker
// and local backends). A sandbox without it (Slurm, a fake) takes a run's limits as given.
type limitSettings interface {
	Settings() sandbox.Settings
}

// resolveLimits checks a run's execution limits against the server's and fills in the server's
// where the run gave none, so the stored configuration says what each execution gets. The
// server's limits are the most a run may ask for: an operator's --memory protects the machine.
func (e *Engine) resolveLimits(cfg *Config) error {
	ls, ok := e.sandbox.(limitSettings)
	if !ok {
		return nil
	}
	server := ls.Settings()
	given := cfg.MemoryBytes > 0
	switch {
	case given && server.MemoryBytes > 0 && cfg.MemoryBytes > server.MemoryBytes:
		return fmt.Errorf("%w: memory %s is above this server's limit per execution: ask for %s to %s (the server's --memory), or restart the server with a larger --memory",
			ErrInvalidConfig, sandbox.FormatBytes(cfg.MemoryBytes), sandbox.FormatBytes(int64(SettingMemory.Min)), sandbox.FormatBytes(server.MemoryBytes))
	case cfg.CPUs > 0 && server.CPUs == 0:
		return fmt.Errorf("%w: cpus: this server's sandbox (local) does not limit CPUs; leave cpus out, or run the server with --sandbox docker", ErrInvalidConfig)
	case cfg.CPUs > server.CPUs:
		return fmt.Errorf("%w: cpus %g is above this server's limit per execution: ask for %g to %g (the server's --cpus), or restart the server with a larger --cpus",
			ErrInvalidConfig, cfg.CPUs, SettingCPUs.Min, server.CPUs)
	case cfg.ShmBytes > 0 && server.ShmBytes == 0:
		return fmt.Errorf("%w: shm_size: this server's sandbox (local) has no /dev/shm limit to set; leave shm_size out, or run the server with --sandbox docker", ErrInvalidConfig)
	}
	fillLimits(cfg, server)
	if cfg.MemoryBytes > 0 && cfg.ShmBytes > cfg.MemoryBytes {
		return fmt.Errorf("%w: shm_size %s is larger than memory %s, which it counts against: lower shm_size or raise memory",
			ErrInvalidConfig, sandbox.FormatBytes(cfg.ShmBytes), sandbox.FormatBytes(cfg.MemoryBytes))
	}
	return nil
}

// fillLimits gives the server's limits where a run has none: its memory, its CPUs, and /dev/shm
// (at most half the run's own memory when it set one).
func fillLimits(cfg *Config, server sandbox.Settings) {
	given := cfg.MemoryBytes > 0
	if !given {
		cfg.MemoryBytes = server.MemoryBytes
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = server.CPUs
	}
	if cfg.ShmBytes == 0 && server.ShmBytes > 0 {
		cfg.ShmBytes = server.ShmBytes
		if given {
			cfg.ShmBytes = min(server.ShmBytes, cfg.MemoryBytes/2)
		}
	}
}

// fitLimits lowers a stored run's limits to what this server allows, for a run resumed by a
// server started with smaller limits (or another backend) than the one that started it: the
// operator's --memory and --cpus protect the machine whoever started the run. A limit the run
// has none of (it was started on the local backend) becomes this server's. It returns a note
// for each limit it changed; limits within the server's stay as the run asked.
func (e *Engine) fitLimits(cfg *Config) []string {
	ls, ok := e.sandbox.(limitSettings)
	if !ok {
		return nil
	}
	server := ls.Settings()
	was := *cfg
	if server.MemoryBytes > 0 {
		cfg.MemoryBytes = min(cfg.MemoryBytes, server.MemoryBytes)
	}
	switch {
	case server.ShmBytes == 0: // a backend without /dev/shm limits
		cfg.ShmBytes = 0
	case cfg.MemoryBytes > 0: // /dev/shm counts against memory, as at start
		cfg.ShmBytes = min(cfg.ShmBytes, cfg.MemoryBytes)
	}
	cfg.CPUs = min(cfg.CPUs, server.CPUs)
	fillLimits(cfg, server)

	var notes []string
	note := func(what, lowered, filled string, was, now float64, format func(float64) string) {
		switch {
		case was == now:
		case was == 0:
			notes = append(notes, fmt.Sprintf("%s %s (%s; the run had no limit)", what, format(now), filled))
		case now == 0:
			notes = append(notes, fmt.Sprintf("%s %s dropped (this server's sandbox sets none)", what, format(was)))
		default:
			notes = append(notes, fmt.Sprintf("%s %s lowered to %s (%s)", what, format(was), format(now), lowered))
		}
	}
	size := func(n float64) string { return sandbox.FormatBytes(int64(n)) }
	count := func(n float64) string { return strconv.FormatFloat(n, 'g', -1, 64) }
	note("memory", "this server's --memory", "this server's --memory", float64(was.MemoryBytes), float64(cfg.MemoryBytes), size)
	note("shm_size", "memory, which /dev/shm counts against", "this server's --shm-size", float64(was.ShmBytes), float64(cfg.ShmBytes), size)
	note("cpus", "this server's --cpus", "this server's --cpus", was.CPUs, cfg.CPUs, count)
	return notes
}

// limitsFile keeps, in a run's folder, the limits it executes under where a resuming server
// lowered the stored ones (fitLimits). The store keeps the configuration the run asked for;
// get_run shows these in its place, with the notes saying what was lowered and why.
const limitsFile = "limits.json"

// fittedLimits is what limitsFile holds.
type fittedLimits struct {
	MemoryBytes int64    `json:"memory_bytes,omitempty"`
	ShmBytes    int64    `json:"shm_bytes,omitempty"`
	CPUs        float64  `json:"cpus,omitempty"`
	Notes       []string `json:"notes"`
}

// recordLimits writes the limits a run executes under now into its folder where fitLimits
// changed them (notes), and removes an earlier server's record where it did not.
func recordLimits(dir string, cfg Config, notes []string) error {
	path := filepath.Join(dir, limitsFile)
	if len(notes) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", limitsFile, err)
		}
		return nil
	}
	raw, err := json.Marshal(fittedLimits{MemoryBytes: cfg.MemoryBytes, ShmBytes: cfg.ShmBytes, CPUs: cfg.CPUs, Notes: notes})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

// readLimits is the run's fitted limits, nil where no server lowered its stored ones.
func readLimits(dir string) *fittedLimits {
	raw, err := os.ReadFile(filepath.Join(dir, limitsFile))
	if err != nil {
		return nil
	}
	var l fittedLimits
	if json.Unmarshal(raw, &l) != nil || len(l.Notes) == 0 {
		return nil
	}
	return &l
}

// ParseSize reads a size argument such as 512m, 8g or 8GiB (powers of 1024, as the docker CLI
// and the server's --memory read them); "" is 0. A bad size is the caller's to fix, and the
// error names arg.
func ParseSize(arg, s string) (int64, error) {
	n, err := sandbox.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, arg, err.Error())
	}
	return n, nil
}
