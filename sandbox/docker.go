package sandbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// DefaultPidsLimit caps the processes and threads of a Docker job with a few CPUs: enough for
// data loaders and BLAS threads, not for a fork bomb. A job with more CPUs gets 64 per CPU, since
// thread pools grow with the CPUs. Memory and CPU defaults come from the machine (see Settings).
const DefaultPidsLimit = 512

// pidsLimit is the process limit of a job with cpus CPUs.
func pidsLimit(cpus float64) int64 {
	return max(DefaultPidsLimit, int64(64*math.Ceil(cpus)))
}

// Paths inside the container.
const (
	containerWorkspace = "/workspace"
	containerData      = "/data"
)

// cleanupTimeout bounds the Docker calls that kill and remove a container after its job. They
// run on a fresh context, so a cancelled job still gets its container removed.
const cleanupTimeout = 30 * time.Second

// Errors from the Docker backend, checked with errors.Is.
var (
	// ErrDockerUnavailable reports that the Docker daemon does not answer.
	ErrDockerUnavailable = errors.New("sandbox: docker is not available")
	// ErrImageNotFound reports that the sandbox image has not been built on this machine.
	ErrImageNotFound = errors.New("sandbox: sandbox image not found")
)

// Docker runs each job in a fresh container of the sandbox image: no network unless the job or
// the server's Settings ask for it, memory (without swap), shared-memory, CPU and pids limits, a
// read-only root filesystem, all capabilities dropped, a non-root user, the workspace
// bind-mounted read-write at /workspace, the data read-only at /data, the weights cache read-only
// at /weights, scratch space (/tmp) on disk in a folder of the workspace that goes with the job,
// and GPUs only as leased. The container is removed after every job, whatever happened to it.
// Safe for concurrent use.
type Docker struct {
	cli      *client.Client
	image    string
	imageID  string
	path     string // the image's PATH (a CUDA image keeps Python in /opt/conda/bin)
	logger   *slog.Logger
	gpus     *GPUAllocator
	settings Settings
	uid      int // the server's uid; decides the container user (see containerUser)
	gid      int
	owner    string // LabelOwner of this process's containers
	probe    probeCache
}

// DockerOption configures optional parts of a Docker backend.
type DockerOption func(*Docker)

// WithDockerGPUs makes Docker lease whole GPUs from alloc for jobs that ask for them and pass
// exactly the leased devices to the container.
func WithDockerGPUs(alloc *GPUAllocator) DockerOption {
	return func(d *Docker) { d.gpus = alloc }
}

// WithDockerSettings sets the limits jobs get by default, the weights cache and the network
// (see Settings); zero limits are filled from the Docker host's memory and CPUs.
func WithDockerSettings(s Settings) DockerOption {
	return func(d *Docker) { d.settings = s }
}

// NewDocker connects to the Docker daemon named by the environment (DOCKER_HOST, default the
// local socket), negotiating the API version down to what the daemon speaks (1.41 for Docker
// 20.10), and checks that image exists; "" means DefaultImage. A nil logger discards logs. Close
// the backend when done.
func NewDocker(ctx context.Context, image string, logger *slog.Logger, opts ...DockerOption) (*Docker, error) {
	if image == "" {
		image = DefaultImage
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cli, err := newDockerClient(ctx)
	if err != nil {
		return nil, err
	}
	inspected, err := cli.ImageInspect(ctx, image)
	if err != nil {
		_ = cli.Close()
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %s is not on this machine; build it with `gome-mcp sandbox build` (no registry is used), or name another with --image", ErrImageNotFound, image)
		}
		return nil, fmt.Errorf("%w: inspecting image %s: %w; check that `docker info` answers, or use the local backend (--sandbox local)", ErrDockerUnavailable, image, err)
	}
	d := &Docker{cli: cli, image: image, imageID: inspected.ID, path: systemPath, logger: logger, uid: os.Geteuid(), gid: os.Getegid(), owner: ownerID()}
	if cfg := inspected.Config; cfg != nil {
		for _, kv := range cfg.Env {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok && v != "" {
				d.path = v
			}
		}
	}
	for _, opt := range opts {
		opt(d)
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("%w: asking the daemon for its memory and CPUs: %w; check that `docker info` answers, or use the local backend (--sandbox local)", ErrDockerUnavailable, err)
	}
	if d.settings, err = MachineSettings(d.settings, info.Info.MemTotal, info.Info.NCPU); err != nil {
		_ = cli.Close()
		return nil, err
	}
	return d, nil
}

