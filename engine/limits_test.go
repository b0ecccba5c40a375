package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gome-agent/gome/sandbox"
)

// limitedSandbox is the fake sandbox of a server whose executions get limits, as Docker's do.
type limitedSandbox struct {
	fakeSandbox
	settings sandbox.Settings
}

func (l *limitedSandbox) Settings() sandbox.Settings { return l.settings }

// server is a Docker-like server: 8 GiB and 4 CPUs per execution, /dev/shm 4 GiB.
var server = sandbox.Settings{MemoryBytes: 8 << 30, ShmBytes: 4 << 30, CPUs: 4}

func newLimitedEngine(t *testing.T, s sandbox.Settings) (*Engine, *limitedSandbox) {
	t.Helper()
	e, store, _ := newFakeEngine(t, nil)
	sb := &limitedSandbox{settings: s}
	limited, err := New(store, &scripted{replies: map[string][]any{
		"draft": {Draft{Plan: "baseline", Code: fakeSolution(0.6)}},
	}}, sb, e.home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(limited.Close)
	return limited, sb
}

// TestRunLimitsReachEveryExecution: a run's memory, shm_size and cpus are recorded with its
// configuration and given to each of its executions; what it leaves out is the server's.
func TestRunLimitsReachEveryExecution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mem, shm int64
		cpus     float64
		wantMem  int64
		wantShm  int64
		wantCPUs float64
	}{
		{"all given", 2 << 30, 512 << 20, 1.5, 2 << 30, 512 << 20, 1.5},
		{"none given: the server's", 0, 0, 0, server.MemoryBytes, server.ShmBytes, server.CPUs},
		{"memory alone: shm at most half of it", 2 << 30, 0, 0, 2 << 30, 1 << 30, server.CPUs},
		{"the server's maxima", server.MemoryBytes, server.MemoryBytes, server.CPUs, server.MemoryBytes, server.MemoryBytes, server.CPUs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, sb := newLimitedEngine(t, server)
			rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 1, NoDebug: true, MemoryBytes: tt.mem, ShmBytes: tt.shm, CPUs: tt.cpus})
			if err != nil {
				t.Fatal(err)
			}
			v, err := e.ViewRun(context.Background(), rep.RunID, Page{})
			if err != nil {
				t.Fatal(err)
			}
			if c := v.Config; c.MemoryBytes != tt.wantMem || c.ShmBytes != tt.wantShm || c.CPUs != tt.wantCPUs {
				t.Errorf("recorded memory %d, shm %d, cpus %g; want %d, %d, %g", c.MemoryBytes, c.ShmBytes, c.CPUs, tt.wantMem, tt.wantShm, tt.wantCPUs)
			}
			sb.mu.Lock()
			defer sb.mu.Unlock()
			if len(sb.jobs) == 0 {
				t.Fatal("no execution")
			}
			for _, j := range sb.jobs {
				if j.MemoryBytes != tt.wantMem || j.ShmBytes != tt.wantShm || j.CPUs != tt.wantCPUs {
					t.Errorf("execution got memory %d, shm %d, cpus %g; want %d, %d, %g", j.MemoryBytes, j.ShmBytes, j.CPUs, tt.wantMem, tt.wantShm, tt.wantCPUs)
				}
			}
		})
	}
}

// TestRunLimitsRefused: limits beyond what the server allows, or that its backend cannot set,
// are the caller's to fix, and the error names the argument and the range.
func TestRunLimitsRefused(t *testing.T) {
	t.Parallel()
	local := sandbox.Settings{} // the local backend: no memory limit by default, no CPU or shm limits
	tests := []struct {
		name     string
		settings sandbox.Settings
		cfg      Config
		says     []string
	}{
		{"memory above the server's", server, Config{MemoryBytes: 16 << 30}, []string{"memory 16 GiB", "64 MiB to 8 GiB", "--memory"}},
		{"memory too small", server, Config{MemoryBytes: 1 << 20}, []string{"memory", "at least 64 MiB"}},
		{"negative memory", server, Config{MemoryBytes: -1}, []string{"memory", "8g"}},
		{"cpus above the server's", server, Config{CPUs: 6}, []string{"cpus 6", "0.01 to 4", "--cpus"}},
		{"negative cpus", server, Config{CPUs: -1}, []string{"cpus", "at least 0.01"}},
		{"shm above memory", server, Config{MemoryBytes: 1 << 30, ShmBytes: 2 << 30}, []string{"shm_size 2 GiB", "memory 1 GiB"}},
		{"shm above the server's memory", server, Config{ShmBytes: 9 << 30}, []string{"shm_size 9 GiB", "memory 8 GiB"}},
		{"cpus on the local backend", local, Config{CPUs: 1}, []string{"cpus", "does not limit CPUs", "--sandbox docker"}},
		{"shm on the local backend", local, Config{ShmBytes: 1 << 30}, []string{"shm_size", "--sandbox docker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, sb := newLimitedEngine(t, tt.settings)
			cfg := tt.cfg
			cfg.TaskDir, cfg.MaxSteps = breastCancer, 1
			_, err := e.Start(context.Background(), cfg)
			if !errors.Is(err, ErrCaller) {
				t.Fatalf("err = %v, want a caller error", err)
			}
			for _, w := range tt.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if len(sb.jobs) != 0 {
				t.Errorf("%d executions for a refused run", len(sb.jobs))
			}
		})
	}
}

