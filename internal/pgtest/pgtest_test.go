package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// query runs one query returning one text value on the database at url.
func query(t *testing.T, url, q string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, q).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestURLIsAFreshDatabase: every URL names its own empty database on a
// PostgreSQL 15 or newer.
func TestURLIsAFreshDatabase(t *testing.T) {
	a, b := URL(t), URL(t)
	if a == b {
		t.Fatalf("two tests share %s", a)
	}
	for _, u := range []string{a, b} {
		if n := query(t, u, `SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'`); n != "0" {
			t.Errorf("%s has %s tables", u, n)
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE x (v int)`); err != nil {
		t.Fatal(err)
	}
	if n := query(t, b, `SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'`); n != "0" {
		t.Errorf("a table made in one database shows in another")
	}
	if v := query(t, a, `SELECT current_setting('server_version_num')`); v < "150000" {
		t.Errorf("server version %s, want 15 or newer", v)
	}
}

// TestRestart: a restart closes open connections; new ones work and the
// data are kept.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	u := URL(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('yes')`); err != nil {
		t.Fatal(err)
	}
	Restart(t)
	if _, err := conn.Exec(ctx, `SELECT 1`); err == nil {
		t.Error("a connection survived the restart")
	}
	if v := query(t, u, `SELECT v FROM kept`); v != "yes" {
		t.Errorf("kept = %q", v)
	}
}

// TestURLFrom: databases made from a template start as copies of it, and
// the template is made once.
func TestURLFrom(t *testing.T) {
	made := 0
	setup := func(ctx context.Context, url string) error {
		made++
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE TABLE seed (v text); INSERT INTO seed VALUES ('from the template')`)
		return err
	}
	a, b := URLFrom(t, "seeded", setup), URLFrom(t, "seeded", setup)
	if made != 1 {
		t.Errorf("template made %d times", made)
	}
	for _, u := range []string{a, b} {
		if v := query(t, u, `SELECT v FROM seed`); v != "from the template" {
			t.Errorf("%s: seed = %q", u, v)
		}
	}
}
