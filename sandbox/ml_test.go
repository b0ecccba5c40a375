package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// imageModules returns the Python modules the test image says it offers (LabelModules), skipping
// the test when the image predates the label, and a function saying why the image lacks a module.
func imageModules(t *testing.T, d *Docker) ([]string, func(module string) string) {
	t.Helper()
	inspected, err := d.cli.ImageInspect(t.Context(), d.image)
	if err != nil {
		t.Fatalf("inspecting %s: %v", d.image, err)
	}
	var labels map[string]string
	if inspected.Config != nil {
		labels = inspected.Config.Labels
	}
	mods, ok := labels[LabelModules]
	if !ok {
		t.Skipf("image %s has no %s label: it was built before images listed their modules; rebuild it with `gome-mcp sandbox build --slim`", d.image, LabelModules)
	}
	variant, suite := labels[LabelImage], labels[LabelSuite]
	why := func(module string) string {
		for _, p := range MLPackages() {
			switch {
			case p.Module != module:
			case variant == "slim" && !p.Slim:
				return fmt.Sprintf("the slim image %s leaves out %s (%s)", d.image, module, p.Debian)
			case p.Suites != nil && !slices.Contains(p.Suites, suite):
				return fmt.Sprintf("Debian %s has no %s, so image %s lacks %s", suite, p.Debian, d.image, module)
			}
		}
		return fmt.Sprintf("image %s (%s) does not offer %s", d.image, variant, module)
	}
	return strings.Split(mods, ","), why
}

func TestDockerImageImportsItsPackages(t *testing.T) {
	d := newTestDocker(t)
	offered, why := imageModules(t, d)
	for _, p := range MLPackages() {
		t.Run(p.Module, func(t *testing.T) {
			if !slices.Contains(offered, p.Module) {
				t.Skip(why(p.Module))
			}
			t.Parallel()
			labels := testLabels(t)
			res, err := d.Run(t.Context(), Job{Workspace: t.TempDir(), Labels: labels, Timeout: 3 * time.Minute,
				Command: []string{Python, "-c", "import " + p.Module + "; print(getattr(" + p.Module + ", '__version__', 'no version'))"}})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != 0 {
				t.Fatalf("import %s failed (exit %d): %s", p.Module, res.ExitCode, res.Stderr)
			}
			t.Logf("%s %s", p.Module, strings.TrimSpace(res.Stdout))
		})
	}
}

// writePNG writes a 3×2 image whose top-left pixel is red and the rest blue.
func writePNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for y := range 2 {
		for x := range 3 {
			img.Set(x, y, color.RGBA{B: 255, A: 255})
		}
	}
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDockerSolutionReadsPNG(t *testing.T) {
	d := newTestDocker(t)
	offered, why := imageModules(t, d)
	data := readableDataDir(t, nil)
	writePNG(t, filepath.Join(data, "img.png"))
	tests := []struct {
		module, program, want string
	}{
		{"PIL", `
import os
from PIL import Image
im = Image.open(os.path.join(os.environ["GOME_DATA_DIR"], "img.png")).convert("RGB")
print(im.size, im.getpixel((0, 0)), im.getpixel((2, 1)))
`, "(3, 2) (255, 0, 0) (0, 0, 255)\n"},
		{"cv2", `
import os, cv2
im = cv2.imread(os.path.join(os.environ["GOME_DATA_DIR"], "img.png"))  # BGR, rows first
print(im.shape, im[0, 0].tolist(), im[1, 2].tolist())
`, "(2, 3, 3) [0, 0, 255] [255, 0, 0]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.module, func(t *testing.T) {
			if !slices.Contains(offered, tt.module) {
				t.Skip(why(tt.module) + " (OpenCV's libraries would add about 1 GB to the slim image)")
			}
			labels := testLabels(t)
			res, err := d.Run(t.Context(), Job{Workspace: t.TempDir(), DataDir: data, Labels: labels, Timeout: 2 * time.Minute,
				Command: []string{Python, "-c", tt.program}})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != 0 || res.Stdout != tt.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", res.ExitCode, res.Stdout, res.Stderr, tt.want)
			}
		})
	}
}

