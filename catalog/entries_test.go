package catalog

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestRoot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		root, err := c.Get(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if root.Kind != KindDir || root.Inode != 1 || root.Path != "" {
			t.Fatalf("root = %+v", root)
		}
		if ls, err := c.List(ctx, ""); err != nil || len(ls) != 0 {
			t.Fatalf("List(root) = %v, %v", ls, err)
		}
		errs := map[string]error{
			"delete":   c.Update(ctx, func(tx Tx) error { return tx.Delete(ctx, "") }),
			"put":      c.Update(ctx, func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: "", Kind: KindDir}) }),
			"rename":   c.Update(ctx, func(tx Tx) error { return tx.Rename(ctx, "", "x") }),
			"onto":     c.Update(ctx, func(tx Tx) error { tx.PutEntry(ctx, Entry{Path: "d", Kind: KindDir}); return tx.Rename(ctx, "d", "") }),
			"model ''": c.Update(ctx, func(tx Tx) error { return tx.SetModel(ctx, Model{Name: ""}) }),
		}
		for op, err := range errs {
			if !errors.Is(err, ErrInvalidPath) {
				t.Errorf("%s on the root: %v, want ErrInvalidPath", op, err)
			}
		}
		if _, err := c.Get(ctx, ""); err != nil {
			t.Fatal("root gone")
		}
	})
}

func TestEntryRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		mtime := time.Date(2024, 2, 29, 12, 34, 56, 123456789, time.UTC)
		obj := fakeID("obj")
		tests := []Entry{
			{Path: "m/t.npy", Kind: KindTensor, Mode: 0o640, MTime: mtime, Size: 1 << 40, Object: obj,
				ContentHash: fakeID("content"), DType: "<f4", Shape: []int64{3, 1 << 33, 0}, Fortran: true,
				Header: []byte("\x93NUMPY\x01\x00{'descr': '<f4'}\n")},
			{Path: "m/scalar.npy", Kind: KindTensor, Mode: 0o644, MTime: mtime, Size: 128, Object: obj, DType: "|b1", Shape: []int64{}},
			{Path: "m/blob ü €", Kind: KindBlob, Mode: 0o600, MTime: mtime, Size: 0, Object: obj, ContentHash: fakeID("")},
			{Path: "m/sub", Kind: KindDir, Mode: 0o700, MTime: mtime},
			{Path: "m/old", Kind: KindDir, MTime: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		}
		update(t, c, func(tx Tx) error {
			if err := tx.PutObject(ctx, Object{ID: obj, Strategy: "blob"}); err != nil {
				return err
			}
			if err := tx.PutEntry(ctx, Entry{Path: "m", Kind: KindDir, Mode: 0o755}); err != nil {
				return err
			}
			for _, e := range tests {
				if err := tx.PutEntry(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		inodes := map[uint64]bool{1: true}
		for _, want := range tests {
			got, err := c.Get(ctx, want.Path)
			if err != nil {
				t.Fatal(err)
			}
			if inodes[got.Inode] || got.Inode == 0 {
				t.Errorf("%q: inode %d reused or zero", want.Path, got.Inode)
			}
			inodes[got.Inode] = true
			if !got.MTime.Equal(want.MTime) {
				t.Errorf("%q: mtime %v, want %v", want.Path, got.MTime, want.MTime)
			}
			if got.Path != want.Path || got.Kind != want.Kind || got.Mode != want.Mode || got.Size != want.Size ||
				got.Object != want.Object || got.ContentHash != want.ContentHash || got.DType != want.DType ||
				!slices.Equal(got.Shape, want.Shape) || got.Fortran != want.Fortran || !bytes.Equal(got.Header, want.Header) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
			if want.Kind == KindTensor && got.Shape == nil {
				t.Errorf("%q: a 0-d tensor's shape must be empty, not nil", want.Path)
			}
		}
	})
}

func TestPutEntryRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		obj := fakeID("x")
		file := func(p string) Entry { return Entry{Path: p, Kind: KindBlob, Object: obj} }
		dir := func(p string) Entry { return Entry{Path: p, Kind: KindDir} }
		tests := []struct {
			name string
			e    Entry
			want error
		}{
			{"new file", file("m/new"), nil},
			{"file at top level", file("top"), nil},
			{"replace file", file("m/f"), nil},
			{"dir over dir", dir("m/d"), nil},
			{"missing parent", file("m/nope/f"), ErrNotFound},
			{"parent is a file", file("m/f/g"), ErrNotDir},
			{"file over dir", file("m/d"), ErrIsDir},
			{"dir over file", dir("m/f"), ErrExist},
			{"root", dir(""), ErrInvalidPath},
			{"dot dot", file("m/../f"), ErrInvalidPath},
			{"absolute", file("/m/f"), ErrInvalidPath},
			{"NUL", file("m/f\x00"), ErrInvalidPath},
			{"no kind", Entry{Path: "m/k", Object: obj}, ErrInvalid},
			{"dir with object", Entry{Path: "m/k", Kind: KindDir, Object: obj}, ErrInvalid},
			{"file without object", Entry{Path: "m/k", Kind: KindBlob}, ErrInvalid},
			{"bad object id", Entry{Path: "m/k", Kind: KindBlob, Object: "ABC"}, ErrInvalid},
			{"negative size", Entry{Path: "m/k", Kind: KindBlob, Object: obj, Size: -1}, ErrInvalid},
			{"negative dim", Entry{Path: "m/k", Kind: KindTensor, Object: obj, Shape: []int64{-1}}, ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := bk.openTest(t)
				build(t, c, "m/", "m/f", "m/d/", "m/d/child")
				update(t, c, func(tx Tx) error { return tx.PutObject(ctx, Object{ID: obj, Strategy: "blob"}) })
				before, _ := c.Get(ctx, tt.e.Path)
				err := c.Update(ctx, func(tx Tx) error { return tx.PutEntry(ctx, tt.e) })
				if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
					t.Fatalf("PutEntry(%+v) = %v, want %v", tt.e, err, tt.want)
				}
				if err != nil {
					return
				}
				after, err := c.Get(ctx, tt.e.Path)
				if err != nil {
					t.Fatal(err)
				}
				if before.Inode != 0 && after.Inode != before.Inode {
					t.Errorf("replace changed inode %d to %d", before.Inode, after.Inode)
				}
				if after.MTime.IsZero() || time.Since(after.MTime) > time.Hour {
					t.Errorf("zero MTime not set to now: %v", after.MTime)
				}
				if tt.e.Kind == KindDir {
					if ls, _ := c.List(ctx, "m/d"); len(ls) != 1 {
						t.Errorf("dir over dir lost children: %v", ls)
					}
				}
			})
		}
	})
}

