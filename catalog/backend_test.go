package catalog

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"deltafs/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// backend is one implementation of Catalog under the conformance suite.
type backend struct {
	name string
	// store returns the location of a new empty store: a file name or a
	// database URL.
	store func(t testing.TB) string
	// open opens a handle on the store at loc; busy 0 is the default busy
	// timeout.
	open func(loc string, busy time.Duration) (Catalog, error)
	// migrations and version are the backend's schema migrations and the
	// version this build writes (a test adds one).
	migrations *[]string
	version    *int
	// db is a handle's database; recorded the schema version the
	// catalog records.
	db       func(c Catalog) *sql.DB
	recorded func(t testing.TB, c Catalog) int
}

var backends = []backend{
	{
		name:  "sqlite",
		store: func(t testing.TB) string { return filepath.Join(t.TempDir(), "catalog.db") },
		open: func(loc string, busy time.Duration) (Catalog, error) {
			return OpenSQLiteWith(loc, SQLiteOptions{BusyTimeout: busy})
		},
		migrations: &migrations,
		version:    &schemaVersion,
		db:         func(c Catalog) *sql.DB { return c.(*sqliteCatalog).db },
		recorded: func(t testing.TB, c Catalog) int {
			return queryInt(t, c.(*sqliteCatalog).db, "PRAGMA user_version")
		},
	},
	{
		name:  "postgres",
		store: pgStore,
		open: func(loc string, busy time.Duration) (Catalog, error) {
			return OpenPostgres(context.Background(), loc, PostgresOptions{BusyTimeout: busy})
		},
		migrations: &pgMigrations,
		version:    &pgSchemaVersion,
		db:         func(c Catalog) *sql.DB { return c.(*pgCatalog).db },
		recorded: func(t testing.TB, c Catalog) int {
			return queryInt(t, c.(*pgCatalog).db, "SELECT max(version) FROM deltafs_schema")
		},
	},
}

// pgStore returns the URL of a new PostgreSQL catalog: a copy of one made
// once per test process (copying is faster than migrating).
func pgStore(t testing.TB) string {
	return pgtest.URLFrom(t, "catalog", func(ctx context.Context, url string) error {
		c, err := OpenPostgres(ctx, url, PostgresOptions{})
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// forEachBackend runs test once per backend, as a subtest named after it.
func forEachBackend(t *testing.T, test func(t *testing.T, bk backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

// openAt opens a handle on the store at loc, closed when the test ends.
func (b backend) openAt(t testing.TB, loc string, busy time.Duration) Catalog {
	t.Helper()
	c, err := b.open(loc, busy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// openTest opens a handle on a new empty store.
func (b backend) openTest(t testing.TB) Catalog {
	t.Helper()
	return b.openAt(t, b.store(t), 0)
}

// queryInt runs a query of one integer.
func queryInt(t testing.TB, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
