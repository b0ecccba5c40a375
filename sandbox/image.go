package sandbox

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// DefaultImage is the sandbox image BuildImage builds and NewDocker runs by default.
const DefaultImage = "gome-sandbox:latest"

// SandboxUID is the uid (and gid) of the unprivileged "gome" user in the sandbox image.
const SandboxUID = 1000

// Labels Gome puts on what it creates in Docker, so it can find its own images and containers.
const (
	LabelManaged = "gome.managed"         // "true" on every sandbox container; CleanupOrphans removes them
	LabelImage   = "gome.sandbox"         // the image variant ("full", "slim" or "cuda") on sandbox images
	LabelSuite   = "gome.sandbox.suite"   // the Debian release of an image BuildImage made
	LabelModules = "gome.sandbox.modules" // the Python modules an image offers, comma-separated
)

// ErrBuild reports a failed image build; the message says which step failed and how to fix it.
var ErrBuild = errors.New("sandbox: image build failed")

// BuildOptions configure BuildImage. The zero value builds the full DefaultImage from the machine's
// Debian mirror.
type BuildOptions struct {
	Image         string       // tag to create; "" = DefaultImage
	Suite         string       // Debian release, one of Suites(); "" = DefaultSuite
	Mirror        string       // Debian mirror URL; "" = the one apt on this machine uses, else http://deb.debian.org/debian
	Slim          bool         // only numpy, pandas, scipy, scikit-learn and Pillow (a smaller, faster build for CI)
	ExtraPackages []string     // more Debian packages to install
	WorkDir       string       // where the root tree is assembled (needs ~5 GB for the full image); "" = the system temp folder
	CacheDir      string       // keep downloaded .deb files here to speed up rebuilds; "" = none
	Output        io.Writer    // debootstrap's own output, line by line; nil = discarded
	Progress      io.Writer    // a few lines on where the build stands (stage, packages, time); nil = none
	Logger        *slog.Logger // nil = discard
}

