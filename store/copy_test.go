package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// copySource is a store holding a safetensors base "b", a fine-tune "f"
// of it (sharded, plus an .npy tensor and a setting) and "g", a second
// fine-tune of b sharing f's shards.
func copySource(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s := newStore(t, Options{})
	base, ft := stFolders(t)
	if _, err := s.Import(ctx, base, "b", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"f", "g"} {
		if _, err := s.Import(ctx, ft, m, ImportOptions{Base: "b"}); err != nil {
			t.Fatal(err)
		}
	}
	w := weights(3, 5000)
	ingestBytes(t, s, "f/extra.npy", makeNPY(t, "<f4", []int64{5000}, f32bytes(fineTune(4, w, 0.1))))
	if err := s.Chtimes(ctx, "f/extra.npy", time.Unix(1_600_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSetting(ctx, "f", KeyCompressionLevel, "7"); err != nil {
		t.Fatal(err)
	}
	return s
}

// exportAll exports every model of s into a new directory and returns it.
func exportAll(t *testing.T, s *Store, models ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, m := range models {
		if err := s.Export(context.Background(), m, filepath.Join(dir, m), nil); err != nil {
			t.Fatalf("export %s: %v", m, err)
		}
	}
	return dir
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	src := copySource(t)
	want := exportAll(t, src, "b", "f", "g")
	for _, tc := range []struct {
		name       string
		preload    []string // copied into the destination first
		models     []string
		wantModels []string
		wantPulled []string
		wantErr    error
		present    bool // objects of the destination are reused
		nothingNew bool // every object is already there
	}{
		{name: "fine-tune brings its base", models: []string{"f"}, wantModels: []string{"b", "f"}, wantPulled: []string{"b"}},
		{name: "every model", wantModels: []string{"b", "f", "g"}},
		{name: "base already there", preload: []string{"b"}, models: []string{"f"}, wantModels: []string{"f"}, present: true},
		{name: "second fine-tune reuses shared objects", preload: []string{"f"}, models: []string{"g"}, wantModels: []string{"g"}, present: true, nothingNew: true},
		{name: "model already there", preload: []string{"b"}, models: []string{"b"}, wantErr: ErrExist},
		{name: "no such model", models: []string{"nope"}, wantErr: ErrNotFound},
		{name: "not a model", models: []string{"f/extra.npy"}, wantErr: ErrInvalidPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := newStore(t, Options{})
			if len(tc.preload) > 0 {
				if _, err := dst.Copy(ctx, src, CopyOptions{Models: tc.preload}); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := dst.catalog.Models(ctx)
			var last int64
			res, err := dst.Copy(ctx, src, CopyOptions{Models: tc.models, Progress: func(done, total int64) {
				if done < last || done > total {
					t.Errorf("progress %d of %d after %d", done, total, last)
				}
				last = done
			}})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Copy: %v, want %v", err, tc.wantErr)
				}
				after, _ := dst.catalog.Models(ctx)
				if len(after) != len(before) || res.Objects != 0 {
					t.Errorf("a refused copy changed the destination: models %v → %v, %d objects sent", before, after, res.Objects)
				}
				return
			}
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if !slices.Equal(res.Models, tc.wantModels) || !slices.Equal(res.Pulled, tc.wantPulled) {
				t.Errorf("copied %v (pulled %v), want %v (pulled %v)", res.Models, res.Pulled, tc.wantModels, tc.wantPulled)
			}
			if tc.present != (res.Present > 0) {
				t.Errorf("%d objects found in the destination, want some: %v", res.Present, tc.present)
			}
			if tc.nothingNew != (res.Objects == 0) || (res.Objects == 0) != (res.Bytes == 0) {
				t.Errorf("transferred %d objects, %d bytes", res.Objects, res.Bytes)
			}
			for _, m := range res.Models {
				sameTree(t, filepath.Join(want, m), exportAll(t, dst, m)+"/"+m)
			}
			again, err := dst.Copy(ctx, src, CopyOptions{Models: tc.models})
			if !errors.Is(err, ErrExist) || again.Objects != 0 {
				t.Errorf("second copy: %v, %d objects; want ErrExist and nothing sent", err, again.Objects)
			}
			if probs, err := dst.Verify(ctx, "", nil); err != nil || len(probs) > 0 {
				t.Errorf("verify of the destination: %v %v", probs, err)
			}
		})
	}
}

// TestCopyKeepsAttributes checks what export does not show: bases, settings,
// owners and modes.
func TestCopyKeepsAttributes(t *testing.T) {
	ctx := context.Background()
	src := copySource(t)
	if err := src.Chmod(ctx, "f/extra.npy", 0o600); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t, Options{})
	if _, err := dst.Copy(ctx, src, CopyOptions{Models: []string{"f"}}); err != nil {
		t.Fatal(err)
	}
	m, err := dst.catalog.Model(ctx, "f")
	if err != nil || m.Base != "b" {
		t.Errorf("model f: %+v %v, want base b", m, err)
	}
	got, _ := dst.catalog.Settings(ctx, "f")
	if got[KeyCompressionLevel] != "7" {
		t.Errorf("settings of f: %v", got)
	}
	a, _ := src.Stat(ctx, "f/extra.npy")
	b, _ := dst.Stat(ctx, "f/extra.npy")
	if a.Mode != b.Mode || !a.MTime.Equal(b.MTime) || a.UID != b.UID || a.GID != b.GID || a.Size != b.Size {
		t.Errorf("attributes: source %+v, copy %+v", a, b)
	}
}

// TestCopyCorruptSource: an object whose bytes do not match its name stops
// the copy before any model is committed, and its copy is not kept.
func TestCopyCorruptSource(t *testing.T) {
	ctx := context.Background()
	src := copySource(t)
	e, err := src.catalog.Get(ctx, "f/extra.npy")
	if err != nil {
		t.Fatal(err)
	}
	name := objectFile(t, src, e.Object)
	st, _ := os.Stat(name)
	flipByte(t, name, st.Size()/2)
	dst := newStore(t, Options{})
	_, err = dst.Copy(ctx, src, CopyOptions{Models: []string{"f"}})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Copy: %v, want ErrCorrupt", err)
	}
	if ms, _ := dst.catalog.Models(ctx); len(ms) != 0 {
		t.Errorf("models after a failed copy: %v", ms)
	}
	if _, err := dst.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, _ := dst.objects.List(ctx); len(ids) != 0 {
		t.Errorf("%d objects left after a failed copy and gc", len(ids))
	}
}