// Settings returns the backend's settings with the machine's defaults filled in.
func (d *Docker) Settings() Settings { return d.settings }

// newDockerClient connects to the daemon and settles the API version, so that a daemon which is
// down is reported here, once, with a hint, rather than at the first job.
func newDockerClient(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w; check DOCKER_HOST", ErrDockerUnavailable, err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("%w: the daemon at %s does not answer (%w); start Docker (systemctl start docker), check DOCKER_HOST and your access to the socket, or use the local backend (--sandbox local)", ErrDockerUnavailable, cli.DaemonHost(), err)
	}
	return cli, nil
}

// Close releases the connection to the daemon.
func (d *Docker) Close() error { return d.cli.Close() }

// Image returns the image jobs run in.
func (d *Docker) Image() string { return d.image }

// Run executes job in a fresh container and removes the container afterwards. Programs that fail,
// time out or run out of memory give a normal Result; when ctx ends first, the container is killed
// and removed and Run returns the partial Result with an error wrapping ctx.Err().
//
// Exit codes are the container's: a process killed by a signal inside the container shows as
// 128+signal, as in a shell. Jobs Gome kills (timeout, context) and OOM kills report -1.
// PeakMemoryBytes is the container's memory high-water mark as sampled by Docker about once a
// second; a job that ends sooner may report 0.
func (d *Docker) Run(ctx context.Context, job Job) (Result, error) {
	res := Result{Backend: BackendDocker, ExitCode: -1}
	c, err := job.check()
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("sandbox: job not started: %w", err)
	}
	if c.GPUs > 0 && d.gpus == nil {
		return res, noGPUError(c.GPUs)
	}
	scratch, err := newScratch(c.workspace)
	if err != nil {
		return res, err
	}
	defer scratch.remove(d.logger)
	user, err := d.prepareMounts(c)
	if err != nil {
		return res, err
	}
	c.Labels = maps.Clone(c.Labels)
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.Labels[LabelOwner] = d.owner
	var devices []string
	if c.GPUs > 0 {
		lease, err := d.gpus.Acquire(ctx, c.GPUs)
		if err != nil {
			return res, err
		}
		defer lease.Release()
		devices = lease.Devices()
	}

	cfg, host := containerSpec(c, runSpec{image: d.image, user: user, path: d.path, gpus: devices, scratch: scratch.dir, settings: d.settings})
	id, logger, err := d.create(ctx, cfg, host)
	if err != nil {
		return res, err
	}
	// From here on the container exists and must go, also when ctx was cancelled.
	defer d.remove(ctx, id, logger)
	return d.execute(ctx, c, id, cfg.Cmd[0], devices, logger)
}

// create creates the job's container and returns its id and a logger that names it.
func (d *Docker) create(ctx context.Context, cfg *container.Config, host *container.HostConfig) (string, *slog.Logger, error) {
	created, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: host})
	if err != nil {
		if errdefs.IsNotFound(err) {
			return "", nil, fmt.Errorf("%w: %s: %w; build it with `gome-mcp sandbox build`", ErrImageNotFound, d.image, err)
		}
		return "", nil, fmt.Errorf("%w: creating the container: %w; check --memory, --shm-size and --cpus against what this Docker host has (docker info)", ErrStart, err)
	}
	logger := d.logger.With("backend", BackendDocker, "container", shortID(created.ID))
	for _, w := range created.Warnings {
		logger.Debug("docker warning on create", "warning", w)
	}
	return created.ID, logger, nil
}

