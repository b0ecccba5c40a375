package memory

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// quiet keeps migration logs out of test output.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTestStore(t *testing.T) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "gome.db"))
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, WithLogger(quiet()))
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// at returns a fixed UTC time offset by d, so round trips compare exactly.
func at(d time.Duration) time.Time {
	return time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC).Add(d)
}

func ptr[T any](v T) *T { return &v }

func mustCreateRun(t *testing.T, s *Store, id string) Run {
	t.Helper()
	r := Run{ID: id, TaskID: "spaceship-titanic", TaskDir: "/tasks/spaceship-titanic", Strategy: "gradient",
		Config: json.RawMessage(`{"traces":2}`)}
	if err := s.CreateRun(context.Background(), r); err != nil {
		t.Fatalf("CreateRun(%q): %v", id, err)
	}
	return r
}

func mustCreateTrace(t *testing.T, s *Store, runID, id string, index int) {
	t.Helper()
	if err := s.CreateTrace(context.Background(), Trace{ID: id, RunID: runID, Index: index}); err != nil {
		t.Fatalf("CreateTrace(%q): %v", id, err)
	}
}

// wantErrContains fails unless err is non-nil and its message holds every
// fragment: what a user reads is part of the contract.
func wantErrContains(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}
