package catalog

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
)

func TestPutObject(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		id, ref := fakeID("o"), fakeID("r")
		tests := []struct {
			name string
			o    Object
			want error
		}{
			{"standalone", Object{ID: id, Strategy: "blob", RawSize: 10, StoredSize: 5}, nil},
			{"with recorded ref", Object{ID: id, Ref: ref, Strategy: "xor", Lossy: true, RawSize: 10, StoredSize: 5}, nil},
			{"unrecorded ref", Object{ID: id, Ref: fakeID("nope"), Strategy: "xor"}, ErrDanglingRef},
			{"self ref", Object{ID: id, Ref: id, Strategy: "xor"}, ErrInvalid},
			{"bad id", Object{ID: "xyz", Strategy: "blob"}, ErrInvalid},
			{"upper-case id", Object{ID: "A" + id[1:], Strategy: "blob"}, ErrInvalid},
			{"bad ref", Object{ID: id, Ref: "r", Strategy: "blob"}, ErrInvalid},
			{"no strategy", Object{ID: id}, ErrInvalid},
			{"negative size", Object{ID: id, Strategy: "blob", RawSize: -1}, ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := bk.openTest(t)
				update(t, c, func(tx Tx) error { return tx.PutObject(ctx, Object{ID: ref, Strategy: "blob"}) })
				err := c.Update(ctx, func(tx Tx) error { return tx.PutObject(ctx, tt.o) })
				if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
					t.Fatalf("PutObject = %v, want %v", err, tt.want)
				}
				got, getErr := c.Object(ctx, tt.o.ID)
				if err == nil && (getErr != nil || got != tt.o) {
					t.Fatalf("Object = %+v, %v; want %+v", got, getErr, tt.o)
				}
				if err != nil && !errors.Is(getErr, ErrNotFound) && tt.o.ID != ref {
					t.Fatalf("failed PutObject left a record: %+v, %v", got, getErr)
				}
			})
		}
	})
}

func TestPutObjectExistingIsNoOp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		first := Object{ID: fakeID("o"), Strategy: "blob", RawSize: 3, StoredSize: 3}
		update(t, c, func(tx Tx) error { return tx.PutObject(ctx, first) })
		update(t, c, func(tx Tx) error {
			return tx.PutObject(ctx, Object{ID: first.ID, Strategy: "other", RawSize: 9, StoredSize: 9})
		})
		if got, _ := c.Object(ctx, first.ID); got != first {
			t.Fatalf("Object = %+v, want the first record %+v", got, first)
		}
	})
}

func TestDanglingReferencesFailTheCommit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		build(t, c, "m/", "m/f")
		used := fakeID("m/f")
		tests := []struct {
			name string
			fn   func(tx Tx) error
			want error
		}{
			{"entry with unrecorded object", func(tx Tx) error {
				return tx.PutEntry(ctx, Entry{Path: "m/g", Kind: KindBlob, Object: fakeID("unrecorded")})
			}, ErrDanglingRef},
			{"delete an object an entry uses", func(tx Tx) error { return tx.DeleteObject(ctx, used) }, ErrDanglingRef},
			{"delete an object and its entry", func(tx Tx) error {
				if err := tx.DeleteObject(ctx, used); err != nil {
					return err
				}
				return tx.Delete(ctx, "m/f")
			}, nil},
			{"delete a missing object", func(tx Tx) error { return tx.DeleteObject(ctx, fakeID("nope")) }, ErrNotFound},
			{"entry first, object later in the same tx", func(tx Tx) error {
				id := fakeID("later")
				if err := tx.PutEntry(ctx, Entry{Path: "m/later", Kind: KindBlob, Object: id}); err != nil {
					return err
				}
				return tx.PutObject(ctx, Object{ID: id, Strategy: "blob"})
			}, nil},
		}
		for _, tt := range tests {
			err := c.Update(ctx, tt.fn)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
			if tt.want == nil {
				build(t, c, "m/f") // restore for the next case
			}
		}
	})
}

func TestLiveObjects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		id := func(s string) string { return fakeID("obj " + s) }
		// Chain: base <- mid <- top (top decodes against mid, mid against base);
		// dead2 <- dead1 are referenced by nothing; shared is used twice.
		objs := []Object{
			{ID: id("base"), Strategy: "blob"},
			{ID: id("mid"), Ref: id("base"), Strategy: "xor"},
			{ID: id("top"), Ref: id("mid"), Strategy: "xor"},
			{ID: id("dead2"), Strategy: "blob"},
			{ID: id("dead1"), Ref: id("dead2"), Strategy: "xor"},
			{ID: id("shared"), Ref: id("base"), Strategy: "xor"},
			{ID: id("solo"), Strategy: "blob"},
		}
		update(t, c, func(tx Tx) error {
			for _, o := range objs {
				if err := tx.PutObject(ctx, o); err != nil {
					return err
				}
			}
			for p, o := range map[string]string{"a": "top", "b": "shared", "c": "shared", "d": "solo"} {
				if err := tx.PutEntry(ctx, Entry{Path: p, Kind: KindBlob, Object: id(o)}); err != nil {
					return err
				}
			}
			return nil
		})
		want := []string{id("base"), id("mid"), id("top"), id("shared"), id("solo")}
		slices.Sort(want)
		live, err := c.LiveObjects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(live)); !slices.Equal(got, want) {
			t.Fatalf("LiveObjects = %v, want %v", got, want)
		}
		all, _ := c.Objects(ctx)
		if len(all) != len(objs) {
			t.Fatalf("Objects = %d records, want %d", len(all), len(objs))
		}

		// Removing the only user of the chain leaves base live through shared;
		// collecting the dead in one transaction, in any order, commits.
		update(t, c, func(tx Tx) error {
			if err := tx.Delete(ctx, "a"); err != nil {
				return err
			}
			live, err := tx.LiveObjects(ctx)
			if err != nil {
				return err
			}
			objs, err := tx.Objects(ctx)
			if err != nil {
				return err
			}
			for _, o := range objs {
				if !live[o.ID] {
					if err := tx.DeleteObject(ctx, o.ID); err != nil {
						return err
					}
				}
			}
			return nil
		})
		left, _ := c.Objects(ctx)
		var ids []string
		for _, o := range left {
			ids = append(ids, o.ID)
		}
		want = []string{id("base"), id("shared"), id("solo")}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("after collection: %v, want %v", ids, want)
		}
	})
}
