package catalog

import (
	"context"
	"errors"
	"maps"
	"testing"
)

// TestSettings: store-wide and per-model settings are kept, replaced and
// removed; a model's follow its renames and go with it; an unknown model
// is refused.
func TestSettings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		c := bk.openTest(t)
		setModels(t, c, Model{Name: "m"})
		steps := []struct {
			name        string
			do          func(tx Tx) error
			model       string
			want        map[string]string
			wantErrorIs error
		}{
			{"empty", nil, "", map[string]string{}, nil},
			{"store", func(tx Tx) error { return tx.SetSetting(ctx, "", "k", "1") }, "", map[string]string{"k": "1"}, nil},
			{"model", func(tx Tx) error { return tx.SetSetting(ctx, "m", "k", "2") }, "m", map[string]string{"k": "2"}, nil},
			{"replace", func(tx Tx) error { return tx.SetSetting(ctx, "m", "k", "3") }, "m", map[string]string{"k": "3"}, nil},
			{"store untouched", nil, "", map[string]string{"k": "1"}, nil},
			{"rename", func(tx Tx) error { return tx.Rename(ctx, "m", "n") }, "n", map[string]string{"k": "3"}, nil},
			{"remove", func(tx Tx) error { return tx.SetSetting(ctx, "", "k", "") }, "", map[string]string{}, nil},
			{"delete model", func(tx Tx) error { return tx.DeleteModel(ctx, "n") }, "n", map[string]string{}, nil},
			{"unknown model", func(tx Tx) error { return tx.SetSetting(ctx, "n", "k", "1") }, "n", map[string]string{}, ErrNotFound},
			{"empty key", func(tx Tx) error { return tx.SetSetting(ctx, "", "", "1") }, "", map[string]string{}, ErrInvalid},
		}
		for _, st := range steps {
			if st.do != nil {
				err := c.Update(ctx, st.do)
				if st.wantErrorIs == nil && err != nil || st.wantErrorIs != nil && !errors.Is(err, st.wantErrorIs) {
					t.Fatalf("%s: %v, want %v", st.name, err, st.wantErrorIs)
				}
			}
			got, err := c.Settings(ctx, st.model)
			if err != nil || !maps.Equal(got, st.want) {
				t.Fatalf("%s: Settings(%q) = %v, %v; want %v", st.name, st.model, got, err, st.want)
			}
		}
		// A re-created model of the same name starts without settings.
		setModels(t, c, Model{Name: "n"})
		if got, _ := c.Settings(ctx, "n"); len(got) != 0 {
			t.Errorf("re-created model has settings %v", got)
		}
	})
}

// TestSketches: a sketch is kept per object and goes with its record.
func TestSketches(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		c := bk.openTest(t)
		id := fakeID("a")
		if _, err := c.Sketch(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no sketch yet: %v", err)
		}
		if err := c.Update(ctx, func(tx Tx) error { return tx.PutSketch(ctx, id, []byte{1}) }); !errors.Is(err, ErrDanglingRef) {
			t.Fatalf("sketch of an unrecorded object: %v", err)
		}
		update(t, c, func(tx Tx) error {
			if err := tx.PutObject(ctx, Object{ID: id, Strategy: "auto", RawSize: 4, StoredSize: 9}); err != nil {
				return err
			}
			return tx.PutSketch(ctx, id, []byte{1, 2, 3})
		})
		if got, err := c.Sketch(ctx, id); err != nil || string(got) != "\x01\x02\x03" {
			t.Fatalf("Sketch = %v, %v", got, err)
		}
		update(t, c, func(tx Tx) error { return tx.DeleteObject(ctx, id) })
		if _, err := c.Sketch(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("sketch after its object went: %v", err)
		}
	})
}

// TestObjectRefMatch: how a reference was chosen is kept with the object.
func TestObjectRefMatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		c := bk.openTest(t)
		ref, id := fakeID("ref"), fakeID("obj")
		want := Object{ID: id, Ref: ref, Strategy: "auto", RawSize: 4, StoredSize: 9, RefMatch: "similarity", RefSimilarity: 0.99}
		update(t, c, func(tx Tx) error {
			if err := tx.PutObject(ctx, Object{ID: ref, Strategy: "auto", RawSize: 4, StoredSize: 9}); err != nil {
				return err
			}
			return tx.PutObject(ctx, want)
		})
		if got, err := c.Object(ctx, id); err != nil || got != want {
			t.Fatalf("Object = %+v, %v; want %+v", got, err, want)
		}
		err := c.Update(ctx, func(tx Tx) error {
			return tx.PutObject(ctx, Object{ID: fakeID("x"), Strategy: "auto", RefMatch: "path"})
		})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("a match without a reference: %v", err)
		}
	})
}
