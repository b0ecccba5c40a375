package sandbox

import (
	"archive/tar"
	"bytes"
	"cmp"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildImage builds the real sandbox image. It takes minutes and needs root, debootstrap, a
// Debian mirror and Docker, so it runs only when asked:
//
//	GOME_SANDBOX_BUILD=full go test -run TestBuildImage -v -timeout 60m ./sandbox/
//	GOME_SANDBOX_BUILD=slim ...   (numpy, pandas, scipy, scikit-learn, Pillow)
//
// GOME_SANDBOX_BUILD_SUITE picks the Debian release (default trixie); GOME_SANDBOX_BUILD_CACHE
// names a folder to keep downloaded packages in between builds; GOME_SANDBOX_TEST_IMAGE the tag
// to build (default gome-sandbox:latest).
func TestBuildImage(t *testing.T) {
	variant := os.Getenv("GOME_SANDBOX_BUILD")
	if variant != "full" && variant != "slim" {
		t.Skip("building the image takes minutes; set GOME_SANDBOX_BUILD=full or slim to run it")
	}
	opts := BuildOptions{
		Image:    testImage(),
		Slim:     variant == "slim",
		Suite:    os.Getenv("GOME_SANDBOX_BUILD_SUITE"),
		CacheDir: os.Getenv("GOME_SANDBOX_BUILD_CACHE"),
		Output:   t.Output(),
		Logger:   slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	start := time.Now()
	if err := BuildImage(t.Context(), opts); err != nil {
		t.Fatalf("BuildImage: %v", err)
	}
	t.Logf("built %s (%s) in %v", testImage(), variant, time.Since(start).Round(time.Second))

	d := newTestDocker(t)
	var mods []string
	for _, p := range ImagePackages(cmp.Or(opts.Suite, DefaultSuite), opts.Slim) {
		mods = append(mods, p.Module)
	}
	modules := strings.Join(mods, ", ")
	if got, _ := imageModules(t, d); strings.Join(got, ", ") != modules {
		t.Errorf("image label %s lists %v, want %s", LabelModules, got, modules)
	}
	res, err := d.Run(t.Context(), Job{
		Workspace: t.TempDir(),
		Command:   []string{Python, "-c", "import " + modules + "; import os; print(os.getuid(), torch.__version__ if 'torch' in dir() else '')"},
		Timeout:   5 * time.Minute,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("importing %s in the new image: %v, exit %d, stderr %q", modules, err, res.ExitCode, res.Stderr)
	}
	t.Logf("image check: %s", strings.TrimSpace(res.Stdout))
}

func TestMirrorFromSources(t *testing.T) {
	tests := []struct {
		name  string
		texts []string
		suite string
		want  string
	}{
		{
			name: "deb822 with several stanzas",
			texts: []string{`Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main

Types: deb
# a comment
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
`},
			suite: "bookworm",
			want:  "http://mirror.example/debian/",
		},
		{
			name:  "one-line format with options",
			texts: []string{"# deb http://old bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://ftp.example/debian/ bookworm main contrib\n"},
			suite: "bookworm",
			want:  "http://ftp.example/debian",
		},
		{
			name:  "other suites only",
			texts: []string{"deb http://deb.debian.org/debian bullseye main\n", "URIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n"},
			suite: "bookworm",
			want:  "",
		},
		{
			name:  "first matching file wins",
			texts: []string{"deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n", "deb http://a/debian bookworm main\n"},
			suite: "bookworm",
			want:  "http://a/debian",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mirrorFromSources(tt.texts, tt.suite); got != tt.want {
				t.Errorf("mirrorFromSources = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteRootTar(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/bin/python3"), []byte("#!interpreter"), 0o755))
	must(os.Link(filepath.Join(root, "usr/bin/python3"), filepath.Join(root, "usr/bin/python3.11")))
	must(os.Symlink("python3", filepath.Join(root, "usr/bin/python")))
	must(os.MkdirAll(filepath.Join(root, "dev/pts"), 0o755))
	must(os.WriteFile(filepath.Join(root, "dev/null-ish"), nil, 0o644))
	must(os.MkdirAll(filepath.Join(root, "proc/1"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc-passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o600))

	var buf bytes.Buffer
	if err := writeRootTar(t.Context(), root, &buf); err != nil {
		t.Fatalf("writeRootTar: %v", err)
	}
	type entry struct {
		typ      byte
		linkname string
		body     string
		mode     int64
	}
	got := map[string]entry{}
	tr := tar.NewReader(&buf)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got[hdr.Name] = entry{hdr.Typeflag, hdr.Linkname, string(body), hdr.Mode & 0o777}
		if hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s has owner names %q/%q; docker import wants numeric owners only", hdr.Name, hdr.Uname, hdr.Gname)
		}
	}
	want := map[string]entry{
		"usr/":               {typ: tar.TypeDir, mode: 0o755},
		"usr/bin/":           {typ: tar.TypeDir, mode: 0o755},
		"usr/bin/python":     {typ: tar.TypeSymlink, linkname: "python3", mode: 0o777},
		"dev/":               {typ: tar.TypeDir, mode: 0o755},
		"proc/":              {typ: tar.TypeDir, mode: 0o755},
		"etc-passwd":         {typ: tar.TypeReg, body: "root:x:0:0::/root:/bin/sh\n", mode: 0o600},
		"usr/bin/python3":    {typ: tar.TypeReg, body: "#!interpreter", mode: 0o755},
		"usr/bin/python3.11": {typ: tar.TypeLink, linkname: "usr/bin/python3", mode: 0o755},
	}
	// WalkDir visits python3 before python3.11, so the second name becomes the hard link.
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("tar lacks %s", name)
			continue
		}
		if g != w {
			t.Errorf("%s = %+v, want %+v", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("tar has unexpected entry %s (contents of dev and proc must be left out)", name)
		}
	}
}

func TestPrepareRootAddsUserAndStrips(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"etc/passwd":                         "root:x:0:0:root:/root:/bin/bash\n",
		"etc/group":                          "root:x:0:\n",
		"etc/shadow":                         "root:*:19000:0:99999:7:::\n",
		"var/cache/apt/archives/python3.deb": "deb",
		"var/lib/apt/lists/some_Packages":    "list",
		"usr/share/doc/python3/copyright":    "doc",
		"usr/lib/python3/dist-packages/x.py": "code",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // running twice must not add the user twice
		if err := prepareRoot(root); err != nil {
			t.Fatalf("prepareRoot: %v", err)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if n := strings.Count(string(passwd), "gome:x:1000:1000:"); n != 1 {
		t.Errorf("/etc/passwd has %d gome entries, want 1:\n%s", n, passwd)
	}
	for _, gone := range []string{"var/cache/apt/archives/python3.deb", "var/lib/apt/lists/some_Packages", "usr/share/doc/python3"} {
		if fileExists(filepath.Join(root, gone)) {
			t.Errorf("%s was not stripped", gone)
		}
	}
	for _, kept := range []string{"usr/lib/python3/dist-packages/x.py", "workspace", "data", "var/lib/apt/lists"} {
		if !fileExists(filepath.Join(root, kept)) {
			t.Errorf("%s is missing after prepareRoot", kept)
		}
	}
}

func TestReadImportStream(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		wantErr string
	}{
		{name: "success", stream: `{"status":"sha256:abc"}` + "\n"},
		{name: "error detail", stream: `{"status":"x"}{"errorDetail":{"message":"no space left"},"error":"no space left"}`, wantErr: "no space left"},
		{name: "garbage", stream: `not json`, wantErr: "reading the daemon's reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readImportStream(strings.NewReader(tt.stream))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("readImportStream: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("readImportStream error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
