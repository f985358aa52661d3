package catalog

import (
	"context"
	"strings"
	"testing"
)

// openTest opens a fresh SQLite catalog in a temp dir (the tests of what
// only SQLite does; the conformance suite runs on every backend through
// forEachBackend).
func openTest(t testing.TB) Catalog {
	t.Helper()
	return backends[0].openTest(t)
}

// fakeID is a valid object id derived from a short name.
func fakeID(name string) string { return ObjectID([]byte(name)) }

// update runs fn in a transaction and fails the test on error.
func update(t testing.TB, c Catalog, fn func(tx Tx) error) {
	t.Helper()
	if err := c.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// build creates the paths listed: "a/" is a directory, anything else a blob
// whose object id is derived from its path.
func build(t testing.TB, c Catalog, paths ...string) {
	t.Helper()
	ctx := context.Background()
	update(t, c, func(tx Tx) error {
		for _, p := range paths {
			if dir, ok := strings.CutSuffix(p, "/"); ok {
				if err := tx.PutEntry(ctx, Entry{Path: dir, Kind: KindDir, Mode: 0o755}); err != nil {
					return err
				}
				continue
			}
			id := fakeID(p)
			if err := tx.PutObject(ctx, Object{ID: id, Strategy: "blob", RawSize: 1, StoredSize: 1}); err != nil {
				return err
			}
			if err := tx.PutEntry(ctx, Entry{Path: p, Kind: KindBlob, Mode: 0o644, Size: 1, Object: id, ContentHash: id}); err != nil {
				return err
			}
		}
		return nil
	})
}

// paths returns every path under the root, in Walk order, root excluded.
func paths(t testing.TB, c Catalog) []string {
	t.Helper()
	es, err := c.Walk(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es[1:] {
		p := e.Path
		if e.Kind == KindDir {
			p += "/"
		}
		out = append(out, p)
	}
	return out
}
