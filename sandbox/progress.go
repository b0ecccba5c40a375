package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
)

// progressInterval is how often a long build stage reports that it is still going.
const progressInterval = 15 * time.Second

// buildProgress turns debootstrap's output, one "I: Retrieving libc6 2.41-12" line per package
// and step, into a few lines a person can follow: each stage when it starts, how far it got every
// progressInterval, and how long it took. Everything it is given is passed on to raw as well.
type buildProgress struct {
	out     io.Writer // condensed lines; nil = none
	raw     io.Writer // debootstrap's own output
	now     func() time.Time
	start   time.Time
	stage   string
	count   int // packages seen in this stage
	total   int // packages the build installs, once known
	lastOut time.Time
	partial []byte
	warned  []string // debootstrap's last warnings and errors ("W: …", "E: …")
}

// Problems returns debootstrap's last few warnings and errors, for the message of a failed build.
func (p *buildProgress) Problems() string {
	return strings.Join(p.warned, " | ")
}

func newBuildProgress(out, raw io.Writer, now func() time.Time) *buildProgress {
	t := now()
	return &buildProgress{out: out, raw: raw, now: now, start: t, lastOut: t}
}

// debootstrapStages maps the verbs of debootstrap's per-package lines to the stage they belong to.
func debootstrapStages() []struct{ prefix, stage string } {
	return []struct{ prefix, stage string }{
		{"I: Retrieving ", "downloading"},
		{"I: Validating ", "downloading"},
		{"I: Extracting ", "extracting"},
		{"I: Installing core packages", "installing"},
		{"I: Unpacking ", "unpacking"},
		{"I: Configuring ", "configuring"},
		{"I: Base system installed successfully", "root tree ready"},
	}
}

func (p *buildProgress) Write(b []byte) (int, error) {
	if _, err := p.raw.Write(b); err != nil {
		return 0, err
	}
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.line(string(p.partial[:i]))
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

// line accounts for one line of debootstrap output.
func (p *buildProgress) line(line string) {
	if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
		p.warned = append(p.warned, strings.TrimSpace(line))
		if len(p.warned) > 4 {
			p.warned = p.warned[len(p.warned)-4:]
		}
		if p.out != nil {
			fmt.Fprintln(p.out, line)
		}
		return
	}
	for _, s := range debootstrapStages() {
		if !strings.HasPrefix(line, s.prefix) {
			continue
		}
		if s.stage != p.stage {
			p.Stage(s.stage)
		}
		if s.prefix == "I: Validating " {
			p.count++
			if p.stage == "downloading" && p.count > p.total {
				p.total = p.count
			}
		} else if strings.HasSuffix(s.prefix, " ") && s.prefix != "I: Retrieving " {
			p.count++
		}
		if p.now().Sub(p.lastOut) >= progressInterval {
			p.report()
		}
		return
	}
}

// Stage starts a stage of the build and says so.
func (p *buildProgress) Stage(stage string) {
	p.stage, p.count = stage, 0
	p.report()
}

// report writes where the build stands.
func (p *buildProgress) report() {
	now := p.now()
	p.lastOut = now
	if p.out == nil {
		return
	}
	elapsed := now.Sub(p.start).Round(time.Second)
	switch {
	case p.count == 0:
		fmt.Fprintf(p.out, "[%v] %s\n", elapsed, p.stage)
	case p.total > 0 && p.stage != "downloading":
		fmt.Fprintf(p.out, "[%v] %s: %d of %d packages\n", elapsed, p.stage, min(p.count, p.total), p.total)
	default:
		fmt.Fprintf(p.out, "[%v] %s: %d packages\n", elapsed, p.stage, p.count)
	}
}
