package store

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"deltafs/catalog"
	"deltafs/internal/testenv"
)

// writeTree writes files (slash paths) under dir.
func writeTree(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// modelFiles returns a small base model and a fine-tune of it.
func modelFiles(t testing.TB) (base, tuned map[string][]byte) {
	base, tuned = map[string][]byte{}, map[string][]byte{}
	for i, name := range []string{"embed.npy", "layers/0/wq.npy", "layers/0/wk.npy", "layers/1/wq.npy"} {
		w := weights(uint64(200+i), 30000)
		base[name] = makeNPY(t, "<f4", []int64{100, 300}, f32bytes(w))
		tuned[name] = makeNPY(t, "<f4", []int64{100, 300}, f32bytes(fineTune(uint64(300+i), w, 0.05)))
	}
	base["config.json"] = []byte(`{"layers": 2}`)
	tuned["config.json"] = []byte(`{"layers": 2, "tuned": true}`)
	tuned["broken.npy"] = []byte("\x93NUMPY garbage")
	return base, tuned
}

func TestImportExportVerifyStats(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	src := t.TempDir()
	base, tuned := modelFiles(t)
	writeTree(t, filepath.Join(src, "base"), base)
	writeTree(t, filepath.Join(src, "tuned"), tuned)

	var last [2]int64
	res, err := s.Import(ctx, filepath.Join(src, "base"), "base", ImportOptions{Progress: func(d, tot int64) { last = [2]int64{d, tot} }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 5 || res.Tensors != 4 || res.Blobs != 1 || len(res.Warnings) != 0 {
		t.Errorf("base import: %+v", res)
	}
	if last[0] != last[1] || last[1] == 0 {
		t.Errorf("progress ended at %d of %d", last[0], last[1])
	}
	res, err = s.Import(ctx, filepath.Join(src, "tuned"), "tuned", ImportOptions{Base: "base"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 6 || res.Blobs != 2 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "broken.npy") {
		t.Errorf("tuned import: %+v", res)
	}
	if res.StoredBytes*3 > res.LogicalBytes {
		t.Errorf("fine-tune stored %d of %d bytes: deltas did not pay", res.StoredBytes, res.LogicalBytes)
	}
	fi, err := s.Stat(ctx, "tuned/layers/0/wq.npy")
	if err != nil || fi.Base != "base/layers/0/wq.npy" {
		t.Errorf("Stat: %+v %v", fi, err)
	}
	if fi, _ := s.Stat(ctx, "tuned"); fi.Base != "base" || !fi.IsDir() {
		t.Errorf("model Stat: %+v", fi)
	}

	// Errors a user meets.
	if _, err := s.Import(ctx, filepath.Join(src, "tuned"), "tuned", ImportOptions{}); !errors.Is(err, ErrExist) {
		t.Errorf("import over an existing model: %v", err)
	}
	if _, err := s.Import(ctx, filepath.Join(src, "tuned"), "x", ImportOptions{Base: "nope"}); !errors.Is(err, ErrNoBase) {
		t.Errorf("import with a missing base: %v", err)
	}
	if _, err := s.Import(ctx, filepath.Join(src, "absent"), "y", ImportOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("import of a missing source: %v", err)
	}
	for _, bad := range []string{"..", "a/b", "", "."} {
		if _, err := s.Import(ctx, filepath.Join(src, "tuned"), bad, ImportOptions{}); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("import as %q: %v", bad, err)
		}
	}
	if _, err := s.Stat(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed import left model x: %v", err)
	}

	// Export: byte-identical, file and directory.
	out := t.TempDir()
	if err := s.Export(ctx, "tuned", filepath.Join(out, "tuned"), nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range tuned {
		got, err := os.ReadFile(filepath.Join(out, "tuned", filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("exported %s differs (%v)", name, err)
		}
	}
	if err := s.Export(ctx, "base/layers/0/wq.npy", out, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "wq.npy")); !bytes.Equal(got, base["layers/0/wq.npy"]) {
		t.Error("single-file export differs")
	}

	problems, err := s.Verify(ctx, "", nil)
	if err != nil || len(problems) != 0 {
		t.Errorf("Verify: %v %v", problems, err)
	}

	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Models) != 2 || st.Models[0].Name != "base" || st.Models[1].Name != "tuned" {
		t.Fatalf("Stats models: %+v", st.Models)
	}
	if st.Total.Files != 11 || st.Models[1].Ratio() < 3 || st.Total.Ratio() <= 1 {
		t.Errorf("Stats: total %+v (ratio %.2f), tuned ratio %.2f", st.Total, st.Total.Ratio(), st.Models[1].Ratio())
	}
	var strategies []string
	for _, u := range st.Strategies {
		strategies = append(strategies, u.Name)
	}
	if !strings.Contains(strings.Join(strategies, ","), "blob") {
		t.Errorf("strategies %v lack blob", strategies)
	}
	t.Logf("total %d/%d bytes ratio %.2f; tuned ratio %.2f", st.Total.LogicalBytes, st.Total.StoredBytes, st.Total.Ratio(), st.Models[1].Ratio())
}

func TestImportNPZ(t *testing.T) {
	py := testenv.Python(t)
	dir := t.TempDir()
	script := `
import numpy as np, sys, os
d = sys.argv[1]
rng = np.random.default_rng(0)
w = {"wq": rng.standard_normal((64, 64)).astype(np.float32), "bias": np.arange(10, dtype=np.int64)}
np.savez(os.path.join(d, "plain.npz"), **w)
np.savez_compressed(os.path.join(d, "deflated.npz"), **w)
for k, v in w.items():
    np.save(os.path.join(d, k + ".npy"), v)
`
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	s := newStore(t, Options{})
	ctx := context.Background()
	for _, name := range []string{"plain", "deflated"} {
		t.Run(name, func(t *testing.T) {
			res, err := s.Import(ctx, filepath.Join(dir, name+".npz"), name, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Tensors != 2 {
				t.Errorf("%+v", res)
			}
			for _, k := range []string{"wq", "bias"} {
				want, _ := os.ReadFile(filepath.Join(dir, k+".npy"))
				if got := readFile(t, s, name+"/"+k+".npy"); !bytes.Equal(got, want) {
					t.Errorf("%s/%s.npy differs from np.save's file", name, k)
				}
			}
		})
	}
	left, _ := os.ReadDir(s.StagingDir())
	if len(left) != 0 {
		t.Errorf("npz import left %d staging files", len(left))
	}
}

func TestImportNPZPathEscapes(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	for _, member := range []string{"../evil.npy", "/abs.npy", "a/../../b.npy", "a/./b.npy", "a\\..\\b.npy", "a//b.npy", "./x.npy"} {
		t.Run(member, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "bad.npz")
			f, _ := os.Create(name)
			zw := zip.NewWriter(f)
			w, _ := zw.Create("fine.npy")
			w.Write(makeNPY(t, "<f4", []int64{2}, make([]byte, 8)))
			w, _ = zw.Create(member)
			w.Write([]byte("x"))
			zw.Close()
			f.Close()
			_, err := s.Import(ctx, name, "m", ImportOptions{})
			if !errors.Is(err, ErrInvalidPath) {
				t.Errorf("member %q: err = %v, want ErrInvalidPath", member, err)
			}
			if _, err := s.Stat(ctx, "m"); !errors.Is(err, ErrNotFound) {
				t.Errorf("a refused import created the model")
			}
		})
	}
	entries, _ := s.catalog.Walk(ctx, "")
	if len(entries) != 1 {
		t.Errorf("catalog holds %d entries, want only the root", len(entries))
	}
}

func TestRemoveAllAndGC(t *testing.T) {
	s := newStore(t, Options{})
	s.stagingGrace = 0
	ctx := context.Background()
	src := t.TempDir()
	base, tuned := modelFiles(t)
	writeTree(t, filepath.Join(src, "base"), base)
	writeTree(t, filepath.Join(src, "tuned"), tuned)
	if _, err := s.Import(ctx, filepath.Join(src, "base"), "base", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, filepath.Join(src, "tuned"), "tuned", ImportOptions{Base: "base"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.StagingDir(), "stale"), []byte("x"), 0o644)

	// Removing the base model keeps the objects its fine-tune's deltas need.
	if err := s.RemoveAll(ctx, "base"); err != nil {
		t.Fatal(err)
	}
	res, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.ObjectsRemoved != 1 || res.StagingRemoved != 1 { // only base's config.json
		t.Errorf("GC after removing the base: %+v", res)
	}
	for name, want := range tuned {
		if got := readFile(t, s, "tuned/"+name); !bytes.Equal(got, want) {
			t.Errorf("tuned/%s unreadable after GC", name)
		}
	}
	if fi, _ := s.Stat(ctx, "tuned/embed.npy"); !strings.HasPrefix(fi.Base, "object:") {
		t.Errorf("Base of a delta whose base file is gone: %q", fi.Base)
	}
	if problems, err := s.Verify(ctx, "", nil); err != nil || len(problems) != 0 {
		t.Errorf("Verify: %v %v", problems, err)
	}
	if err := s.RemoveAll(ctx, "tuned"); err != nil {
		t.Fatal(err)
	}
	res, err = s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := s.objects.List(ctx)
	recs, _ := s.catalog.Objects(ctx)
	if len(ids) != 0 || len(recs) != 0 {
		t.Errorf("after removing everything: %d files, %d records left (%+v)", len(ids), len(recs), res)
	}
	if err := s.RemoveAll(ctx, ""); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("RemoveAll of the root: %v", err)
	}
}

// TestGCInterruptedAtEveryStep stops GC after each step as a crash would
// and checks that the store stays valid and the next GC finishes the job.
func TestGCInterruptedAtEveryStep(t *testing.T) {
	for _, stop := range []string{"records-deleted", "object-deleted"} {
		t.Run(stop, func(t *testing.T) {
			s := newStore(t, Options{})
			ctx := context.Background()
			mustMkdir(t, s, "m")
			for i := range 4 {
				ingestBytes(t, s, "m/"+string(rune('a'+i))+".bin", randomBytes(uint64(i), 1000))
			}
			keep := randomBytes(99, 1000)
			ingestBytes(t, s, "m/keep.bin", keep)
			for i := range 4 {
				if err := s.Remove(ctx, "m/"+string(rune('a'+i))+".bin"); err != nil {
					t.Fatal(err)
				}
			}
			crash := errors.New("crash")
			s.gcInterrupt = func(step string) error {
				if step == stop {
					return crash
				}
				return nil
			}
			if _, err := s.GC(ctx); !errors.Is(err, crash) {
				t.Fatalf("GC: %v", err)
			}
			s.gcInterrupt = nil
			// Valid: every record's file exists, everything live reads.
			recs, _ := s.catalog.Objects(ctx)
			for _, r := range recs {
				if ok, _ := s.objects.Has(ctx, r.ID); !ok {
					t.Errorf("record %s has no file after an interrupted GC", shortID(r.ID))
				}
			}
			if problems, err := s.Verify(ctx, "", nil); err != nil || len(problems) != 0 {
				t.Errorf("Verify after an interrupted GC: %v %v", problems, err)
			}
			if _, err := s.GC(ctx); err != nil {
				t.Fatal(err)
			}
			ids, _ := s.objects.List(ctx)
			if len(ids) != 1 {
				t.Errorf("after the second GC %d objects remain, want 1", len(ids))
			}
			if got := readFile(t, s, "m/keep.bin"); !bytes.Equal(got, keep) {
				t.Error("live file damaged")
			}
		})
	}
}

func TestGCRefusesWhileAnotherProcessHasTheStore(t *testing.T) {
	s := newStore(t, Options{})
	other, err := Open(s.Dir(), Options{ReadOnly: true}) // a second open file description
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(context.Background()); !errors.Is(err, ErrBusy) {
		t.Errorf("GC beside another open: %v, want ErrBusy", err)
	}
	other.Close()
	if _, err := s.GC(context.Background()); err != nil {
		t.Errorf("GC alone: %v", err)
	}
	if _, err := s.Stat(context.Background(), ""); err != nil {
		t.Errorf("store unusable after GC: %v", err)
	}
	_ = catalog.KindDir
}