func TestDockerMemoryLimitFitsTheJob(t *testing.T) {
	d := newTestDocker(t)
	if total := d.Settings().MemoryBytes; total < 8<<30 {
		t.Skipf("a 6 GB allocation needs a machine that gives jobs 8 GiB; this one gives %s", FormatBytes(total))
	}
	// Six gigabytes really touched (bytes of 1, not lazily zeroed pages).
	const program = "x = b'\\x01' * (6 * 10**9)\nprint(len(x))"
	tests := []struct {
		name     string
		memory   string
		wantOOM  bool
		wantExit int
	}{
		{name: "fits in 8g", memory: "8g", wantExit: 0},
		{name: "killed in 2g", memory: "2g", wantOOM: true, wantExit: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem, err := ParseBytes(tt.memory)
			if err != nil {
				t.Fatal(err)
			}
			labels := testLabels(t)
			// Touching 6 GB page by page takes seconds on a quiet machine and over a minute on a
			// loaded VM; the timeout only guards against a hang.
			res, err := d.Run(t.Context(), Job{Workspace: t.TempDir(), MemoryBytes: mem, Labels: labels, Timeout: 8 * time.Minute,
				Command: []string{Python, "-c", program}})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.OOMKilled != tt.wantOOM || res.ExitCode != tt.wantExit || res.TimedOut {
				t.Errorf("OOMKilled %v, exit %d, timed out %v after %v (stdout %q, stderr %q); want OOMKilled %v, exit %d",
					res.OOMKilled, res.ExitCode, res.TimedOut, res.Duration, res.Stdout, res.Stderr, tt.wantOOM, tt.wantExit)
			}
			if !tt.wantOOM && res.Stdout != "6000000000\n" {
				t.Errorf("stdout %q, want the 6 GB allocation's length", res.Stdout)
			}
			assertNoContainerLeft(t, d, labels)
		})
	}
}

// weightsProgram checks, inside a job, that the weights cache is where the variables say, that
// its files can be read, and that nothing can be written there; it prints "ok" or what is wrong.
const weightsProgram = `
import errno, os
want = os.environ["WANT_CACHE"]
env = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "HF_HOME", "TORCH_HOME")}
exp = {"XDG_CACHE_HOME": want, "HF_HOME": want + "/huggingface", "TORCH_HOME": want + "/torch"}
if env != exp:
    print("variables", env, "want", exp)
elif open(os.path.join(os.environ["TORCH_HOME"], "hub", "checkpoints", "tiny.pth")).read() != "weights":
    print("cannot read the cached weights")
else:
    for path in (os.path.join(os.environ["HF_HOME"], "new"), os.path.join(os.environ["TORCH_HOME"], "hub", "checkpoints", "tiny.pth")):
        try:
            open(path, "a").write("x")
            print("wrote", path)
            break
        except OSError as e:
            if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                print("unexpected", e)
                break
    else:
        print("ok")
`

// weightsCache returns a weights cache folder holding torch/hub/checkpoints/tiny.pth, readable
// by the sandbox user.
func weightsCache(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "torch", "hub", "checkpoints")
	if err := os.MkdirAll(ckpt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "huggingface"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ckpt, "tiny.pth"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWeightsCacheIsReadOnly(t *testing.T) {
	cache := weightsCache(t)
	t.Run("docker", func(t *testing.T) {
		d := newTestDocker(t, WithDockerSettings(Settings{WeightsCache: cache}))
		labels := testLabels(t)
		res, err := d.Run(t.Context(), Job{Workspace: t.TempDir(), Labels: labels, Timeout: time.Minute,
			Env: map[string]string{"WANT_CACHE": "/weights"}, Command: []string{Python, "-c", weightsProgram}})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.ExitCode != 0 || res.Stdout != "ok\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want ok", res.ExitCode, res.Stdout, res.Stderr)
		}
	})
	t.Run("local", func(t *testing.T) {
		if os.Geteuid() != 0 {
			// Only root can mount; any other server relies on the folder's permissions.
			if err := os.Chmod(filepath.Join(cache, "huggingface"), 0o555); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(cache, "torch", "hub", "checkpoints", "tiny.pth"), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		l := newTestLocal(t, WithLocalSettings(Settings{WeightsCache: cache}))
		res, err := l.Run(t.Context(), Job{Workspace: t.TempDir(), Timeout: time.Minute,
			Env: map[string]string{"WANT_CACHE": cache}, Command: []string{Python, "-c", weightsProgram}})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.ExitCode != 0 || res.Stdout != "ok\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want ok", res.ExitCode, res.Stdout, res.Stderr)
		}
		if data, err := os.ReadFile(filepath.Join(cache, "torch", "hub", "checkpoints", "tiny.pth")); err != nil || string(data) != "weights" {
			t.Errorf("the cached file now holds %q, %v", data, err)
		}
	})
}

