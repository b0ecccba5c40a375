package sandbox

import (
	"fmt"
	"log/slog"
	"os"
)

// ScratchPrefix starts the name of the folder a job gets as its scratch space (TMPDIR, and /tmp
// in a Docker job). It lies in the workspace, on disk: a job that unpacks a large archive or
// spills to temporary files uses the disk, not its memory limit. The folder is removed when the
// job ends.
const ScratchPrefix = ".gome-tmp-"

// scratch is a job's scratch folder.
type scratch struct{ dir string }

// newScratch creates a scratch folder in workspace, one per job, so that jobs sharing a
// workspace never remove each other's.
func newScratch(workspace string) (scratch, error) {
	dir, err := os.MkdirTemp(workspace, ScratchPrefix)
	if err != nil {
		return scratch{}, fmt.Errorf("%w: creating scratch space in the workspace %s: %w; check that it is writable and the disk is not full", ErrStart, workspace, err)
	}
	// Sticky and world-writable like /tmp, so a container user other than the owner can use it.
	if err := os.Chmod(dir, 0o1777); err != nil {
		_ = os.RemoveAll(dir)
		return scratch{}, fmt.Errorf("%w: scratch space %s: %w", ErrStart, dir, err)
	}
	return scratch{dir: dir}, nil
}

// remove deletes the scratch folder and all the job left in it.
func (s scratch) remove(logger *slog.Logger) {
	if s.dir == "" {
		return
	}
	if err := os.RemoveAll(s.dir); err != nil {
		logger.Warn("sandbox could not remove a job's scratch space", "path", s.dir, "err", err)
	}
}