// withDefaults fills in the zero fields of o.
func (o BuildOptions) withDefaults() BuildOptions {
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.Mirror == "" {
		o.Mirror = systemMirror(o.Suite)
	}
	if o.WorkDir == "" {
		o.WorkDir = os.TempDir()
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// packages lists the Debian packages the image installs (see ImagePackages). The heavy ones
// (torch, OpenCV and the rest, gigabytes with their libraries) are left out of a slim image.
func (o BuildOptions) packages() []string {
	pkgs := []string{"python3"}
	for _, p := range ImagePackages(o.Suite, o.Slim) {
		pkgs = append(pkgs, p.Debian)
	}
	if !o.Slim {
		// debootstrap does not resolve virtual packages, so their providers are listed: on
		// trixie python3-pycparser (under soundfile's cffi) depends on python3-ply-lex-3.10,
		// which only python3-ply provides; on bookworm python3-bcrypt (under gensim's
		// smart-open) on python3-cffi-backend-api-min, which only python3-cffi-backend provides.
		pkgs = append(pkgs, "python3-ply", "python3-cffi-backend")
	}
	return append(pkgs, o.ExtraPackages...)
}

// modules lists the Python modules the image offers, for its LabelModules.
func (o BuildOptions) modules() string {
	var mods []string
	for _, p := range ImagePackages(o.Suite, o.Slim) {
		mods = append(mods, p.Module)
	}
	return strings.Join(mods, ",")
}

// variant names the image flavour for its label.
func (o BuildOptions) variant() string {
	if o.Slim {
		return "slim"
	}
	return "full"
}

// BuildImage builds the sandbox image without pulling anything from a registry: debootstrap
// installs a minimal Debian with Python and the ML packages into a folder, the folder is stripped
// of caches and documentation, a "gome" user (uid SandboxUID) is added, and the tree is streamed
// into Docker as an image (the equivalent of docker import). It needs root (debootstrap creates
// device files and chroots), the debootstrap program, access to a Debian mirror, and Docker.
func BuildImage(ctx context.Context, opts BuildOptions) error {
	opts = opts.withDefaults()
	if err := checkSuite(opts.Suite); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: debootstrap must run as root; run the build with sudo", ErrBuild)
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return fmt.Errorf("%w: debootstrap is not installed; install it with `apt-get install debootstrap`", ErrBuild)
	}
	cli, err := newDockerClient(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()

	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return fmt.Errorf("%w: work folder %s: %w", ErrBuild, opts.WorkDir, err)
	}
	work, err := os.MkdirTemp(opts.WorkDir, "gome-sandbox-root-")
	if err != nil {
		return fmt.Errorf("%w: work folder in %s: %w", ErrBuild, opts.WorkDir, err)
	}
	root := filepath.Join(work, "root")
	defer func() {
		if err := removeTree(work); err != nil {
			opts.Logger.Warn("sandbox build left its work folder behind", "path", work, "err", err)
		}
	}()

	start := time.Now()
	progress := newBuildProgress(opts.Progress, opts.Output, time.Now)
	progress.Stage("debootstrap " + opts.Suite + " from " + opts.Mirror)
	args := []string{"--variant=minbase", "--components=main", "--include=" + strings.Join(opts.packages(), ",")}
	if opts.CacheDir != "" {
		cache, err := filepath.Abs(opts.CacheDir)
		if err != nil {
			return fmt.Errorf("%w: cache folder %s: %w", ErrBuild, opts.CacheDir, err)
		}
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return fmt.Errorf("%w: cache folder %s: %w", ErrBuild, cache, err)
		}
		args = append(args, "--cache-dir="+cache)
	}
	args = append(args, opts.Suite, root, opts.Mirror)
	opts.Logger.Info("sandbox build: debootstrap", "suite", opts.Suite, "mirror", opts.Mirror, "packages", opts.packages(), "root", root)
	cmd := exec.CommandContext(ctx, debootstrap, args...)
	cmd.Stdout, cmd.Stderr = progress, progress
	cmd.Env = []string{"PATH=" + systemPath, "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"}
	// debootstrap is a shell script whose downloads and dpkg runs are its children: an interrupted
	// build must stop all of them, not only the script, or they keep the output open and running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		hint := "check that the mirror " + opts.Mirror + " is reachable and has the suite " + opts.Suite
		if p := progress.Problems(); p != "" {
			hint = "debootstrap said: " + p + "; " + hint
		}
		if log := filepath.Join(root, "debootstrap", "debootstrap.log"); fileExists(log) {
			hint += "; rerun with -v to see debootstrap's log (" + log + " goes with the failed build)"
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: interrupted: %w", ErrBuild, ctx.Err())
		}
		return fmt.Errorf("%w: debootstrap: %w; %s (--mirror, --suite)", ErrBuild, err, hint)
	}
	opts.Logger.Info("sandbox build: root tree ready", "elapsed", time.Since(start).Round(time.Second))

	progress.Stage("preparing the root tree")
	if err := prepareRoot(root); err != nil {
		return fmt.Errorf("%w: preparing the root tree: %w", ErrBuild, err)
	}
	progress.Stage("importing into Docker as " + opts.Image)
	if err := importRoot(ctx, cli, root, opts); err != nil {
		return err
	}
	progress.Stage("done")
	opts.Logger.Info("sandbox build: image ready", "image", opts.Image, "elapsed", time.Since(start).Round(time.Second))
	return nil
}

// prepareRoot adds the sandbox user and its mount points and strips what a sandbox never needs
// (package caches, apt lists, documentation), which keeps the image small.
func prepareRoot(root string) error {
	uid := strconv.Itoa(SandboxUID)
	for file, line := range map[string]string{
		"etc/passwd": "gome:x:" + uid + ":" + uid + ":Gome sandbox:/workspace:/bin/sh\n",
		"etc/group":  "gome:x:" + uid + ":\n",
		"etc/shadow": "gome:!:19000::::::\n",
	} {
		if err := appendLine(filepath.Join(root, file), line); err != nil {
			return err
		}
	}
	for _, dir := range []string{"workspace", "data"} {
		p := filepath.Join(root, dir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		if err := os.Chown(p, SandboxUID, SandboxUID); err != nil {
			return err
		}
	}
	for _, pattern := range []string{
		"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*",
		"usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*",
		"var/log/*", "tmp/*", "var/tmp/*",
	} {
		matches, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendLine appends line to the file at path unless the file already has it.
func appendLine(path, line string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if strings.Contains(string(data), line) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// importRoot streams the root tree into Docker as opts.Image.
func importRoot(ctx context.Context, cli *client.Client, root string, opts BuildOptions) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeRootTar(ctx, root, pw)) }()
	resp, err := cli.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, opts.Image, client.ImageImportOptions{
		Message: "gome sandbox (" + opts.variant() + "), debootstrap " + opts.Suite,
		Changes: []string{
			"USER " + strconv.Itoa(SandboxUID) + ":" + strconv.Itoa(SandboxUID),
			"WORKDIR /workspace",
			"ENV PATH=" + systemPath,
			"ENV LANG=C.UTF-8",
			"ENV PYTHONUNBUFFERED=1",
			`CMD ["python3"]`,
			"LABEL " + LabelImage + "=" + opts.variant(),
			"LABEL " + LabelSuite + "=" + opts.Suite,
			"LABEL " + LabelModules + "=" + opts.modules(),
		},
	})
	if err != nil {
		_ = pr.CloseWithError(err)
		return fmt.Errorf("%w: docker import of %s: %w", ErrBuild, opts.Image, err)
	}
	defer func() { _ = resp.Close() }()
	if err := readImportStream(resp); err != nil {
		return fmt.Errorf("%w: docker import of %s: %w", ErrBuild, opts.Image, err)
	}
	return nil
}