func TestListAndWalk(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		build(t, c, "a/", "a/z", "a/b/", "a/b/c", "a-b/", "a-b/x", "ab", "a/B", "a/b0")
		names := func(es []Entry) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.Path)
			}
			return out
		}
		ls, err := c.List(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := names(ls), []string{"a/B", "a/b", "a/b0", "a/z"}; !slices.Equal(got, want) {
			t.Errorf("List(a) = %v, want %v", got, want)
		}
		w, err := c.Walk(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := names(w), []string{"a", "a/B", "a/b", "a/b/c", "a/b0", "a/z"}; !slices.Equal(got, want) {
			t.Errorf("Walk(a) = %v, want %v", got, want)
		}
		if w, _ := c.Walk(ctx, "ab"); !slices.Equal(names(w), []string{"ab"}) {
			t.Errorf("Walk(file) = %v", names(w))
		}
		all, _ := c.Walk(ctx, "")
		if len(all) != 10 || all[0].Path != "" {
			t.Errorf("Walk(root) = %v", names(all))
		}
		for p, want := range map[string]error{"ab": ErrNotDir, "nope": ErrNotFound, "a/../a": ErrInvalidPath} {
			if _, err := c.List(ctx, p); !errors.Is(err, want) {
				t.Errorf("List(%q) = %v, want %v", p, err, want)
			}
		}
		if _, err := c.Walk(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Walk(missing) = %v", err)
		}
		if ls, err := c.List(ctx, "a/b/"+"c"); !errors.Is(err, ErrNotDir) {
			t.Errorf("List(file) = %v, %v", ls, err)
		}
	})
}

func TestDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		tests := []struct {
			path string
			want error
		}{
			{"m/f", nil},
			{"m/empty", nil},
			{"m/full", ErrNotEmpty},
			{"m/nope", ErrNotFound},
			{"", ErrInvalidPath},
			{"m", ErrNotEmpty},
			{"solo", nil},
		}
		for _, tt := range tests {
			c := bk.openTest(t)
			build(t, c, "m/", "m/f", "m/empty/", "m/full/", "m/full/x", "solo/")
			err := c.Update(ctx, func(tx Tx) error { return tx.Delete(ctx, tt.path) })
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("Delete(%q) = %v, want %v", tt.path, err, tt.want)
				continue
			}
			_, getErr := c.Get(ctx, tt.path)
			if gone := errors.Is(getErr, ErrNotFound); tt.want != ErrNotFound && gone != (err == nil) {
				t.Errorf("Delete(%q) = %v but Get = %v", tt.path, err, getErr)
			}
			if tt.path == "solo" {
				if _, err := c.Model(ctx, "solo"); !errors.Is(err, ErrNotFound) {
					t.Errorf("deleting model dir kept the model: %v", err)
				}
			}
		}
	})
}

func TestFindContent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		build(t, c, "m/", "m/a", "n/", "n/b")
		same := fakeID("same")
		update(t, c, func(tx Tx) error {
			for _, p := range []string{"n/x", "m/x"} {
				if err := tx.PutEntry(ctx, Entry{Path: p, Kind: KindBlob, Object: fakeID("m/a"), ContentHash: same}); err != nil {
					return err
				}
			}
			return nil
		})
		es, err := c.FindContent(ctx, same)
		if err != nil || len(es) != 2 || es[0].Path != "m/x" || es[1].Path != "n/x" {
			t.Fatalf("FindContent = %v, %v", es, err)
		}
		if es, _ := c.FindContent(ctx, fakeID("other")); len(es) != 0 {
			t.Fatalf("FindContent(other) = %v", es)
		}
	})
}

func TestTransactionRollsBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		build(t, c, "m/", "m/keep")
		before := paths(t, c)
		boom := errors.New("boom")
		err := c.Update(ctx, func(tx Tx) error {
			if err := tx.PutEntry(ctx, Entry{Path: "m/new", Kind: KindDir}); err != nil {
				return err
			}
			if err := tx.Delete(ctx, "m/keep"); err != nil {
				return err
			}
			if err := tx.SetModel(ctx, Model{Name: "other"}); err != nil {
				return err
			}
			if _, err := tx.Get(ctx, "m/new"); err != nil { // the tx sees its own writes
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want boom", err)
		}
		if after := paths(t, c); !slices.Equal(before, after) {
			t.Fatalf("rolled back tx left changes: %v -> %v", before, after)
		}
		// A panic rolls back too, and the catalog stays usable.
		func() {
			defer func() { recover() }()
			c.Update(ctx, func(tx Tx) error {
				tx.PutEntry(ctx, Entry{Path: "m/panic", Kind: KindDir})
				panic("in fn")
			})
		}()
		if after := paths(t, c); !slices.Equal(before, after) {
			t.Fatalf("panicking tx left changes: %v", after)
		}
		// Inodes of rolled back inserts are not consumed twice: next insert is unique.
		build(t, c, "m/n2/")
		e, _ := c.Get(ctx, "m/n2")
		keep, _ := c.Get(ctx, "m/keep")
		if e.Inode == keep.Inode {
			t.Fatal("inode reused")
		}
	})
}

func TestMTimeOutOfRangeIsClamped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
		early := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
		update(t, c, func(tx Tx) error {
			if err := tx.PutEntry(ctx, Entry{Path: "far", Kind: KindDir, MTime: far}); err != nil {
				return err
			}
			return tx.PutEntry(ctx, Entry{Path: "early", Kind: KindDir, MTime: early})
		})
		f, _ := c.Get(ctx, "far")
		e, _ := c.Get(ctx, "early")
		if f.MTime.Year() != 2262 || e.MTime.Year() != 1677 {
			t.Fatalf("clamped times: %v, %v", f.MTime, e.MTime)
		}
	})
}
