package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
)

// successMemory is the cross-run success memory the momentum command reads and writes: the home's
// SQLite store or a shared PostgreSQL memory.
type successMemory interface {
	engine.SuccessMemory
	ExportMomentum(ctx context.Context, w io.Writer, q memory.MomentumQuery) error
	ImportMomentum(ctx context.Context, r io.Reader, skipBad bool) (memory.ImportReport, error)
	Close() error
}

// openSharedMemory connects to the PostgreSQL success memory of --memory-url.
func openSharedMemory(ctx context.Context, c *common, logger *slog.Logger) (*memory.Postgres, error) {
	m, err := memory.OpenPostgres(ctx, c.memoryURL)
	if err != nil {
		return nil, fmt.Errorf("--memory-url (or GOME_MEMORY_URL): %w", err)
	}
	logger.Debug("the success memory is shared, in PostgreSQL")
	return m, nil
}

// openSuccessMemory opens the success memory a command uses: --memory-url's when set, else the
// home's store.
func openSuccessMemory(ctx context.Context, c *common, logger *slog.Logger) (successMemory, error) {
	if c.memoryURL != "" {
		return openSharedMemory(ctx, c, logger)
	}
	return openStore(ctx, c, logger)
}
