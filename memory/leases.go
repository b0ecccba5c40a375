package memory

import (
	"context"
	"fmt"
	"time"
)

// Lease is a server process's claim on the runs and jobs it owns.
type Lease struct {
	Owner   string
	Host    string // the machine it runs on
	PID     int    // its process id there
	Expires time.Time
}

// Heartbeat records or extends a server process's lease.
func (s *Store) Heartbeat(ctx context.Context, l Lease) error {
	if _, err := s.write.ExecContext(ctx, `INSERT INTO servers (owner, host, pid, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at`, l.Owner, l.Host, l.PID, formatTime(l.Expires)); err != nil {
		return fmt.Errorf("memory: heartbeat of %q: %w", l.Owner, err)
	}
	return nil
}

// DropServer ends owner's lease at once (a server stopping in order), so that another
// process may take its runs and jobs over without waiting for the lease to expire.
func (s *Store) DropServer(ctx context.Context, owner string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM servers WHERE owner = ?`, owner); err != nil {
		return fmt.Errorf("memory: drop server %q: %w", owner, err)
	}
	return nil
}

// Servers returns the server processes' leases.
func (s *Store) Servers(ctx context.Context) ([]Lease, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT owner, host, pid, expires_at FROM servers ORDER BY owner`)
	if err != nil {
		return nil, fmt.Errorf("memory: servers: %w", err)
	}
	defer rows.Close()
	var out []Lease
	for rows.Next() {
		var l Lease
		var at string
		if err := rows.Scan(&l.Owner, &l.Host, &l.PID, &at); err != nil {
			return nil, fmt.Errorf("memory: servers: %w", err)
		}
		if l.Expires, err = parseTime("servers.expires_at", at); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: servers: %w", err)
	}
	return out, nil
}

// ClaimRun makes owner the process that executes a run, unless another process whose lease
// has not expired by now owns it; it reports whether owner has the run.
func (s *Store) ClaimRun(ctx context.Context, runID, owner string, now time.Time) (bool, error) {
	r, err := s.write.ExecContext(ctx, `INSERT INTO run_owners (run_id, owner) VALUES (?, ?)
		ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner
		WHERE run_owners.owner = excluded.owner
		   OR NOT EXISTS (SELECT 1 FROM servers s WHERE s.owner = run_owners.owner AND s.expires_at > ?)`,
		runID, owner, formatTime(now))
	if err != nil {
		return false, fmt.Errorf("memory: claim run %q: %w", runID, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("memory: claim run %q: %w", runID, err)
	}
	return n == 1, nil
}
