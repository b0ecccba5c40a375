// Package memory is Gome's durable state: runs, their traces, the steps of
// each trace, LLM calls and events, kept in one SQLite file under the Gome
// home folder.
//
// The engine commits every step here before it begins the next one, so a
// restarted server can ask for UnfinishedRuns and resume each from its last
// recorded step; the unique (trace, index) of a step makes recording a step
// twice impossible rather than merely unlikely. The MCP tools read runs,
// steps and events from here to answer get_run, list_runs and get_solution
// without touching the engine.
//
// The database runs in WAL mode with a busy timeout. All writes go through
// one connection, so concurrent traces queue in Go instead of failing with
// SQLITE_BUSY, while reads use a separate read-only pool that WAL lets
// proceed alongside the writer. The schema is a numbered list of SQL files
// embedded in the binary and applied at Open; migration 0002 adds the success
// memory (momentum) that outlives runs, with full-text search (momentum.go).
package memory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound reports that a run, trace or step with the given id does not
// exist. Errors wrap it together with the id that was looked up.
var ErrNotFound = errors.New("not found")

// ErrExists reports that a record with the same id was already stored.
var ErrExists = errors.New("already exists")

// ErrDuplicateStep reports a step whose id, or whose index within its trace,
// was already recorded. A resumed run gets it instead of a second copy of a
// step, so the engine can tell "already done" from a real failure.
var ErrDuplicateStep = errors.New("step already recorded")

// ErrSchemaTooNew reports a database written by a newer Gome than this
// binary, whose tables this binary might misread or damage.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// ErrNotDatabase reports that the file at the database path exists but is not
// an SQLite database.
var ErrNotDatabase = errors.New("not an SQLite database")

// busyTimeout bounds how long a statement waits on a lock held by another
// process (for example the CLI reading while the server writes) before it
// fails with SQLITE_BUSY. Writers inside one process never wait on it: they
// queue on the single writer connection.
const busyTimeout = 10 * time.Second

// readConns caps the read pool; a handful covers the MCP tools polling while
// the engine writes.
const readConns = 4

// Store is the handle on one Gome database. It is safe for concurrent use by
// many goroutines.
type Store struct {
	path  string
	write *sql.DB // exactly one connection: writes are serialised here
	read  *sql.DB // read-only pool
}

// Option configures Open.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	migrations fs.FS
}

// WithLogger sets where Open logs applied migrations. The default is
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// DefaultHome returns the Gome home folder: $GOME_HOME when set, otherwise
// .gome in the user's home folder. If the user's home folder is unknown it
// falls back to .gome in the working directory, which is still a usable place
// rather than a reason to refuse to start.
func DefaultHome() string {
	if h := os.Getenv("GOME_HOME"); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".gome")
	}
	return ".gome"
}

// DBPath returns the path of the database inside a Gome home folder.
func DBPath(home string) string {
	return filepath.Join(home, "gome.db")
}

// Open opens the database at path, creating it and its parent folders if
// needed, and brings its schema up to date with the migrations embedded in
// this binary. It refuses a database whose schema is newer than the binary
// knows (ErrSchemaTooNew) and a file that is not an SQLite database
// (ErrNotDatabase).
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	migrations, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	o := options{logger: slog.Default(), migrations: migrations}
	for _, opt := range opts {
		opt(&o)
	}
	return open(ctx, path, o)
}

func open(ctx context.Context, path string, o options) (*Store, error) {
	if path == "" {
		return nil, errors.New("memory: database path is empty: pass a file path, for example memory.DBPath(memory.DefaultHome())")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("memory: resolve database path %q: %w", path, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("memory: database path %s is a folder: pass the path of a file inside it, for example %s", abs, DBPath(abs))
	}
	if err := checkHeader(abs); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("memory: create folder for database %s: %w: choose a path under a folder you can write to, or set GOME_HOME", abs, err)
	}

	write, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("memory: open %s: %w", abs, err)
	}
	// One connection, kept forever: every write queues for it, which is what
	// keeps concurrent traces from racing each other into SQLITE_BUSY.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, openError(abs, err)
	}

	if err := migrate(ctx, write, o.migrations, abs, o.logger); err != nil {
		write.Close()
		return nil, err
	}

	read, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("memory: open %s for reading: %w", abs, err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, openError(abs, err)
	}
	return &Store{path: abs, write: write, read: read}, nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database. Writes already returned are durable; Close
// waits for none that are in flight, so callers stop their work first.
func (s *Store) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}

// dsn builds a file: URI so that any character in the path (space, '?', '#')
// reaches SQLite intact, with the pragmas every connection needs.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// journal_mode is a property of the file; the writer sets it once and
		// readers inherit it. In WAL mode NORMAL loses no committed transaction
		// when the server crashes or is killed (what resume must survive); only
		// a power loss may drop the last ones, which resume then re-runs. FULL
		// cost an fsync per commit, several per step: a measured 15% of a
		// short step (docs/BENCHMARKS.md).
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// Take the write lock at BEGIN, so a transaction that read first
		// never has to fail upgrading its lock later.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// checkHeader refuses an existing, non-empty file that is not an SQLite
// database. SQLite itself only notices once the file is at least a page
// long: a shorter file is taken for an empty database and overwritten, and
// Gome must never destroy a file it was pointed at by mistake.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("memory: open database %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil // an empty file is an empty database
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("memory: read database %s: %w", path, err)
	case string(head[:n]) != sqliteHeader:
		return notDatabase(path)
	}
	return nil
}

func notDatabase(path string) error {
	return fmt.Errorf("memory: %s: %w (it exists but holds something else): move it aside or set GOME_HOME to another folder", path, ErrNotDatabase)
}

// openError turns the driver's error on first contact into one that names
// the file and says what to do.
func openError(path string, err error) error {
	if sqliteCode(err)&0xff == sqlite3.SQLITE_NOTADB {
		return notDatabase(path)
	}
	return fmt.Errorf("memory: open database %s: %w", path, err)
}

// sqliteCode returns the extended SQLite result code of err, or 0 if err
// did not come from SQLite.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func isConstraint(err error, code int) bool {
	return sqliteCode(err) == code
}