// execute runs the created container id to its end (exit, timeout, OOM kill or ctx) and reports
// what happened; program is the container's argv[0].
func (d *Docker) execute(ctx context.Context, c checkedJob, id, program string, devices []string, logger *slog.Logger) (Result, error) {
	res := Result{Backend: BackendDocker, ExitCode: -1}
	out, err := d.attach(ctx, id, c.outputLimit())
	if err != nil {
		return res, err
	}
	defer out.close()

	// Waits and kills must not die with ctx: the container is still there to be waited for.
	bg, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBG()
	wait := &exitWait{res: d.cli.ContainerWait(bg, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})}
	defer wait.abandon()

	start := time.Now()
	if err := d.start(ctx, c, id, devices); err != nil {
		return res, err
	}
	logger.Debug("sandbox job started", "command", c.Command, "workspace", c.workspace)
	var peak atomic.Int64
	go d.samplePeakMemory(bg, id, &peak)

	statusCode, ctxErr, err := d.awaitExit(ctx, bg, id, wait, c.Timeout, &res, logger)
	if err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	out.finish(ctxErr == nil, logger, &res)
	res.ExitCode = int(statusCode)
	if ctxErr != nil {
		res.ExitCode = -1
		return res, fmt.Errorf("sandbox: job killed: %w", ctxErr)
	}

	if err := d.inspectExit(bg, id, &res); err != nil {
		return res, err
	}
	res.PeakMemoryBytes = peak.Load()
	if res.ExitCode == 127 && strings.Contains(res.Stderr, "exec "+program+" failed") {
		// The container's init (tini) could not start the program: the same fault as a missing
		// executable on the Local backend, so it is reported the same way.
		return res, fmt.Errorf("%w: %q is not in image %s: %s; check Command[0] (relative paths start at /workspace)",
			ErrCommandNotFound, c.Command[0], d.image, strings.TrimSpace(res.Stderr))
	}
	logger.Debug("sandbox job finished", "exit_code", res.ExitCode, "duration", res.Duration,
		"timed_out", res.TimedOut, "oom", res.OOMKilled)
	return res, nil
}

// containerOutput is a container's attached output stream, copied into two tails.
type containerOutput struct {
	attached       client.HijackedResponse
	stdout, stderr *tailBuffer
	copied         chan struct{} // closed when the copy has stopped
}

// attach connects to the output of container id before it starts, so nothing is missed.
func (d *Docker) attach(ctx context.Context, id string, limit int) (*containerOutput, error) {
	attached, err := d.cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("%w: attaching to the container's output: %w", ErrStart, err)
	}
	out := &containerOutput{attached: attached.HijackedResponse, stdout: newTailBuffer(limit), stderr: newTailBuffer(limit), copied: make(chan struct{})}
	go func() {
		defer close(out.copied)
		// The tails absorb everything, so StdCopy only stops when the stream ends or is closed.
		_, _ = stdcopy.StdCopy(out.stdout, out.stderr, out.attached.Reader)
	}()
	return out, nil
}

// finish stops the copy and puts the tails into res. After a normal exit (drain) it first waits
// a short grace for the last bytes in flight: the stream ends when the container exits.
func (o *containerOutput) finish(drain bool, logger *slog.Logger, res *Result) {
	if drain {
		select {
		case <-o.copied:
		case <-time.After(drainTimeout):
			logger.Warn("sandbox job output did not end with the container; output may be cut short")
		}
	}
	o.attached.Close()
	<-o.copied
	res.Stdout, res.StdoutBytes = o.stdout.String(), o.stdout.Total()
	res.Stderr, res.StderrBytes = o.stderr.String(), o.stderr.Total()
}

