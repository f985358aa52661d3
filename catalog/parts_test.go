package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// putParts records an object per part and sets the parts of path.
func putParts(ctx context.Context, tx Tx, path string, names ...string) error {
	var parts []Part
	for i, n := range names {
		id := fakeID(path + "/" + n)
		if err := tx.PutObject(ctx, Object{ID: id, Strategy: "auto", RawSize: 4, StoredSize: 3}); err != nil {
			return err
		}
		parts = append(parts, Part{Name: n, DType: "BF16", Shape: []int64{2}, Offset: 100 + 4*int64(len(names)-1-i), Size: 4, Object: id, ContentHash: id})
	}
	return tx.SetParts(ctx, path, parts)
}

func partNames(t *testing.T, c Catalog, path string) string {
	t.Helper()
	ps, err := c.Parts(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s@%d%v", p.Name, p.Offset, p.Shape))
	}
	return fmt.Sprint(out)
}

func TestParts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		c := bk.openTest(t)
		build(t, c, "m/", "m/model.safetensors", "m/other")
		update(t, c, func(tx Tx) error { return putParts(ctx, tx, "m/model.safetensors", "a", "b") })
		if got := partNames(t, c, "m/model.safetensors"); got != "[b@100[2] a@104[2]]" {
			t.Fatalf("parts in file order: %s", got)
		}
		if got := partNames(t, c, "m/other"); got != "[]" {
			t.Fatalf("a file stored whole has parts %s", got)
		}
		live, err := c.LiveObjects(ctx)
		if err != nil || !live[fakeID("m/model.safetensors/a")] || !live[fakeID("m/model.safetensors/b")] {
			t.Fatalf("parts' objects not live: %v", err)
		}
		// An object a part uses cannot be deleted.
		err = c.Update(ctx, func(tx Tx) error { return tx.DeleteObject(ctx, fakeID("m/model.safetensors/a")) })
		if !errors.Is(err, ErrDanglingRef) {
			t.Fatalf("deleting a part's object: %v", err)
		}
		// Replacing the parts replaces them all.
		update(t, c, func(tx Tx) error { return putParts(ctx, tx, "m/model.safetensors", "c") })
		if got := partNames(t, c, "m/model.safetensors"); got != "[c@100[2]]" {
			t.Fatalf("after replacing: %s", got)
		}
		// Parts follow a rename, including one over another file.
		update(t, c, func(tx Tx) error { return putParts(ctx, tx, "m/other", "x") })
		update(t, c, func(tx Tx) error { return tx.Rename(ctx, "m/model.safetensors", "m/other") })
		if got := partNames(t, c, "m/other"); got != "[c@100[2]]" {
			t.Fatalf("after rename: %s", got)
		}
		if live, _ := c.LiveObjects(ctx); live[fakeID("m/other/x")] {
			t.Fatal("the replaced file's parts are still live")
		}
		// They go with the file.
		update(t, c, func(tx Tx) error { return tx.Delete(ctx, "m/other") })
		if live, _ := c.LiveObjects(ctx); live[fakeID("m/model.safetensors/c")] {
			t.Fatal("a deleted file's parts are still live")
		}
	})
}

func TestSetPartsRejects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		c := bk.openTest(t)
		build(t, c, "m/", "m/f")
		tests := []struct {
			name  string
			path  string
			parts []Part
			want  error
		}{
			{"missing file", "m/nope", nil, ErrNotFound},
			{"directory", "m", nil, ErrIsDir},
			{"bad object id", "m/f", []Part{{Name: "a", Object: "xyz"}}, ErrInvalid},
			{"negative offset", "m/f", []Part{{Name: "a", Object: fakeID("a"), Offset: -1}}, ErrInvalid},
			{"unrecorded object", "m/f", []Part{{Name: "a", Object: fakeID("a")}}, ErrDanglingRef},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := c.Update(ctx, func(tx Tx) error { return tx.SetParts(ctx, tc.path, tc.parts) })
				if !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
			})
		}
	})
}

// TestPartsMigration: a catalog of schema version 1 (before parts) opens,
// keeps its entries and takes parts.
func TestPartsMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{migrations[0], fmt.Sprintf("PRAGMA application_id = %d", applicationID), "PRAGMA user_version = 1",
		`INSERT INTO entries(path, parent, name, kind, inode, mode, mtime, size) VALUES ('m', '', 'm', 1, 2, 493, 0, 0)`,
		`INSERT INTO models(name) VALUES ('m')`, `UPDATE counters SET value = 2 WHERE name = 'inode'`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	c, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Model(ctx, "m"); err != nil {
		t.Fatalf("the old catalog's model: %v", err)
	}
	build(t, c, "m/f.safetensors")
	update(t, c, func(tx Tx) error { return putParts(ctx, tx, "m/f.safetensors", "a") })
	if got := partNames(t, c, "m/f.safetensors"); got != "[a@100[2]]" {
		t.Fatalf("parts after the migration: %s", got)
	}
}
