package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMachineSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		in       Settings
		memTotal int64
		cpus     int
		want     Settings
		wantErr  string // a flag the error must name
	}{
		{name: "24 GiB machine keeps 3 GiB back", memTotal: 24 << 30, cpus: 2, want: Settings{MemoryBytes: 21 << 30, ShmBytes: 21 << 29, CPUs: 2}},
		{name: "8 GiB machine keeps 2 GiB back", memTotal: 8 << 30, cpus: 4, want: Settings{MemoryBytes: 6 << 30, ShmBytes: 3 << 30, CPUs: 4}},
		{name: "256 GiB machine keeps an eighth", memTotal: 256 << 30, cpus: 64, want: Settings{MemoryBytes: 224 << 30, ShmBytes: 112 << 30, CPUs: 64}},
		{name: "unknown machine", memTotal: 0, cpus: 0, want: Settings{MemoryBytes: 4 << 30, ShmBytes: 2 << 30, CPUs: 1}},
		{name: "flags win", in: Settings{MemoryBytes: 8 << 30, ShmBytes: 1 << 30, CPUs: 1.5, Network: true}, memTotal: 64 << 30, cpus: 16,
			want: Settings{MemoryBytes: 8 << 30, ShmBytes: 1 << 30, CPUs: 1.5, Network: true}},
		{name: "weights cache made absolute", in: Settings{WeightsCache: dir + "/."}, memTotal: 8 << 30, cpus: 1,
			want: Settings{MemoryBytes: 6 << 30, ShmBytes: 3 << 30, CPUs: 1, WeightsCache: dir}},
		{name: "shm above memory", in: Settings{MemoryBytes: 1 << 30, ShmBytes: 2 << 30}, memTotal: 8 << 30, wantErr: "--shm-size"},
		{name: "negative memory", in: Settings{MemoryBytes: -1}, wantErr: "--memory"},
		{name: "negative cpus", in: Settings{CPUs: -1}, wantErr: "--cpus"},
		{name: "missing weights cache", in: Settings{WeightsCache: filepath.Join(dir, "nope")}, wantErr: "--weights-cache"},
		{name: "weights cache is a file", in: Settings{WeightsCache: file}, wantErr: "--weights-cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MachineSettings(tt.in, tt.memTotal, tt.cpus)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want ErrInvalidJob naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("MachineSettings = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseAndFormatBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		text string
	}{
		{"", 0, "0 B"},
		{"512", 512, "512 B"},
		{"512m", 512 << 20, "512 MiB"},
		{"8g", 8 << 30, "8 GiB"},
		{"8G", 8 << 30, "8 GiB"},
		{"8GiB", 8 << 30, "8 GiB"},
		{"8gb", 8 << 30, "8 GiB"},
		{"1.5g", 3 << 29, "1.5 GiB"},
		{"2t", 2 << 40, "2 TiB"},
		{"64k", 64 << 10, "64 KiB"},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
		if s := FormatBytes(got); s != tt.text {
			t.Errorf("FormatBytes(%d) = %q, want %q", got, s, tt.text)
		}
	}
	for _, bad := range []string{"lots", "-1g", "8x", "g"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) succeeded; want an error", bad)
		}
	}
}

func TestImagePackages(t *testing.T) {
	modules := func(suite string, slim bool) []string {
		var m []string
		for _, p := range ImagePackages(suite, slim) {
			m = append(m, p.Module)
		}
		return m
	}
	if got, want := modules(SuiteTrixie, true), []string{"numpy", "pandas", "scipy", "sklearn", "PIL"}; !slices.Equal(got, want) {
		t.Errorf("slim trixie modules = %v, want %v", got, want)
	}
	full := modules(SuiteTrixie, false)
	for _, want := range []string{"torch", "torchvision", "torchaudio", "xgboost", "cv2", "skimage", "statsmodels", "optuna", "imblearn", "nltk", "sentencepiece"} {
		if !slices.Contains(full, want) {
			t.Errorf("full trixie image lacks %s: %v", want, full)
		}
	}
	if slices.Contains(full, "gensim") || !slices.Contains(modules(SuiteBookworm, false), "gensim") {
		t.Error("gensim must be in bookworm's full image only (trixie dropped python3-gensim)")
	}
	if err := checkSuite("sid"); err == nil || !strings.Contains(err.Error(), "--suite trixie") {
		t.Errorf("checkSuite(sid) = %v, want an error naming --suite trixie", err)
	}
	o := BuildOptions{Suite: SuiteBookworm, Slim: true, ExtraPackages: []string{"python3-tqdm"}}
	if got, want := o.packages(), []string{"python3", "python3-numpy", "python3-pandas", "python3-scipy", "python3-sklearn", "python3-pil", "python3-tqdm"}; !slices.Equal(got, want) {
		t.Errorf("packages() = %v, want %v", got, want)
	}
}

func TestBuildProgress(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	var out, raw strings.Builder
	p := newBuildProgress(&out, &raw, clock)
	feed := func(lines ...string) {
		for _, l := range lines {
			now = now.Add(time.Second)
			if _, err := p.Write([]byte(l + "\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
	feed("I: Retrieving InRelease", "I: Checking Release signature")
	for i := range 40 {
		feed("I: Retrieving pkg"+string(rune('a'+i%26))+" 1.0", "I: Validating pkg"+string(rune('a'+i%26))+" 1.0")
	}
	// A line split across writes is still one line.
	if _, err := p.Write([]byte("I: Extracting li")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("bc6...\nI: Extracting zlib...\n")); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		feed("I: Unpacking pkg...")
	}
	feed("I: Configuring pkg...", "I: Base system installed successfully.")
	p.Stage("importing into Docker")

	got := out.String()
	for _, want := range []string{
		"[1s] downloading\n",
		"[31s] downloading: 14 packages\n", // every 15 s
		"[1m22s] extracting\n",
		"unpacking: 16 of 40 packages\n",
		"configuring\n",
		"root tree ready\n",
		"importing into Docker\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("progress lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n > 20 {
		t.Errorf("progress has %d lines for 130 lines of debootstrap; want a few:\n%s", n, got)
	}
	if !strings.Contains(raw.String(), "I: Extracting libc6...\n") || strings.Count(raw.String(), "\n") != 2+80+2+40+2 {
		t.Errorf("raw output not passed on whole (%d lines)", strings.Count(raw.String(), "\n"))
	}
}