// networkProgram prints "offline" when the job has no way out (connecting fails at once with
// ENETUNREACH and only the loopback interface exists), else "online".
const networkProgram = `
import errno, socket
ifaces = [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]]
try:
    socket.create_connection(("192.0.2.1", 9), timeout=2)  # TEST-NET-1: never answers
    reached = True
except OSError as e:
    reached = e.errno != errno.ENETUNREACH
print("online" if reached or ifaces != ["lo"] else "offline", ifaces)
`

// loopbackProgram fails unless the job can talk to itself over 127.0.0.1, as local clusters do.
const loopbackProgram = `
import socket
srv = socket.create_server(("127.0.0.1", 0))
socket.create_connection(srv.getsockname(), timeout=5).sendall(b"hi")
assert srv.accept()[0].recv(2) == b"hi"
`

func TestNetworkOnlyWithTheFlag(t *testing.T) {
	for _, network := range []bool{false, true} {
		want := "offline"
		if network {
			want = "online"
		}
		t.Run("docker network="+strconv.FormatBool(network), func(t *testing.T) {
			d := newTestDocker(t, WithDockerSettings(Settings{Network: network}))
			labels := testLabels(t)
			res, err := d.Run(t.Context(), Job{Workspace: t.TempDir(), Labels: labels, Timeout: time.Minute, Command: []string{Python, "-c", networkProgram}})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !strings.HasPrefix(res.Stdout, want) {
				t.Errorf("stdout %q, stderr %q; want %s", res.Stdout, res.Stderr, want)
			}
		})
		t.Run("local network="+strconv.FormatBool(network), func(t *testing.T) {
			l := newTestLocal(t, WithLocalSettings(Settings{Network: network}))
			if !l.isolate.network {
				t.Skipf("this machine allows no network namespace for the local backend: %s", l.isolate.reason)
			}
			program := networkProgram
			if l.isolate.ip != "" {
				program = loopbackProgram + program
			}
			res, err := l.Run(t.Context(), Job{Workspace: t.TempDir(), Timeout: time.Minute, Command: []string{Python, "-c", program}})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !strings.HasPrefix(res.Stdout, want) {
				t.Errorf("stdout %q, stderr %q; want %s", res.Stdout, res.Stderr, want)
			}
		})
	}
}

// versionsProgram prints, as JSON, the version each importable module of GOME_PROBE_MODULES
// reports itself: the yardstick for the probe.
const versionsProgram = `
import importlib, json, os
out = {}
for m in os.environ["GOME_PROBE_MODULES"].split(","):
    try:
        out[m] = str(importlib.import_module(m).__version__)
    except Exception:
        pass
print(json.dumps(out))
`

// probeYardstick runs nproc and versionsProgram through r and returns what they report.
func probeYardstick(t *testing.T, r runner) (nproc float64, versions map[string]string) {
	t.Helper()
	ws := t.TempDir()
	if err := os.Chmod(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(t.Context(), Job{Workspace: ws, Timeout: time.Minute, Command: []string{"nproc"}})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("nproc: %v, exit %d, %s", err, res.ExitCode, res.Stderr)
	}
	if nproc, err = strconv.ParseFloat(strings.TrimSpace(res.Stdout), 64); err != nil {
		t.Fatalf("nproc printed %q", res.Stdout)
	}
	var modules []string
	for _, p := range MLPackages() {
		modules = append(modules, p.Module)
	}
	res, err = r.Run(t.Context(), Job{Workspace: ws, Timeout: 3 * time.Minute, Command: []string{Python, "-c", versionsProgram},
		Env: map[string]string{"GOME_PROBE_MODULES": strings.Join(modules, ",")}})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("versions: %v, exit %d, %s", err, res.ExitCode, res.Stderr)
	}
	if err := json.Unmarshal([]byte(res.Stdout), &versions); err != nil {
		t.Fatalf("versions printed %q: %v", res.Stdout, err)
	}
	return nproc, versions
}