// TestResumedRunFitsTheServer: a run resumed by a server with smaller limits (or a backend
// without them) than the one that started it gets this server's limits, not more, and its
// run_started event and get_run say which were lowered, and get_run's config shows what it
// executed under; limits already within the server's stay.
func TestResumedRunFitsTheServer(t *testing.T) {
	t.Parallel()
	small := sandbox.Settings{MemoryBytes: 2 << 30, ShmBytes: 1 << 30, CPUs: 1}
	tests := []struct {
		name     string
		then     sandbox.Settings // the server that started the run
		asked    Config
		now      sandbox.Settings
		wantMem  int64
		wantShm  int64
		wantCPUs float64
		says     []string
	}{
		{"over a smaller server", server, Config{MemoryBytes: 8 << 30, ShmBytes: 4 << 30, CPUs: 4}, small, 2 << 30, 2 << 30, 1,
			[]string{"memory 8 GiB lowered to 2 GiB (this server's --memory)", "shm_size 4 GiB lowered to 2 GiB", "cpus 4 lowered to 1"}},
		{"within a smaller server", server, Config{MemoryBytes: 1 << 30, ShmBytes: 256 << 20, CPUs: 0.5}, small, 1 << 30, 256 << 20, 0.5, nil},
		{"on the local backend", server, Config{MemoryBytes: 4 << 30, ShmBytes: 1 << 30, CPUs: 2}, sandbox.Settings{}, 4 << 30, 0, 0,
			[]string{"shm_size 1 GiB dropped", "cpus 2 dropped"}},
		{"from the local backend to Docker", sandbox.Settings{}, Config{}, small, 2 << 30, 1 << 30, 1,
			[]string{"memory 2 GiB (this server's --memory; the run had no limit)", "shm_size 1 GiB", "cpus 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			first, _ := newLimitedEngine(t, tt.then)
			cfg := tt.asked
			cfg.TaskDir, cfg.MaxSteps, cfg.NoDebug = breastCancer, 1, true
			run, err := first.create(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			sb := &limitedSandbox{settings: tt.now}
			second, err := New(first.store, first.model, sb, first.home)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(second.Close)
			if _, err := second.execute(context.Background(), run.ID); err != nil {
				t.Fatal(err)
			}
			sb.mu.Lock()
			jobs := sb.jobs
			sb.mu.Unlock()
			if len(jobs) == 0 {
				t.Fatal("no execution")
			}
			for _, j := range jobs {
				if j.MemoryBytes != tt.wantMem || j.ShmBytes != tt.wantShm || j.CPUs != tt.wantCPUs {
					t.Errorf("execution got memory %d, shm %d, cpus %g; want %d, %d, %g", j.MemoryBytes, j.ShmBytes, j.CPUs, tt.wantMem, tt.wantShm, tt.wantCPUs)
				}
			}
			events, err := first.store.ListEvents(context.Background(), run.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var began string
			for _, ev := range events {
				if ev.Kind == string(EventRunStarted) {
					began = ev.Message
				}
			}
			for _, w := range tt.says {
				if !strings.Contains(began, w) {
					t.Errorf("run_started %q does not say %q", began, w)
				}
			}
			if tt.says == nil && strings.Contains(began, "limits") {
				t.Errorf("run_started %q speaks of limits that were within the server's", began)
			}
			// get_run shows the limits the run executed under, and says what was lowered.
			v, err := second.ViewRun(context.Background(), run.ID, Page{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Config.MemoryBytes != tt.wantMem || v.Config.ShmBytes != tt.wantShm || v.Config.CPUs != tt.wantCPUs {
				t.Errorf("get_run config: memory %d, shm %d, cpus %g; want %d, %d, %g", v.Config.MemoryBytes, v.Config.ShmBytes, v.Config.CPUs, tt.wantMem, tt.wantShm, tt.wantCPUs)
			}
			notes := strings.Join(v.LimitNotes, "; ")
			for _, w := range tt.says {
				if !strings.Contains(notes, w) {
					t.Errorf("get_run limit_notes %q do not say %q", notes, w)
				}
			}
			if tt.says == nil && len(v.LimitNotes) > 0 {
				t.Errorf("get_run limit_notes %q for limits within the server's", notes)
			}
		})
	}
}

// TestParseSize: sizes read as the server's --memory reads them; a bad one names its argument.
func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"": 0, "512m": 512 << 20, "8g": 8 << 30, "8GiB": 8 << 30, "1.5g": 3 << 29} {
		if got, err := ParseSize("memory", in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	_, err := ParseSize("shm_size", "lots")
	if !errors.Is(err, ErrCaller) || !strings.Contains(err.Error(), "shm_size") || !strings.Contains(err.Error(), "8g") {
		t.Errorf("ParseSize(lots) error %v: want a caller error naming shm_size and an example", err)
	}
}
