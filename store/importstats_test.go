package store

import (
	"context"
	"path/filepath"
	"testing"
)

// An import's stored bytes are what Stats reports for the model, objects
// shared with identical files already in the store included; NewBytes are
// only what the import wrote.
func TestImportStoredBytesMatchStats(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	src := t.TempDir()
	w := weights(71, 40000)
	frozen := makeNPY(t, "<f4", []int64{40000}, f32bytes(weights(72, 40000)))
	writeTree(t, filepath.Join(src, "base"), map[string][]byte{
		"w.npy":      makeNPY(t, "<f4", []int64{40000}, f32bytes(w)),
		"frozen.npy": frozen,
	})
	writeTree(t, filepath.Join(src, "ft"), map[string][]byte{
		"w.npy":      makeNPY(t, "<f4", []int64{40000}, f32bytes(fineTune(73, w, 0.05))),
		"frozen.npy": frozen, // unchanged by the fine-tune: deduplicated
		"copy.npy":   frozen, // twice in one import
	})
	if _, err := s.Import(ctx, filepath.Join(src, "base"), "base", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Import(ctx, filepath.Join(src, "ft"), "ft", ImportOptions{Base: "base"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ft UsageStats
	for _, m := range st.Models {
		if m.Name == "ft" {
			ft = m
		}
	}
	if res.StoredBytes != ft.StoredBytes || res.LogicalBytes != ft.LogicalBytes {
		t.Errorf("import: %d stored of %d; stats: %d of %d", res.StoredBytes, res.LogicalBytes, ft.StoredBytes, ft.LogicalBytes)
	}
	wi, _ := s.Stat(ctx, "ft/w.npy")
	fi, _ := s.Stat(ctx, "ft/frozen.npy")
	if res.NewBytes != wi.StoredSize || res.StoredBytes != wi.StoredSize+fi.StoredSize {
		t.Errorf("import: %d new, %d stored; want %d new (the delta) and %d stored (delta + shared frozen tensor)",
			res.NewBytes, res.StoredBytes, wi.StoredSize, wi.StoredSize+fi.StoredSize)
	}
}
