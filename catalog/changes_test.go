package catalog

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// changedPaths returns the paths logged after seq, sorted and deduplicated,
// checking that every change carries c's origin and that seq numbers follow
// on from after without a gap.
func changedPaths(t *testing.T, c Catalog, after uint64) []string {
	t.Helper()
	b, err := c.Changes(context.Background(), after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if b.Lost {
		t.Fatalf("changes after %d: lost", after)
	}
	var out []string
	for i, ch := range b.Changes {
		if ch.Seq != after+uint64(i)+1 {
			t.Fatalf("change %d has seq %d, want %d", i, ch.Seq, after+uint64(i)+1)
		}
		if ch.Origin != c.Origin() {
			t.Errorf("change %d of %q: origin %q, want %q", ch.Seq, ch.Path, ch.Origin, c.Origin())
		}
		out = append(out, ch.Path)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestChangesLogEveryCommittedChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		tree := []string{"m/", "m/f", "m/d/", "m/d/x", "m/e/", "n/"}
		tests := []struct {
			name string
			fn   func(tx Tx) error
			want []string
		}{
			{"new file", func(tx Tx) error { return putBlob(ctx, tx, "m/new", "new") }, []string{"m/new"}},
			{"overwrite", func(tx Tx) error { return putBlob(ctx, tx, "m/f", "other bytes") }, []string{"m/f"}},
			{"unlink", func(tx Tx) error { return tx.Delete(ctx, "m/f") }, []string{"m/f"}},
			{"rmdir", func(tx Tx) error { return tx.Delete(ctx, "m/e") }, []string{"m/e"}},
			{"mkdir", func(tx Tx) error {
				return tx.PutEntry(ctx, Entry{Path: "m/new", Kind: KindDir, Mode: 0o755})
			}, []string{"m/new"}},
			{"rename file", func(tx Tx) error { return tx.Rename(ctx, "m/f", "n/g") }, []string{"m/f", "n/g"}},
			{"rename over a file", func(tx Tx) error { return tx.Rename(ctx, "m/d/x", "m/f") }, []string{"m/d/x", "m/f"}},
			{"rename dir", func(tx Tx) error { return tx.Rename(ctx, "m/d", "n/d") }, []string{"m/d", "m/d/x", "n/d", "n/d/x"}},
			{"new model", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: "o", Base: "m"}) }, []string{"o"}},
			{"set base", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: "n", Base: "m"}) }, []string{"n"}},
			{"chmod", func(tx Tx) error {
				e, err := tx.Get(ctx, "m/f")
				if err != nil {
					return err
				}
				e.Mode = 0o600
				return tx.PutEntry(ctx, e)
			}, []string{"m/f"}},
			{"utimens and chown", func(tx Tx) error {
				e, err := tx.Get(ctx, "m/d")
				if err != nil {
					return err
				}
				e.MTime, e.Owner = time.Unix(1, 0), &Owner{UID: 7, GID: 8}
				return tx.PutEntry(ctx, e)
			}, []string{"m/d"}},
			{"delete model", func(tx Tx) error { return tx.DeleteModel(ctx, "n") }, []string{"n"}},
			{"object only", func(tx Tx) error {
				return tx.PutObject(ctx, Object{ID: fakeID("loose"), Strategy: "blob", RawSize: 1, StoredSize: 1})
			}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := bk.openTest(t)
				build(t, c, tree...)
				seq, err := c.LastChange(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if seq == 0 {
					t.Fatal("building the tree logged no change")
				}
				update(t, c, tt.fn)
				if got := changedPaths(t, c, seq); !slices.Equal(got, tt.want) {
					t.Errorf("changed %q, want %q", got, tt.want)
				}
			})
		}
	})
}

// putBlob puts a blob at path whose object is derived from content.
func putBlob(ctx context.Context, tx Tx, path, content string) error {
	id := fakeID(content)
	if err := tx.PutObject(ctx, Object{ID: id, Strategy: "blob", RawSize: 1, StoredSize: 1}); err != nil {
		return err
	}
	return tx.PutEntry(ctx, Entry{Path: path, Kind: KindBlob, Mode: 0o644, Size: 1, Object: id, ContentHash: id})
}

func TestChangesRolledBackAreNotLogged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		c := bk.openTest(t)
		build(t, c, "m/")
		seq, err := c.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err = c.Update(ctx, func(tx Tx) error {
			if err := putBlob(ctx, tx, "m/f", "f"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("update: %v", err)
		}
		update(t, c, func(tx Tx) error { return putBlob(ctx, tx, "m/g", "g") })
		// changedPaths also checks that the numbers follow on without a gap.
		if got := changedPaths(t, c, seq); !slices.Equal(got, []string{"m/g"}) {
			t.Errorf("changed %q, want [m/g]", got)
		}
	})
}

func TestChangesSeenByAnotherHandle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		loc := bk.store(t)
		a := bk.openAt(t, loc, 0)
		b := bk.openAt(t, loc, 0)
		if a.Origin() == b.Origin() {
			t.Fatalf("two handles share origin %q", a.Origin())
		}
		seq, err := b.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		build(t, a, "m/", "m/f")
		got, err := b.Changes(ctx, seq, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Changes) != 2 || got.Lost {
			t.Fatalf("b sees %+v, want the 2 changes of a", got)
		}
		for _, ch := range got.Changes {
			if ch.Origin != a.Origin() {
				t.Errorf("%q: origin %q, want a's %q", ch.Path, ch.Origin, a.Origin())
			}
		}
		// The limit bounds a batch; the next one goes on from its last seq.
		one, err := b.Changes(ctx, seq, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(one.Changes) != 1 || one.Changes[0] != got.Changes[0] {
			t.Errorf("limit 1: %+v, want %+v", one.Changes, got.Changes[:1])
		}
		if _, err := b.Changes(ctx, seq, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("limit 0: %v, want ErrInvalid", err)
		}
	})
}

func TestChangesPrunedAreReportedLost(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		old := changesKept
		changesKept = 5
		t.Cleanup(func() { changesKept = old })
		c := bk.openTest(t)
		build(t, c, "m/")
		seq, err := c.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			update(t, c, func(tx Tx) error { return putBlob(ctx, tx, "m/"+name, name) })
		}
		got, err := c.Changes(ctx, seq, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Lost {
			t.Errorf("8 changes with 5 kept: not reported lost")
		}
		if len(got.Changes) > 6 {
			t.Errorf("%d changes kept, want at most 6", len(got.Changes))
		}
		last, err := c.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if last != seq+8 {
			t.Errorf("last change %d, want %d", last, seq+8)
		}
		recent, err := c.Changes(ctx, last-2, 100)
		if err != nil {
			t.Fatal(err)
		}
		if recent.Lost || len(recent.Changes) != 2 {
			t.Errorf("the 2 newest changes: %+v", recent)
		}
	})
}