// checkProbe compares a probed environment with the yardstick and the limits a job has.
func checkProbe(t *testing.T, env Environment, nproc float64, versions map[string]string, wantCPUs float64, wantMemory int64, wantNetwork bool) {
	t.Helper()
	t.Logf("probe:\n%s", env.Prompt())
	if env.CPUs != wantCPUs {
		t.Errorf("CPUs = %g, want %g (nproc says %g)", env.CPUs, wantCPUs, nproc)
	}
	if env.MemoryBytes != wantMemory {
		t.Errorf("MemoryBytes = %d (%s), want %d (%s)", env.MemoryBytes, FormatBytes(env.MemoryBytes), wantMemory, FormatBytes(wantMemory))
	}
	for m, v := range versions {
		if env.Packages[m] != v {
			t.Errorf("probe says %s %q, Python itself %q", m, env.Packages[m], v)
		}
	}
	for m := range env.Packages {
		if _, ok := versions[m]; !ok && env.Packages[m] != "?" {
			t.Errorf("probe reports %s %s, which Python itself cannot import", m, env.Packages[m])
		}
	}
	if _, ok := env.Packages["numpy"]; !ok {
		t.Errorf("probe found no numpy: %v", env.Packages)
	}
	if env.Python == "" || env.DiskFreeBytes <= 0 || env.Network != wantNetwork || len(env.GPUs) != 0 {
		t.Errorf("Python %q, DiskFreeBytes %d, Network %v, GPUs %v; want a version, free disk, network %v, no GPU here", env.Python, env.DiskFreeBytes, env.Network, env.GPUs, wantNetwork)
	}
	network := "Network: off"
	if wantNetwork {
		network = "Network: on"
	}
	if !strings.Contains(env.Prompt(), network) || !strings.Contains(env.Prompt(), "GPUs: none; run on the CPU") {
		t.Errorf("Prompt does not state %q and no GPU:\n%s", network, env.Prompt())
	}
}

func TestProbeMatchesWhatPythonSees(t *testing.T) {
	if testing.Short() {
		t.Skip("the probe imports every ML package in a real job; skipped under -short")
	}
	t.Run("local", func(t *testing.T) {
		l := newTestLocal(t)
		if !l.isolate.network {
			t.Skipf("the probe would see the network: %s", l.isolate.reason)
		}
		nproc, versions := probeYardstick(t, l)
		out, err := exec.Command("nproc").Output()
		if err != nil {
			t.Fatal(err)
		}
		if host, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); host != nproc {
			t.Fatalf("nproc is %g on the host, %g in a job", host, nproc)
		}
		env, err := l.Environment(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		checkProbe(t, env, nproc, versions, nproc, hostMemory(), false)
		// Probed once: the second answer comes from the cache even when the context has ended.
		ctx, cancel := contextCancelled(t)
		defer cancel()
		again, err := l.Environment(ctx)
		if err != nil || again.Python != env.Python {
			t.Errorf("second Environment = %+v, %v; want the cached answer", again, err)
		}
	})
	t.Run("slurm", func(t *testing.T) {
		s := newTestSlurm(t)
		nproc, versions := probeYardstick(t, s)
		env, err := s.Environment(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if env.Backend != BackendSlurm {
			t.Errorf("Backend = %q, want %q", env.Backend, BackendSlurm)
		}
		// A Slurm job asks for SlurmDefaultMemoryBytes, which the cluster enforces; Slurm does
		// not cut jobs off the network.
		checkProbe(t, env, nproc, versions, nproc, min(hostMemory(), SlurmDefaultMemoryBytes), true)
	})
	t.Run("docker defaults", func(t *testing.T) {
		d := newTestDocker(t)
		nproc, versions := probeYardstick(t, d)
		env, err := d.Environment(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		checkProbe(t, env, nproc, versions, nproc, d.Settings().MemoryBytes, false)
		if env.ShmBytes != d.Settings().ShmBytes {
			t.Errorf("ShmBytes = %d, want %d", env.ShmBytes, d.Settings().ShmBytes)
		}
	})
	t.Run("docker limits", func(t *testing.T) {
		d := newTestDocker(t, WithDockerSettings(Settings{MemoryBytes: 3 << 30, ShmBytes: 1 << 30, CPUs: 1.5}))
		nproc, versions := probeYardstick(t, d)
		env, err := d.Environment(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		checkProbe(t, env, nproc, versions, 1.5, 3<<30, false)
		if env.ShmBytes != 1<<30 {
			t.Errorf("ShmBytes = %d, want 1 GiB", env.ShmBytes)
		}
	})
}

// contextCancelled returns a context that has already ended.
func contextCancelled(t *testing.T) (ctx context.Context, cancel func()) {
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	return ctx, cancel
}