// close closes the stream; safe after finish.
func (o *containerOutput) close() { o.attached.Close() }

// exitWait is a pending ContainerWait.
type exitWait struct {
	res    client.ContainerWaitResult
	waited bool // an answer was taken
}

// abandon lets the client's wait goroutine end when no answer was taken: it sends exactly one
// answer, on an unbuffered channel for a result, and blocks until someone takes it (the request
// itself is stopped by cancelling its context).
func (w *exitWait) abandon() {
	if w.waited {
		return
	}
	go func() {
		select {
		case <-w.res.Result:
		case <-w.res.Error:
		}
	}()
}

// start starts container id, saying what to change when Docker cannot.
func (d *Docker) start(ctx context.Context, c checkedJob, id string, devices []string) error {
	_, err := d.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	if err == nil {
		return nil
	}
	if msg := err.Error(); strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") {
		return fmt.Errorf("%w: %q in image %s: %w; check Command[0] (relative paths start at /workspace)", ErrCommandNotFound, c.Command[0], d.image, err)
	}
	hint := "check the limits (--memory, --shm-size, --cpus) and the mounts (--weights-cache)"
	if len(devices) > 0 {
		hint = "Docker could not give the container its GPU(s) " + strings.Join(devices, ",") + ": install the NVIDIA Container Toolkit (docker run --gpus all must work), or run on the CPU with gpus: 0"
	}
	return fmt.Errorf("%w: starting the container: %w; %s", ErrStart, err, hint)
}

// awaitExit waits for container id to exit, killing it when timeout (0 = none) passes (marking
// res.TimedOut) or ctx ends. It returns the exit status, or ctx's error when ctx ended first, in
// which case the container is being killed and the caller's remove finishes it off. bg carries
// the Docker calls, which must outlive ctx.
func (d *Docker) awaitExit(ctx, bg context.Context, id string, wait *exitWait, timeout time.Duration, res *Result, logger *slog.Logger) (statusCode int64, ctxErr, _ error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		deadline = timer.C
	}
	var killDeadline <-chan time.Time
	for {
		select {
		case r := <-wait.res.Result:
			wait.waited = true
			return r.StatusCode, nil, nil
		case err := <-wait.res.Error:
			wait.waited = true
			return 0, nil, fmt.Errorf("sandbox: waiting for container %s: %w", shortID(id), err)
		case <-deadline:
			deadline = nil
			res.TimedOut = true
			killDeadline = d.kill(bg, id, logger)
		case <-ctx.Done():
			if killDeadline == nil {
				d.kill(bg, id, logger)
			}
			return 0, ctx.Err(), nil
		case <-killDeadline:
			return 0, nil, fmt.Errorf("sandbox: container %s did not stop within %v of being killed", shortID(id), cleanupTimeout)
		}
	}
}

// inspectExit fills res's exit code and OOM kill from the stopped container's state.
func (d *Docker) inspectExit(bg context.Context, id string, res *Result) error {
	inspectCtx, cancel := context.WithTimeout(bg, cleanupTimeout)
	defer cancel()
	inspected, err := d.cli.ContainerInspect(inspectCtx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("sandbox: inspecting container %s after its job: %w", shortID(id), err)
	}
	if st := inspected.Container.State; st != nil {
		res.OOMKilled = st.OOMKilled
		res.ExitCode = st.ExitCode
	}
	if res.TimedOut || res.OOMKilled {
		res.ExitCode = -1
	}
	return nil
}

// kill sends SIGKILL to the container and returns when to give up waiting for it to stop.
func (d *Docker) kill(ctx context.Context, id string, logger *slog.Logger) <-chan time.Time {
	killCtx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	if _, err := d.cli.ContainerKill(killCtx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
		// Conflict: it is no longer running, which is what we want.
		logger.Warn("sandbox could not kill container", "err", err)
	}
	return time.After(cleanupTimeout)
}

