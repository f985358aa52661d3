package catalog

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestOpenSchemaV1 opens a catalog written by the first schema (a file
// kept in testdata, never regenerated): it migrates, keeps every entry and
// attribute, reports unknown owners as nil, and takes owners from then on.
func TestOpenSchemaV1(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "schema-v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "catalog.db")
	if err := os.WriteFile(file, golden, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := OpenSQLite(file)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var version int
	if err := c.(*sqliteCatalog).db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != schemaVersion {
		t.Fatalf("user_version %d (%v), want %d", version, err, schemaVersion)
	}
	if got, want := paths(t, c), []string{"base/", "base/config.json", "base/sub/", "base/sub/w.npy"}; !slices.Equal(got, want) {
		t.Fatalf("paths %v, want %v", got, want)
	}
	w, err := c.Get(ctx, "base/sub/w.npy")
	if err != nil {
		t.Fatal(err)
	}
	if w.Kind != KindTensor || w.Mode != 0o640 || !w.MTime.Equal(time.Unix(1700000000, 123456789)) ||
		w.Size != 144 || w.DType != "<f4" || !slices.Equal(w.Shape, []int64{2, 2}) || w.Owner != nil {
		t.Fatalf("migrated tensor entry %+v", w)
	}
	if _, err := c.Model(ctx, "base"); err != nil {
		t.Fatal(err)
	}
	w.Owner = &Owner{UID: 1000, GID: 100}
	update(t, c, func(tx Tx) error { return tx.PutEntry(ctx, w) })
	if got, _ := c.Get(ctx, w.Path); got.Owner == nil || *got.Owner != *w.Owner {
		t.Fatalf("owner after put %v, want %v", got.Owner, *w.Owner)
	}
}

// TestOwnerKept: an owner is stored as given, kept when a replacement
// names none, changed when it names another, and moves with a rename.
func TestOwnerKept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		alice, bob := &Owner{UID: 1001, GID: 1001}, &Owner{UID: 1002, GID: 50}
		for _, tc := range []struct {
			name  string
			steps func(tx Tx, e Entry) error
			path  string
			want  *Owner
		}{
			{"new entry without owner", func(tx Tx, e Entry) error { e.Owner = nil; return tx.PutEntry(ctx, e) }, "m/f", nil},
			{"new entry with owner", func(tx Tx, e Entry) error { return tx.PutEntry(ctx, e) }, "m/f", alice},
			{"replaced without owner", func(tx Tx, e Entry) error {
				if err := tx.PutEntry(ctx, e); err != nil {
					return err
				}
				e.Owner, e.Mode = nil, 0o600
				return tx.PutEntry(ctx, e)
			}, "m/f", alice},
			{"replaced with another owner", func(tx Tx, e Entry) error {
				if err := tx.PutEntry(ctx, e); err != nil {
					return err
				}
				e.Owner = bob
				return tx.PutEntry(ctx, e)
			}, "m/f", bob},
			{"renamed", func(tx Tx, e Entry) error {
				if err := tx.PutEntry(ctx, e); err != nil {
					return err
				}
				return tx.Rename(ctx, "m/f", "m/g")
			}, "m/g", alice},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := bk.openTest(t)
				build(t, c, "m/")
				id := fakeID("f")
				update(t, c, func(tx Tx) error {
					if err := tx.PutObject(ctx, Object{ID: id, Strategy: "blob", RawSize: 1, StoredSize: 1}); err != nil {
						return err
					}
					return tc.steps(tx, Entry{Path: "m/f", Kind: KindBlob, Mode: 0o644, Size: 1, Object: id, Owner: alice})
				})
				got, err := c.Get(ctx, tc.path)
				if err != nil {
					t.Fatal(err)
				}
				if (got.Owner == nil) != (tc.want == nil) || (got.Owner != nil && *got.Owner != *tc.want) {
					t.Fatalf("owner %v, want %v", got.Owner, tc.want)
				}
			})
		}
	})
}

// TestSetRoot: the root's mode, time and owner change (a nil owner keeps
// it); nothing else about it does.
func TestSetRoot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		when := time.Date(2022, 3, 4, 5, 6, 7, 8, time.UTC)
		o := &Owner{UID: 7, GID: 8}
		update(t, c, func(tx Tx) error { return tx.SetRoot(ctx, 0o1777, when, o) })
		update(t, c, func(tx Tx) error { return tx.SetRoot(ctx, 0o1775, when, nil) })
		root, err := c.Get(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if root.Mode != 0o1775 || !root.MTime.Equal(when) || root.Owner == nil || *root.Owner != *o ||
			root.Kind != KindDir || root.Inode != 1 {
			t.Fatalf("root after SetRoot: %+v", root)
		}
	})
}
