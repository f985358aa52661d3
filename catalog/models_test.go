package catalog

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// modelMap returns name -> base for every model.
func modelMap(t *testing.T, c Catalog) map[string]string {
	t.Helper()
	ms, err := c.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, x := range ms {
		m[x.Name] = x.Base
	}
	return m
}

func setModels(t *testing.T, c Catalog, ms ...Model) {
	t.Helper()
	ctx := context.Background()
	update(t, c, func(tx Tx) error {
		for _, m := range ms {
			if err := tx.SetModel(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestModelsFollowTopLevelDirectories(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		type step func(tx Tx) error
		tests := []struct {
			name string
			do   step
			want map[string]string // models afterwards
			err  error
		}{
			{"initial", func(Tx) error { return nil },
				map[string]string{"base": "", "ft": "base", "ft2": "ft", "other": ""}, nil},
			{"mkdir registers a model", func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: "new", Kind: KindDir}) },
				map[string]string{"base": "", "ft": "base", "ft2": "ft", "other": "", "new": ""}, nil},
			{"nested mkdir does not", func(tx Tx) error { return tx.PutEntry(ctx, Entry{Path: "other/sub", Kind: KindDir}) },
				map[string]string{"base": "", "ft": "base", "ft2": "ft", "other": ""}, nil},
			{"renaming a base renames references", func(tx Tx) error { return tx.Rename(ctx, "base", "base2") },
				map[string]string{"base2": "", "ft": "base2", "ft2": "ft", "other": ""}, nil},
			{"renaming a model keeps its base", func(tx Tx) error { return tx.Rename(ctx, "ft", "ft-renamed") },
				map[string]string{"base": "", "ft-renamed": "base", "ft2": "ft-renamed", "other": ""}, nil},
			{"moving a model below the top deletes it", func(tx Tx) error { return tx.Rename(ctx, "ft", "other/ft") },
				map[string]string{"base": "", "ft2": "", "other": ""}, nil},
			{"moving a directory to the top makes a model", func(tx Tx) error { return tx.Rename(ctx, "other/dir", "promoted") },
				map[string]string{"base": "", "ft": "base", "ft2": "ft", "other": "", "promoted": ""}, nil},
			{"replacing an empty model deletes it", func(tx Tx) error { return tx.Rename(ctx, "other", "ft2") },
				map[string]string{"base": "", "ft": "base", "ft2": ""}, nil},
			{"deleting a base clears dependents", func(tx Tx) error {
				if err := tx.Delete(ctx, "base/w"); err != nil {
					return err
				}
				return tx.DeleteModel(ctx, "base")
			}, map[string]string{"ft": "", "ft2": "ft", "other": ""}, nil},
			{"DeleteModel of a non-empty model", func(tx Tx) error { return tx.DeleteModel(ctx, "base") }, nil, ErrNotEmpty},
			{"DeleteModel of a missing model", func(tx Tx) error { return tx.DeleteModel(ctx, "nope") }, nil, ErrNotFound},
			{"clear a base", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: "ft2"}) },
				map[string]string{"base": "", "ft": "base", "ft2": "", "other": ""}, nil},
			{"SetModel creates the directory", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: "made", Base: "ft2"}) },
				map[string]string{"base": "", "ft": "base", "ft2": "ft", "other": "", "made": "ft2"}, nil},
			{"missing base", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: "other", Base: "nope"}) }, nil, ErrNotFound},
			{"self base", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: "base", Base: "base"}) }, nil, ErrCycle},
			{"longer cycle", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: "base", Base: "ft2"}) }, nil, ErrCycle},
			{"nested model name", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: "other/dir"}) }, nil, ErrInvalidPath},
			{"escaping model name", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: ".."}) }, nil, ErrInvalidPath},
			{"model over a top-level file", func(tx Tx) error { return tx.SetModel(ctx, Model{Name: "file"}) }, nil, ErrNotDir},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := bk.openTest(t)
				build(t, c, "base/", "base/w", "ft/", "ft2/", "other/", "other/dir/", "file")
				setModels(t, c, Model{Name: "ft", Base: "base"}, Model{Name: "ft2", Base: "ft"})
				before := modelMap(t, c)
				err := c.Update(ctx, func(tx Tx) error { return tt.do(tx) })
				if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				want := tt.want
				if want == nil {
					want = before
				}
				got := modelMap(t, c)
				if len(got) != len(want) {
					t.Fatalf("models = %v, want %v", got, want)
				}
				for name, base := range want {
					if b, ok := got[name]; !ok || b != base {
						t.Fatalf("models = %v, want %v", got, want)
					}
				}
				// Every model is a top-level directory.
				for name := range got {
					e, err := c.Get(ctx, name)
					if err != nil || e.Kind != KindDir {
						t.Errorf("model %q has no directory: %v", name, err)
					}
				}
			})
		}
	})
}

func TestModelLookup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		c := bk.openTest(t)
		ctx := context.Background()
		build(t, c, "b/", "a/")
		setModels(t, c, Model{Name: "a", Base: "b"})
		m, err := c.Model(ctx, "a")
		if err != nil || m != (Model{Name: "a", Base: "b"}) {
			t.Fatalf("Model(a) = %+v, %v", m, err)
		}
		if _, err := c.Model(ctx, "zz"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Model(zz) = %v", err)
		}
		ms, _ := c.Models(ctx)
		if !slices.Equal(ms, []Model{{"a", "b"}, {"b", ""}}) {
			t.Fatalf("Models = %v", ms)
		}
	})
}
