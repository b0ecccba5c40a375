// Package pgtest gives tests a PostgreSQL success memory of their own: a fresh schema in the
// database that scripts/postgres.sh starts and names in GOME_TEST_POSTGRES_URL.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// URL returns a URL of the test database whose search_path is a new, empty schema, dropped when
// the test ends. It skips the test, saying why, when GOME_TEST_POSTGRES_URL is not set.
func URL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("GOME_TEST_POSTGRES_URL")
	if base == "" {
		tb.Skip("GOME_TEST_POSTGRES_URL is not set: start PostgreSQL with `source scripts/postgres.sh && gome_postgres` (as .ci/run does) to run the PostgreSQL memory tests")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to GOME_TEST_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "gome_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("GOME_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
