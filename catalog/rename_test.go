package catalog

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestRename(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		// Every case starts from this tree.
		tree := []string{"m/", "m/f", "m/g", "m/d/", "m/d/x", "m/d/s/", "m/d/s/y", "m/e/", "m/full/", "m/full/z", "n/", "ab/", "ab/q"}
		tests := []struct {
			name     string
			old, new string
			want     error
			after    []string // the tree afterwards (nil: unchanged)
		}{
			{"file to new name", "m/f", "m/h", nil,
				[]string{"ab/", "ab/q", "m/", "m/d/", "m/d/s/", "m/d/s/y", "m/d/x", "m/e/", "m/full/", "m/full/z", "m/g", "m/h", "n/"}},
			{"file over file", "m/f", "m/g", nil,
				[]string{"ab/", "ab/q", "m/", "m/d/", "m/d/s/", "m/d/s/y", "m/d/x", "m/e/", "m/full/", "m/full/z", "m/g", "n/"}},
			{"file to other dir", "m/f", "n/f", nil,
				[]string{"ab/", "ab/q", "m/", "m/d/", "m/d/s/", "m/d/s/y", "m/d/x", "m/e/", "m/full/", "m/full/z", "m/g", "n/", "n/f"}},
			{"subtree moves", "m/d", "n/d2", nil,
				[]string{"ab/", "ab/q", "m/", "m/e/", "m/f", "m/full/", "m/full/z", "m/g", "n/", "n/d2/", "n/d2/s/", "n/d2/s/y", "n/d2/x"}},
			{"dir over empty dir", "m/d", "m/e", nil,
				[]string{"ab/", "ab/q", "m/", "m/e/", "m/e/s/", "m/e/s/y", "m/e/x", "m/f", "m/full/", "m/full/z", "m/g", "n/"}},
			{"dir to a name sharing a prefix", "m/d", "m/d-x", nil,
				[]string{"ab/", "ab/q", "m/", "m/d-x/", "m/d-x/s/", "m/d-x/s/y", "m/d-x/x", "m/e/", "m/f", "m/full/", "m/full/z", "m/g", "n/"}},
			{"to itself", "m/d", "m/d", nil, nil},
			{"dir over non-empty dir", "m/d", "m/full", ErrNotEmpty, nil},
			{"file over dir", "m/f", "m/e", ErrIsDir, nil},
			{"dir over file", "m/d", "m/f", ErrNotDir, nil},
			{"dir into itself", "m/d", "m/d/s/new", ErrInvalidPath, nil},
			{"dir into itself directly", "m/d", "m/d/new", ErrInvalidPath, nil},
			{"dir onto its parent", "m/d/s", "m/d", ErrNotEmpty, nil},
			{"missing source", "m/nope", "m/x", ErrNotFound, nil},
			{"missing target parent", "m/f", "m/nope/f", ErrNotFound, nil},
			{"target parent is a file", "m/f", "m/g/f", ErrNotDir, nil},
			{"root", "", "x", ErrInvalidPath, nil},
			{"onto root", "m/f", "", ErrInvalidPath, nil},
			{"bad path", "m/f", "m/../f", ErrInvalidPath, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := bk.openTest(t)
				build(t, c, tree...)
				before := paths(t, c)
				inodes := inodesByPath(t, c)
				err := c.Update(ctx, func(tx Tx) error { return tx.Rename(ctx, tt.old, tt.new) })
				if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
					t.Fatalf("Rename(%q, %q) = %v, want %v", tt.old, tt.new, err, tt.want)
				}
				want := tt.after
				if want == nil {
					want = before
				}
				if got := paths(t, c); !slices.Equal(got, want) {
					t.Fatalf("after Rename(%q, %q):\n got %v\nwant %v", tt.old, tt.new, got, want)
				}
				if err != nil || tt.old == tt.new {
					return
				}
				// Inodes move with the entries; parents are consistent.
				after := inodesByPath(t, c)
				for p, ino := range inodes {
					if !IsWithin(p, tt.old) {
						continue
					}
					np := tt.new + p[len(tt.old):]
					if after[np] != ino {
						t.Errorf("%q -> %q: inode %d became %d", p, np, ino, after[np])
					}
				}
				checkParents(t, c)
			})
		}
	})
}

func inodesByPath(t *testing.T, c Catalog) map[string]uint64 {
	t.Helper()
	es, err := c.Walk(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]uint64)
	for _, e := range es {
		m[e.Path] = e.Inode
	}
	return m
}

// checkParents verifies that every entry is listed by its parent.
func checkParents(t *testing.T, c Catalog) {
	t.Helper()
	ctx := context.Background()
	es, _ := c.Walk(ctx, "")
	for _, e := range es[1:] {
		parent, _ := Split(e.Path)
		ls, err := c.List(ctx, parent)
		if err != nil {
			t.Fatalf("List(%q): %v", parent, err)
		}
		if !slices.ContainsFunc(ls, func(x Entry) bool { return x.Path == e.Path }) {
			t.Errorf("%q is not listed by its parent %q", e.Path, parent)
		}
	}
}

func TestRenameNonASCII(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		build(t, c, "mödel/", "mödel/dïr/", "mödel/dïr/ß€", "n/")
		update(t, c, func(tx Tx) error { return tx.Rename(ctx, "mödel/dïr", "n/ñ") })
		if got, want := paths(t, c), []string{"mödel/", "n/", "n/ñ/", "n/ñ/ß€"}; !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		checkParents(t, c)
	})
}
