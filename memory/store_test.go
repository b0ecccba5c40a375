package memory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestOpenConfiguresDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "home", "nested", "gome.db")
	s := openAt(t, path)

	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created at %s: %v", path, err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	pragmas := []struct {
		db, pragma, want string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "10000"},
		{"write", "synchronous", "1"}, // NORMAL
		{"read", "journal_mode", "wal"},
		{"read", "foreign_keys", "1"},
		{"read", "busy_timeout", "10000"},
		{"read", "query_only", "1"},
	}
	for _, p := range pragmas {
		db := s.write
		if p.db == "read" {
			db = s.read
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s on %s pool: %v", p.pragma, p.db, err)
		}
		if got != p.want {
			t.Errorf("%s pool: PRAGMA %s = %q, want %q", p.db, p.pragma, got, p.want)
		}
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := latestVersion(t); v != want {
		t.Errorf("SchemaVersion = %d, want %d (the newest embedded migration)", v, want)
	}
	// The read pool must not be able to write, so a bug that writes through
	// it fails loudly instead of racing the writer.
	if _, err := s.read.ExecContext(ctx, `INSERT INTO runs (id, task_id, task_dir, strategy, status, created_at, updated_at)
		VALUES ('x', '', '', '', 'running', '', '')`); err == nil {
		t.Error("insert through the read pool succeeded, want it refused")
	}
}

func TestOpenPathWithOddCharacters(t *testing.T) {
	// A file: URI carries the path; characters special in URIs must survive.
	path := filepath.Join(t.TempDir(), "my runs #1", "gome?v=2%20.db")
	s := openAt(t, path)
	mustCreateRun(t, s, "r1")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the exact path %q: %v", path, err)
	}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	textFile := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(textFile, []byte(strings.Repeat("these are my notes, not a database\n", 20)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Shorter than a page: SQLite alone would take it for an empty database
	// and overwrite it.
	aFile := filepath.Join(dir, "plain")
	if err := os.WriteFile(aFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		path    string
		wantIs  error
		wantMsg []string
	}{
		{"empty path", "", nil, []string{"path is empty", "DBPath"}},
		{"a folder", dir, nil, []string{dir, "is a folder", filepath.Join(dir, "gome.db")}},
		{"not a database", textFile, ErrNotDatabase, []string{textFile, "not an SQLite database", "move it aside"}},
		{"short file, not a database", aFile, ErrNotDatabase, []string{aFile, "not an SQLite database"}},
		{"parent is a file", filepath.Join(aFile, "gome.db"), nil, []string{filepath.Join(aFile, "gome.db")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.path, WithLogger(quiet()))
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.path)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
			wantErrContains(t, err, tt.wantMsg...)
		})
	}
	// Refusing must not have damaged the files the user pointed at.
	got, err := os.ReadFile(textFile)
	if err != nil || !strings.HasPrefix(string(got), "these are my notes") {
		t.Errorf("text file changed by a refused Open: %q, %v", got, err)
	}
	if got, err := os.ReadFile(aFile); err != nil || string(got) != "x" {
		t.Errorf("short file changed by a refused Open: %q, %v", got, err)
	}
}