// readImportStream reads Docker's JSON progress messages to the end and returns the error one of
// them reports.
func readImportStream(r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the daemon's reply: %w", err)
		}
		if msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}

// writeRootTar writes the tree under root as a tar stream with numeric owners, as docker import
// expects. The contents of dev, proc and sys are left out: Docker provides them in the container.
func writeRootTar(ctx context.Context, root string, w io.Writer) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{} // (device, inode) -> first path, for hard links
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if parent, _, nested := strings.Cut(rel, "/"); nested && slices.Contains([]string{"dev", "proc", "sys"}, parent) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var target string
		if info.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(path); err != nil {
				return err
			}
		}
		switch mode := info.Mode(); {
		case mode.IsDir(), mode.IsRegular(), mode&fs.ModeSymlink != 0:
		default:
			return nil // sockets, fifos and device files have no place in an image
		}
		hdr, err := tar.FileInfoHeader(info, target)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Format = tar.FormatPAX
		hdr.Uname, hdr.Gname = "", ""
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if info.Mode().IsRegular() && st.Nlink > 1 {
				key := [2]uint64{uint64(st.Dev), st.Ino}
				if first, seen := links[key]; seen {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[key] = rel
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("writing the image tar: %w", err)
	}
	return tw.Close()
}

// removeTree deletes a build folder, but never while something is mounted inside it: a proc or
// sys left mounted by an interrupted debootstrap would otherwise let RemoveAll reach into the
// host's /proc and /sys.
func removeTree(dir string) error {
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return fmt.Errorf("cannot check for mounts under %s (%w); remove it by hand", dir, err)
	}
	for line := range strings.Lines(string(mounts)) {
		fields := strings.Fields(line)
		if len(fields) > 1 && (fields[1] == dir || strings.HasPrefix(fields[1], dir+"/")) {
			return fmt.Errorf("%s is still mounted; unmount it (umount -R %s) and remove %s by hand", fields[1], fields[1], dir)
		}
	}
	return os.RemoveAll(dir)
}

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// systemMirror returns the Debian mirror apt on this machine uses for suite, so a build behind a
// proxy or an internal mirror uses the same one; else the public redirector.
func systemMirror(suite string) string {
	var texts []string
	for _, pattern := range []string{"/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			if data, err := os.ReadFile(f); err == nil {
				texts = append(texts, string(data))
			}
		}
	}
	if m := mirrorFromSources(texts, suite); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// mirrorFromSources finds the first URI serving suite in apt source files, in either the one-line
// format ("deb [opts] URI suite components") or the deb822 format (URIs:/Suites: stanzas).
func mirrorFromSources(texts []string, suite string) string {
	for _, text := range texts {
		var uris, suites []string
		stanza := func() string {
			defer func() { uris, suites = nil, nil }()
			if len(uris) > 0 && slices.Contains(suites, suite) {
				return uris[0]
			}
			return ""
		}
		for line := range strings.Lines(text + "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				if m := stanza(); m != "" {
					return m
				}
				continue
			}
			if strings.HasPrefix(line, "#") {
				continue
			}
			fields := strings.Fields(line)
			switch {
			case fields[0] == "deb":
				rest := fields[1:]
				if len(rest) > 0 && strings.HasPrefix(rest[0], "[") {
					for len(rest) > 0 && !strings.HasSuffix(rest[0], "]") {
						rest = rest[1:]
					}
					if len(rest) > 0 {
						rest = rest[1:]
					}
				}
				if len(rest) >= 2 && rest[1] == suite {
					return strings.TrimSuffix(rest[0], "/")
				}
			case strings.EqualFold(fields[0], "URIs:"):
				uris = fields[1:]
			case strings.EqualFold(fields[0], "Suites:"):
				suites = fields[1:]
			}
		}
	}
	return ""
}