// remove deletes the container on a context of its own, so cancelled jobs are cleaned up too.
func (d *Docker) remove(ctx context.Context, id string, logger *slog.Logger) {
	rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := d.cli.ContainerRemove(rmCtx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) {
		logger.Error("sandbox could not remove container; CleanupOrphans will retry at the next start", "err", err)
	}
}

// samplePeakMemory records the container's highest memory use seen in Docker's stats stream until
// ctx ends or the container stops.
func (d *Docker) samplePeakMemory(ctx context.Context, id string, peak *atomic.Int64) {
	stats, err := d.cli.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: true})
	if err != nil {
		return
	}
	defer func() { _ = stats.Body.Close() }()
	dec := json.NewDecoder(stats.Body)
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			return
		}
		// MaxUsage is the kernel's own high-water mark (cgroup v1); Usage is the current value,
		// the best there is on cgroup v2.
		seen := int64(max(s.MemoryStats.MaxUsage, s.MemoryStats.Usage))
		for cur := peak.Load(); seen > cur && !peak.CompareAndSwap(cur, seen); cur = peak.Load() {
		}
	}
}

// containerUser decides who runs the job and who must own the workspace. A root server runs jobs
// as the image's unprivileged gome user and hands it the workspace; any other server runs them as
// itself, so it can read and delete what the job writes, and nobody in the container is root.
func (d *Docker) containerUser() (user string, workspaceOwner int) {
	if d.uid == 0 {
		return strconv.Itoa(SandboxUID) + ":" + strconv.Itoa(SandboxUID), SandboxUID
	}
	return strconv.Itoa(d.uid) + ":" + strconv.Itoa(d.gid), -1
}

// prepareMounts makes the workspace writable and checks the data readable for the container user.
func (d *Docker) prepareMounts(c checkedJob) (string, error) {
	user, owner := d.containerUser()
	if owner < 0 {
		return user, nil
	}
	err := filepath.WalkDir(c.workspace, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, owner, owner)
	})
	if err != nil {
		return "", fmt.Errorf("%w: giving the workspace %s to the sandbox user (uid %d): %w", ErrStart, c.workspace, owner, err)
	}
	if c.dataDir != "" {
		info, err := os.Stat(c.dataDir)
		if err != nil {
			return "", fmt.Errorf("%w: DataDir %s: %w", ErrInvalidJob, c.dataDir, err)
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		ownedBySandbox := st != nil && int(st.Uid) == owner
		if !ownedBySandbox && info.Mode().Perm()&0o005 != 0o005 {
			return "", fmt.Errorf("%w: DataDir %s (mode %v) cannot be read by the sandbox user (uid %d); make it readable with `chmod -R o+rX %s`",
				ErrInvalidJob, c.dataDir, info.Mode().Perm(), owner, c.dataDir)
		}
	}
	return user, nil
}

// runSpec is what a job's container needs besides the job itself.
type runSpec struct {
	image    string
	user     string   // uid:gid
	path     string   // PATH in the container
	gpus     []string // leased devices
	scratch  string   // host folder mounted at /tmp; "" = none
	settings Settings // filled defaults (see MachineSettings)
}

