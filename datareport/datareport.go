// Package datareport describes a task's data folder for a model and for a user: a tree with
// per-folder file counts, sizes, extensions and example names, and for each table its rows,
// columns, types, missing values, unique counts, first rows and the target's distribution.
//
// It is built within bounds of time and bytes, so it is as cheap on a folder of 100,000 images
// as on one CSV: folders are listed, not opened file by file; sizes are sampled in big folders;
// tables are read up to a byte budget and their row counts estimated beyond it. Every bound that
// cut something says so in the report's notes, and every figure says whether it is exact.
package datareport

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options bound the work of [Build]. Zero fields take the defaults.
type Options struct {
	// Targets are the target column names; their distribution is reported in every table
	// that has them.
	Targets []string
	// MaxDuration bounds the whole build; default 20 s. What was not reached is named.
	MaxDuration time.Duration
	// MaxEntries bounds the files and folders listed; default 1,000,000.
	MaxEntries int
	// SizeSample is how many file sizes are read per folder; beyond it a folder's total size
	// is estimated from the sample's mean. Default 2,000.
	SizeSample int
	// Examples is how many file names each folder shows; default 3.
	Examples int
	// MaxTables is how many tables are read; default 20. Others are listed by name.
	MaxTables int
	// TableBytes is how many bytes of each table are read; beyond it the row count is
	// estimated. Default 16 MiB.
	TableBytes int64
	// HeadRows is how many first rows each table shows; default 3.
	HeadRows int
	// MaxUnique caps the distinct values counted per column; default 10,000.
	MaxUnique int
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 20 * time.Second
	}
	def(&o.MaxEntries, 1_000_000)
	def(&o.SizeSample, 2000)
	def(&o.Examples, 3)
	def(&o.MaxTables, 20)
	def(&o.HeadRows, 3)
	def(&o.MaxUnique, 10_000)
	if o.TableBytes <= 0 {
		o.TableBytes = 16 << 20
	}
	return o
}

// Report is what [Build] found. It encodes as JSON for MCP; [Report.Text] renders it for
// prompts.
type Report struct {
	Root    string   `json:"root"`
	Folders []Folder `json:"folders"` // sorted by path, the root "." first
	Tables  []Table  `json:"tables"`  // sorted by path
	// Notes say what a bound left out or made approximate; empty when the report is whole.
	Notes []string `json:"notes,omitempty"`
}

// Folder is one directory, counting only what is directly inside it.
type Folder struct {
	Path       string `json:"path"` // relative to the root with '/' separators; "." is the root
	Files      int    `json:"files"`
	Subfolders int    `json:"subfolders"`
	Bytes      int64  `json:"bytes"`
	// BytesEstimated says Bytes was extrapolated from a sample of the files' sizes.
	BytesEstimated bool           `json:"bytes_estimated,omitempty"`
	Extensions     map[string]int `json:"extensions,omitempty"` // ".png" -> count; "" for none
	Examples       []string       `json:"examples,omitempty"`   // the first file names in sorted order
	// Partial says the listing stopped early (time or entry bound): counts are lower bounds.
	Partial bool `json:"partial,omitempty"`
}

// Build reports on the data folder root.
func Build(ctx context.Context, root string, opts Options) (Report, error) {
	opts = opts.withDefaults()
	info, err := os.Stat(root)
	if err != nil {
		return Report{}, fmt.Errorf("datareport: data folder %s: %w: pass the task's public data folder", root, err)
	}
	if !info.IsDir() {
		return Report{}, fmt.Errorf("datareport: %s is a file, not a folder: pass the task's public data folder", root)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.MaxDuration, errTimeBound)
	defer cancel()

	r := Report{Root: root}
	w := walker{ctx: ctx, root: root, opts: opts}
	w.walk(&r)
	if err := context.Cause(ctx); err != nil && !errors.Is(err, errTimeBound) {
		return Report{}, fmt.Errorf("datareport: %w", err)
	}
	slices.SortFunc(r.Folders, func(a, b Folder) int { return cmp.Compare(sortKey(a.Path), sortKey(b.Path)) })

	slices.Sort(w.tables)
	read := w.tables
	if len(read) > opts.MaxTables {
		r.Notes = append(r.Notes, fmt.Sprintf("%d tables found, the first %d read; not read: %s", len(w.tables), opts.MaxTables,
			listSome(w.tables[opts.MaxTables:], 10)))
		read = read[:opts.MaxTables]
	}
	for _, rel := range read {
		if ctx.Err() != nil {
			r.Tables = append(r.Tables, Table{Path: rel, Format: tableFormat(rel), Note: "not read: the time bound was reached"})
			continue
		}
		r.Tables = append(r.Tables, readTable(ctx, filepath.Join(root, filepath.FromSlash(rel)), rel, opts))
	}
	if context.Cause(ctx) == errTimeBound {
		r.Notes = append(r.Notes, fmt.Sprintf("the %s time bound was reached: what is marked partial or not read is incomplete", opts.MaxDuration))
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, errTimeBound) {
		return Report{}, fmt.Errorf("datareport: %w", err)
	}
	return r, nil
}

