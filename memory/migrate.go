package memory

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// embeddedMigrations returns the migrations compiled into this binary, rooted
// so that file names sit at the top level.
func embeddedMigrations() (fs.FS, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("memory: embedded migrations: %w", err)
	}
	return sub, nil
}

// migration is one numbered schema change. Its version is the number that
// starts its file name: 0001_init.sql is version 1.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads NNNN_name.sql files from fsys, sorted by version.
// Misnamed or duplicated versions are a fault of the build, reported rather
// than guessed around, because the order of migrations is the schema.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("memory: read migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("memory: migration file %q: name must be NNNN_description.sql with NNNN a positive number", e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("memory: migration files %q and %q share version %d: renumber one of them", other, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("memory: read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies every migration in fsys that db has not yet recorded, each
// in its own transaction together with its row in schema_migrations, so a
// failed migration leaves the database at the previous version.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS, dbPath string, logger *slog.Logger) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	known := 0
	if len(ms) > 0 {
		known = ms[len(ms)-1].version
	}

	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL DEFAULT '',
		applied_at TEXT NOT NULL
	)`); err != nil {
		return openError(dbPath, err)
	}

	for _, m := range ms {
		applied, err := applyMigration(ctx, db, m, known, dbPath)
		if err != nil {
			return err
		}
		if applied {
			logger.InfoContext(ctx, "applied database migration", "db", dbPath, "version", m.version, "name", m.name)
		}
	}
	// Checked after applying too: a database with no gaps but a higher
	// version than ours must still be refused.
	return checkNotNewer(ctx, db, known, dbPath)
}

// applyMigration applies m unless it is already recorded. The check happens
// inside the write transaction, so two processes opening the same new
// database at once cannot both apply it.
func applyMigration(ctx context.Context, db *sql.DB, m migration, known int, dbPath string) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("memory: %s: begin migration %s: %w", dbPath, m.name, err)
	}
	defer rollback(tx)

	// Refuse before changing anything: a newer schema may have reshaped the
	// tables this migration expects.
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("memory: %s: read schema version: %w", dbPath, err)
	}
	if current > known {
		return false, tooNew(dbPath, current, known)
	}

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return false, fmt.Errorf("memory: %s: read schema version: %w", dbPath, err)
	}
	if n > 0 {
		return false, tx.Rollback()
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("memory: %s: apply migration %s: %w (the database is left at the previous version)", dbPath, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, formatTime(time.Now())); err != nil {
		return false, fmt.Errorf("memory: %s: record migration %s: %w", dbPath, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("memory: %s: commit migration %s: %w", dbPath, m.name, err)
	}
	return true, nil
}

func checkNotNewer(ctx context.Context, db *sql.DB, known int, dbPath string) error {
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("memory: %s: read schema version: %w", dbPath, err)
	}
	if current > known {
		return tooNew(dbPath, current, known)
	}
	return nil
}

func tooNew(dbPath string, current, known int) error {
	return fmt.Errorf("memory: %s: %w: it is at schema version %d, this gome knows versions up to %d: upgrade gome, or set GOME_HOME to another folder to start a fresh database",
		dbPath, ErrSchemaTooNew, current, known)
}

// SchemaVersion returns the highest migration version applied to the
// database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("memory: read schema version: %w", err)
	}
	return v, nil
}