func TestOpenAcceptsEmptyFile(t *testing.T) {
	// An empty file is what "touch gome.db" leaves: an empty database.
	path := filepath.Join(t.TempDir(), "gome.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path)
	mustCreateRun(t, s, "r1")
}

func TestReopenKeepsDataAndAppliesNothingTwice(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gome.db")

	s, err := Open(ctx, path, WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	mustCreateRun(t, s, "r1")
	mustCreateTrace(t, s, "r1", "t0", 0)
	if err := s.RecordStep(ctx, Step{ID: "s0", RunID: "r1", TraceID: "t0", Kind: "draft", Code: "print(1)", Score: ptr(0.5)}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		s2, err := Open(ctx, path, WithLogger(quiet()))
		if err != nil {
			t.Fatalf("reopen %d: %v", i+1, err)
		}
		var n int
		if err := s2.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := latestVersion(t); n != want {
			t.Errorf("reopen %d: %d rows in schema_migrations, want %d", i+1, n, want)
		}
		st, err := s2.GetStep(ctx, "s0")
		if err != nil {
			t.Fatalf("reopen %d: step lost: %v", i+1, err)
		}
		if st.Code != "print(1)" || st.Score == nil || *st.Score != 0.5 {
			t.Errorf("reopen %d: step = %+v", i+1, st)
		}
		traces, err := s2.ListTraces(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if len(traces) != 1 || traces[0].BestStepID != "s0" {
			t.Errorf("reopen %d: traces = %+v, want t0 with best s0", i+1, traces)
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesFutureSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gome.db")
	s, err := Open(ctx, path, WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	mustCreateRun(t, s, "r1")
	// What a newer gome would have left behind.
	if _, err := s.write.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (42, '0042_future.sql', '2030-01-01T00:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(ctx, path, WithLogger(quiet()))
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database from a newer gome succeeded, want ErrSchemaTooNew")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("error %q is not ErrSchemaTooNew", err)
	}
	wantErrContains(t, err, path, "version 42", fmt.Sprintf("up to %d", latestVersion(t)), "upgrade gome")
}

// latestVersion is the newest migration compiled into this binary.
func latestVersion(t *testing.T) int {
	t.Helper()
	embedded, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(embedded)
	if err != nil || len(ms) == 0 {
		t.Fatalf("embedded migrations: %v (%d found)", err, len(ms))
	}
	return ms[len(ms)-1].version
}

// futureVersion numbers a migration only a later gome binary would carry.
const futureVersion = 900

// migrationsWith returns the embedded migrations plus extra files, as a
// later gome binary would carry them.
func migrationsWith(t *testing.T, extra map[string]string) fstest.MapFS {
	t.Helper()
	embedded, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(embedded)
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.MapFS{}
	for _, mg := range ms {
		m[mg.name] = &fstest.MapFile{Data: []byte(mg.sql)}
	}
	for name, sql := range extra {
		m[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return m
}

func TestLaterMigrationUpgradesExistingDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gome.db")
	s := openAt(t, path)
	mustCreateRun(t, s, "r1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The success memory is planned as such a migration; FTS5 must be there.
	next := migrationsWith(t, map[string]string{
		"0900_successes.sql": `CREATE TABLE successes (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs (id), hypothesis TEXT NOT NULL);
			CREATE VIRTUAL TABLE successes_fts USING fts5 (hypothesis, content='successes', content_rowid='id');`,
	})
	s2, err := open(ctx, path, options{logger: quiet(), migrations: next})
	if err != nil {
		t.Fatalf("open with migration 0900: %v", err)
	}
	defer s2.Close()
	if v, err := s2.SchemaVersion(ctx); err != nil || v != futureVersion {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, futureVersion)
	}
	if _, err := s2.write.ExecContext(ctx, `INSERT INTO successes (run_id, hypothesis) VALUES ('r1', 'target-encode the cabin deck')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.write.ExecContext(ctx, `INSERT INTO successes_fts (rowid, hypothesis) SELECT id, hypothesis FROM successes`); err != nil {
		t.Fatal(err)
	}
	var hyp string
	if err := s2.read.QueryRowContext(ctx, `SELECT hypothesis FROM successes_fts WHERE successes_fts MATCH 'cabin'`).Scan(&hyp); err != nil {
		t.Fatalf("full-text query: %v", err)
	}
	if _, err := s2.GetRun(ctx, "r1"); err != nil {
		t.Errorf("run from version 1 lost by the upgrade: %v", err)
	}
	s2.Close()

	// The older binary, not knowing version 900, now refuses the file.
	if s3, err := Open(ctx, path, WithLogger(quiet())); !errors.Is(err, ErrSchemaTooNew) {
		if err == nil {
			s3.Close()
		}
		t.Errorf("old binary opening upgraded database: err = %v, want ErrSchemaTooNew", err)
	}
}

func TestFailingMigrationLeavesPreviousVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gome.db")
	s := openAt(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	broken := migrationsWith(t, map[string]string{
		"0900_broken.sql": `CREATE TABLE half_done (id INTEGER); CREATE TABLE oops (;`,
	})
	s2, err := open(ctx, path, options{logger: quiet(), migrations: broken})
	if err == nil {
		s2.Close()
		t.Fatal("open with a broken migration succeeded")
	}
	wantErrContains(t, err, path, "0900_broken.sql", "previous version")

	s3 := openAt(t, path)
	if v, err := s3.SchemaVersion(ctx); err != nil || v != latestVersion(t) {
		t.Errorf("SchemaVersion after failed migration = %d, %v; want %d", v, err, latestVersion(t))
	}
	var n int
	if err := s3.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("the first statement of the failed migration was kept; want it rolled back")
	}
}

func TestLoadMigrationsRefusesBadNames(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  []string
	}{
		{"no number", fstest.MapFS{"init.sql": {}}, []string{`"init.sql"`, "NNNN_description.sql"}},
		{"zero", fstest.MapFS{"0000_init.sql": {}}, []string{`"0000_init.sql"`, "positive"}},
		{"duplicate version", fstest.MapFS{"0001_a.sql": {}, "1_b.sql": {}}, []string{"0001_a.sql", "1_b.sql", "renumber"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadMigrations(tt.files)
			wantErrContains(t, err, tt.want...)
		})
	}

	ms, err := loadMigrations(fstest.MapFS{"0010_c.sql": {}, "0002_b.sql": {}, "0001_a.sql": {}, "README.md": {}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range ms {
		got = append(got, m.version)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 10 {
		t.Errorf("versions = %v, want [1 2 10] (numeric order, non-SQL files ignored)", got)
	}
}

func TestDefaultHomeAndDBPath(t *testing.T) {
	t.Setenv("GOME_HOME", "/srv/gome-home")
	if got := DefaultHome(); got != "/srv/gome-home" {
		t.Errorf("DefaultHome with GOME_HOME set = %q", got)
	}
	if got := DBPath("/srv/gome-home"); got != "/srv/gome-home/gome.db" {
		t.Errorf("DBPath = %q", got)
	}

	t.Setenv("GOME_HOME", "")
	t.Setenv("HOME", "/home/ada")
	if got := DefaultHome(); got != "/home/ada/.gome" {
		t.Errorf("DefaultHome without GOME_HOME = %q, want /home/ada/.gome", got)
	}
}