var errTimeBound = errors.New("time bound reached")

// sortKey orders the root first, then paths by their components.
func sortKey(p string) string {
	if p == "." {
		return ""
	}
	return strings.ReplaceAll(p, "/", "\x00")
}

type walker struct {
	ctx     context.Context
	root    string
	opts    Options
	entries int
	tables  []string // relative paths of table files
	stopped bool     // a bound was reached
}

// walk lists folders breadth-first, so that a bound cuts the deepest ones.
func (w *walker) walk(r *Report) {
	queue := []string{"."}
	for len(queue) > 0 {
		if w.stopped || w.ctx.Err() != nil {
			slices.Sort(queue)
			r.Notes = append(r.Notes, fmt.Sprintf("the listing stopped at a bound (time or %d entries): %d folders not listed: %s",
				w.opts.MaxEntries, len(queue), listSome(queue, 10)))
			return
		}
		rel := queue[0]
		queue = queue[1:]
		f, subs := w.folder(rel)
		r.Folders = append(r.Folders, f)
		queue = append(queue, subs...)
	}
}

// folder lists one directory and returns it with its subfolders' relative paths.
func (w *walker) folder(rel string) (Folder, []string) {
	f := Folder{Path: rel, Extensions: map[string]int{}}
	dir := filepath.Join(w.root, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		f.Partial = true
		return f, nil
	}
	var subs []string
	var sampled int
	var sampledBytes int64
	for i, e := range entries {
		if i%256 == 0 && w.ctx.Err() != nil {
			f.Partial, w.stopped = true, true
			break
		}
		if w.entries >= w.opts.MaxEntries {
			f.Partial, w.stopped = true, true
			break
		}
		w.entries++
		name := e.Name()
		child := path.Join(rel, name)
		if e.IsDir() {
			f.Subfolders++
			subs = append(subs, child)
			continue
		}
		f.Files++
		f.Extensions[extension(name)]++
		if len(f.Examples) < w.opts.Examples {
			f.Examples = append(f.Examples, name)
		}
		if tableFormat(name) != "" {
			w.tables = append(w.tables, child)
		}
		if sampled < w.opts.SizeSample {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
				sampledBytes += info.Size()
				sampled++
			}
		}
	}
	f.Bytes = sampledBytes
	if sampled > 0 && sampled < f.Files {
		f.Bytes = sampledBytes * int64(f.Files) / int64(sampled)
		f.BytesEstimated = true
	}
	if len(f.Extensions) == 0 {
		f.Extensions = nil
	}
	return f, subs
}

// extension is a file's lower-case extension, with a compression suffix kept whole
// (".csv.gz"); "" when it has none.
func extension(name string) string {
	name = strings.ToLower(name)
	ext := path.Ext(name)
	switch ext {
	case ".gz", ".bz2", ".xz", ".zst", ".zip":
		if inner := path.Ext(strings.TrimSuffix(name, ext)); inner != "" && len(inner) <= 8 {
			return inner + ext
		}
	}
	return ext
}

// tableFormat names a table file's format: "csv", "tsv", their ".gz" forms, "parquet" (named
// only), or "" for a file that is not a table.
func tableFormat(name string) string {
	switch extension(name) {
	case ".csv":
		return "csv"
	case ".tsv":
		return "tsv"
	case ".csv.gz":
		return "csv.gz"
	case ".tsv.gz":
		return "tsv.gz"
	case ".parquet", ".pq":
		return "parquet"
	}
	return ""
}

func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}