// containerSpec builds the container for a job. It is kept free of I/O so the isolation settings
// can be checked in a unit test.
func containerSpec(c checkedJob, spec runSpec) (*container.Config, *container.HostConfig) {
	argv := slices.Clone(c.Command)
	if argv[0] == Python {
		argv[0] = "python3"
	}
	network := c.Network || spec.settings.Network
	env, mounts := containerEnvMounts(c, spec, network)
	labels := maps.Clone(c.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManaged] = "true"

	memory := cmp.Or(c.MemoryBytes, spec.settings.MemoryBytes)
	cpus := cmp.Or(c.CPUs, spec.settings.CPUs)
	// /dev/shm is RAM and counts against the memory limit when used; it may take what the job
	// allows (PyTorch data loaders pass batches through it), never more than the memory itself.
	shm := min(cmp.Or(c.ShmBytes, spec.settings.ShmBytes, memory/2), memory)
	pids := pidsLimit(cpus)
	networkMode := container.NetworkMode("none")
	if network {
		networkMode = "bridge"
	}
	init := true
	host := &container.HostConfig{
		NetworkMode:    networkMode,
		ReadonlyRootfs: true,
		Mounts:         mounts,
		ShmSize:        shm,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Init:           &init, // reaps orphans and passes signals on, so kills are prompt
		LogConfig:      container.LogConfig{Type: "none"},
		OomScoreAdj:    500, // under host memory pressure, the job dies before the server
		Resources: container.Resources{
			Memory:     memory,
			MemorySwap: memory, // equal to Memory: no swap, so the limit is real
			NanoCPUs:   int64(cpus * 1e9),
			PidsLimit:  &pids,
		},
	}
	if len(spec.gpus) > 0 {
		host.DeviceRequests = []container.DeviceRequest{{
			Driver:       "nvidia",
			DeviceIDs:    slices.Clone(spec.gpus),
			Capabilities: [][]string{{"gpu"}},
		}}
	}
	cfg := &container.Config{
		Image:        spec.image,
		Cmd:          argv,
		Env:          env,
		WorkingDir:   containerWorkspace,
		User:         spec.user,
		Labels:       labels,
		AttachStdout: true,
		AttachStderr: true,
	}
	return cfg, host
}

// containerEnvMounts returns a job container's environment and mounts: the workspace read-write,
// the scratch folder at /tmp, the data and the weights cache read-only.
func containerEnvMounts(c checkedJob, spec runSpec, network bool) ([]string, []mount.Mount) {
	vars := map[string]string{
		"PATH":                    cmp.Or(spec.path, systemPath),
		"HOME":                    containerWorkspace,
		"LANG":                    "C.UTF-8",
		"PYTHONUNBUFFERED":        "1",
		"PYTHONDONTWRITEBYTECODE": "1",
		"TMPDIR":                  "/tmp",
	}
	if spec.settings.WeightsCache != "" {
		maps.Copy(vars, weightsEnv(containerWeights, network))
	}
	maps.Copy(vars, c.Env)
	vars[EnvOutputDir] = containerWorkspace
	mounts := []mount.Mount{{Type: mount.TypeBind, Source: c.workspace, Target: containerWorkspace}}
	if spec.scratch != "" {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: spec.scratch, Target: "/tmp"})
	}
	if c.dataDir != "" {
		vars[EnvDataDir] = containerData
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: c.dataDir, Target: containerData, ReadOnly: true})
	}
	if spec.settings.WeightsCache != "" {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: spec.settings.WeightsCache, Target: containerWeights, ReadOnly: true})
	}
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env, mounts
}

// CleanupOrphans removes the containers labelled gome.managed=true whose owning process (see
// LabelOwner) no longer runs on this host, running or not, and returns how many it removed. Such
// containers are left by a server that crashed mid-job; call this at start-up. Containers of
// other live Gome processes on the same engine are left alone.
func (d *Docker) CleanupOrphans(ctx context.Context) (int, error) {
	list, err := d.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelManaged+"=true"),
	})
	if err != nil {
		return 0, fmt.Errorf("%w: listing sandbox containers: %w", ErrDockerUnavailable, err)
	}
	removed := 0
	var errs []error
	for _, c := range list.Items {
		if ownerAlive(c.Labels[LabelOwner]) {
			continue // another live Gome process's job
		}
		_, err := d.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			removed++
			d.logger.Info("sandbox removed an orphaned container", "container", shortID(c.ID), "labels", c.Labels)
		case errdefs.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("removing container %s: %w", shortID(c.ID), err))
		}
	}
	return removed, errors.Join(errs...)
}

// shortID abbreviates a container id the way the docker CLI shows it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
