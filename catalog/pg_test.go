package catalog

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"deltafs/internal/pgtest"
)

// openPG opens the PostgreSQL catalog at url, closed when the test ends.
func openPG(t *testing.T, url string, opts PostgresOptions) Catalog {
	t.Helper()
	c, err := OpenPostgres(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pgVersions returns the schema versions recorded in the catalog's table.
func pgVersions(t *testing.T, c Catalog) []int {
	t.Helper()
	rows, err := c.(*pgCatalog).db.Query(`SELECT version FROM deltafs_schema ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// TestPostgresMigrations: an empty database gets every migration, in
// order, each recorded once (TestMigrationsApplyInOrder adds one); opening
// an up-to-date catalog records nothing.
func TestPostgresMigrations(t *testing.T) {
	url := pgtest.URL(t)
	for range 2 {
		c := openPG(t, url, PostgresOptions{})
		want := make([]int, len(pgMigrations))
		for i := range want {
			want[i] = i + 1
		}
		if got := pgVersions(t, c); !slices.Equal(got, want) {
			t.Fatalf("versions %v, want %v", got, want)
		}
		c.Close()
	}
}

// TestPostgresNotACatalog: a database with tables of another application
// is refused and left alone.
func TestPostgresNotACatalog(t *testing.T) {
	url := pgtest.URL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE invoices (id int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPostgres(context.Background(), url, PostgresOptions{}); !errors.Is(err, ErrNotCatalog) {
		t.Fatalf("open = %v, want ErrNotCatalog", err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d tables after the refused open (%v), want 1", n, err)
	}
}

// TestPostgresOpenErrorHidesPassword: a failed open names the database,
// never the password of the URL.
func TestPostgresOpenErrorHidesPassword(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	_, err := OpenPostgres(context.Background(), "postgres://deltafs:"+secret+"@127.0.0.1:1/store?sslmode=disable",
		PostgresOptions{ConnectTimeout: time.Second})
	if err == nil {
		t.Fatal("opened a catalog on port 1")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the password: %v", err)
	}
}

// TestPostgresRestart: the server restarts between two operations of an
// open handle, and during a transaction; reads and writes go on without
// reopening, and the transaction runs again whole.
func TestPostgresRestart(t *testing.T) {
	ctx := context.Background()
	c := openPG(t, pgStore(t), PostgresOptions{})
	build(t, c, "m/", "m/f")
	seq, err := c.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}

	pgtest.Restart(t)
	if _, err := c.Get(ctx, "m/f"); err != nil {
		t.Fatalf("read after a restart: %v", err)
	}
	pgtest.Restart(t)
	build(t, c, "m/g")

	calls := 0
	update(t, c, func(tx Tx) error {
		calls++
		if err := putBlob(ctx, tx, "m/h", "h"); err != nil {
			return err
		}
		if calls == 1 {
			pgtest.Restart(t) // the transaction's connection is gone
		}
		return putBlob(ctx, tx, "m/i", "i")
	})
	if calls != 2 {
		t.Errorf("fn ran %d times, want 2 (once more after the restart)", calls)
	}
	if got := changedPaths(t, c, seq); !slices.Equal(got, []string{"m/g", "m/h", "m/i"}) {
		t.Errorf("changes after the restarts: %q", got)
	}
}

// TestPostgresInvalidUTF8: PostgreSQL keeps text in UTF-8, so a path that
// is not is refused (ErrInvalid) rather than mangled.
func TestPostgresInvalidUTF8(t *testing.T) {
	ctx := context.Background()
	c := openPG(t, pgStore(t), PostgresOptions{})
	build(t, c, "m/")
	err := c.Update(ctx, func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: "m/\xff\xfe", Kind: KindDir}) })
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("put of a non-UTF-8 path: %v, want ErrInvalid", err)
	}
}

// signalHandler is a slog handler that closes ch at the first record whose
// message is msg.
type signalHandler struct {
	msg  string
	ch   chan struct{}
	once *sync.Once
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h signalHandler) WithGroup(string) slog.Handler            { return h }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}

// TestPostgresUnavailable: with the server down, reads, transactions and
// leases fail with ErrUnavailable once the retry timeout has passed; a
// read waiting while the server comes back succeeds; nothing is reopened.
func TestPostgresUnavailable(t *testing.T) {
	ctx := context.Background()
	retrying := signalHandler{msg: "catalog connection lost, retrying", ch: make(chan struct{}), once: &sync.Once{}}
	const within = 500 * time.Millisecond
	url := pgStore(t)
	c := openPG(t, url, PostgresOptions{RetryTimeout: within})
	patient := openPG(t, url, PostgresOptions{Logger: slog.New(retrying)}) // the default retry timeout
	build(t, c, "m/", "m/f")

	up := pgtest.Down(t)
	ops := map[string]func() error{
		"get":    func() error { _, err := c.Get(ctx, "m/f"); return err },
		"list":   func() error { _, err := c.List(ctx, "m"); return err },
		"update": func() error { return c.Update(ctx, func(tx Tx) error { return putBlob(ctx, tx, "m/g", "g") }) },
		"lease":  func() error { return c.Lease(ctx, "s", []string{fakeID("g")}) },
	}
	for name, op := range ops {
		start := time.Now()
		err := op()
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with the server down: %v, want ErrUnavailable", name, err)
		}
		if d := time.Since(start); d < within {
			t.Errorf("%s gave up after %v, before the retry timeout %v", name, d, within)
		}
	}

	// A read that starts while the server is down goes on retrying until
	// it is back.
	got := make(chan error)
	go func() {
		_, err := patient.Get(ctx, "m/f")
		got <- err
	}()
	<-retrying.ch
	up()
	if err := <-got; err != nil {
		t.Fatalf("read across the outage: %v", err)
	}
	if err := c.Update(ctx, func(tx Tx) error { return putBlob(ctx, tx, "m/g", "g") }); err != nil {
		t.Fatalf("update after the outage: %v", err)
	}

	// Opening while the server is down (a command started during a
	// restart) waits for it too.
	up = pgtest.Down(t)
	opening := signalHandler{msg: "catalog connection lost, retrying", ch: make(chan struct{}), once: &sync.Once{}}
	opened := make(chan error)
	go func() {
		c2, err := OpenPostgres(ctx, url, PostgresOptions{Logger: slog.New(opening)})
		if err == nil {
			c2.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		up()
		t.Fatalf("open with the server down returned without waiting for it: %v", err)
	case <-opening.ch:
	}
	up()
	if err := <-opened; err != nil {
		t.Fatalf("open across the outage: %v", err)
	}
}
