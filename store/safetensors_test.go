package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"deltafs/catalog"
	"deltafs/delta"
	"deltafs/internal/testenv"
	"deltafs/safetensors"
)

// bf16bytes keeps the upper halves of float32s: bf16 values, 2 bytes each.
func bf16bytes(w []float32) []byte {
	f := f32bytes(w)
	b := make([]byte, 0, len(f)/2)
	for i := 0; i < len(f); i += 4 {
		b = append(b, f[i+2], f[i+3])
	}
	return b
}

// stModel is a small model's tensors: bf16 matrices, an f32 norm, an int
// buffer; ft=true perturbs the weights as a fine-tune does.
func stModel(ft bool) []safetensors.Tensor {
	var out []safetensors.Tensor
	for i, name := range []string{"layers.0.wq", "layers.0.wk", "layers.1.wq", "embed"} {
		w := weights(uint64(10+i), 64*256)
		if ft {
			w = fineTune(uint64(20+i), w, 0.5)
			for j := range w {
				w[j] *= 1.01 // moves bf16 values, not only the dropped low halves
			}
		}
		out = append(out, safetensors.Tensor{Spec: safetensors.Spec{Name: name, DType: safetensors.BF16, Shape: []int64{64, 256}}, Data: bf16bytes(w)})
	}
	norm := weights(30, 256)
	out = append(out, safetensors.Tensor{Spec: safetensors.Spec{Name: "norm", DType: safetensors.F32, Shape: []int64{256}}, Data: f32bytes(norm)})
	out = append(out, safetensors.Tensor{Spec: safetensors.Spec{Name: "steps", DType: safetensors.I64, Shape: []int64{}}, Data: make([]byte, 8)})
	out = append(out, safetensors.Tensor{Spec: safetensors.Spec{Name: "empty", DType: safetensors.F16, Shape: []int64{0, 3}}})
	return out
}

func writeST(t testing.TB, path string, meta map[string]string, tensors []safetensors.Tensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := safetensors.Write(&buf, meta, tensors); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// stFolders writes a Hugging Face style base folder (one file) and a
// fine-tune folder sharded in two with its index, and returns their paths.
func stFolders(t testing.TB) (base, ft string) {
	dir := t.TempDir()
	base, ft = filepath.Join(dir, "base"), filepath.Join(dir, "ft")
	writeST(t, filepath.Join(base, "model.safetensors"), map[string]string{"format": "pt"}, stModel(false))
	tensors := stModel(true)
	writeST(t, filepath.Join(ft, "model-00001-of-00002.safetensors"), map[string]string{"format": "pt"}, tensors[:2])
	writeST(t, filepath.Join(ft, "model-00002-of-00002.safetensors"), nil, tensors[2:])
	index := `{"metadata":{"total_size":0},"weight_map":{"layers.0.wq":"model-00001-of-00002.safetensors","layers.0.wk":"model-00001-of-00002.safetensors",` +
		`"layers.1.wq":"model-00002-of-00002.safetensors","embed":"model-00002-of-00002.safetensors","norm":"model-00002-of-00002.safetensors",` +
		`"steps":"model-00002-of-00002.safetensors","empty":"model-00002-of-00002.safetensors"}}`
	for _, d := range []string{base, ft} {
		if err := os.WriteFile(filepath.Join(d, "config.json"), []byte(`{"hidden_size": 256}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ft, "model.safetensors.index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	return base, ft
}

// sameTree fails unless every file under want is byte-identical under got.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	err := filepath.WalkDir(want, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs after the round trip (%v)", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSafetensorsImportExport(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	baseDir, ftDir := stFolders(t)
	if _, err := s.Import(ctx, baseDir, "base", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Import(ctx, ftDir, "ft", ImportOptions{Base: "base"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 4 || len(res.Warnings) != 0 {
		t.Fatalf("import: %+v", res)
	}
	// Each tensor is a part; the fine-tune's large ones decode against the
	// base's tensor of the same name, across the two shardings.
	withRef := 0
	for _, shard := range []string{"ft/model-00001-of-00002.safetensors", "ft/model-00002-of-00002.safetensors"} {
		parts, err := s.catalog.Parts(ctx, shard)
		if err != nil || len(parts) == 0 {
			t.Fatalf("parts of %s: %v, %v", shard, parts, err)
		}
		for _, p := range parts {
			rec, err := s.catalog.Object(ctx, p.Object)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Ref != "" {
				withRef++
			}
			if p.DType == "BF16" && rec.RawSize != p.Size {
				t.Fatalf("bf16 tensor %s: object of %d bytes for %d (widened?)", p.Name, rec.RawSize, p.Size)
			}
		}
	}
	if withRef < 4 {
		t.Fatalf("%d tensors of the fine-tune decode against the base, want the 4 matrices", withRef)
	}
	fi, err := s.Stat(ctx, "ft/model-00002-of-00002.safetensors")
	if err != nil || fi.Strategy != partsStrategy || fi.StoredSize <= 0 || fi.Kind != catalog.KindBlob {
		t.Fatalf("Stat: %+v, %v", fi, err)
	}
	// Export is byte-identical; so is every read of a range.
	out := t.TempDir()
	for _, m := range []string{"base", "ft"} {
		if err := s.Export(ctx, m, filepath.Join(out, m), nil); err != nil {
			t.Fatal(err)
		}
	}
	sameTree(t, baseDir, filepath.Join(out, "base"))
	sameTree(t, ftDir, filepath.Join(out, "ft"))
	want, _ := os.ReadFile(filepath.Join(ftDir, "model-00002-of-00002.safetensors"))
	f, err := s.Open(ctx, "ft/model-00002-of-00002.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int64{{0, 8}, {5, 300}, {100, 40000}, {int64(len(want)) - 10, 10}, {0, int64(len(want))}} {
		buf := make([]byte, r[1])
		if n, err := f.ReadAt(buf, r[0]); (err != nil && n != len(buf)) || !bytes.Equal(buf[:n], want[r[0]:r[0]+int64(n)]) {
			t.Fatalf("ReadAt(%d, %d): %d bytes, %v", r[0], r[1], n, err)
		}
	}
	if problems, err := s.Verify(ctx, "", nil); err != nil || len(problems) != 0 {
		t.Fatalf("Verify: %v, %v", problems, err)
	}
	// GC keeps the parts' objects; removing the base keeps the fine-tune.
	if err := s.RemoveAll(ctx, "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, s, "ft/model-00002-of-00002.safetensors"); !bytes.Equal(got, want) {
		t.Fatal("the fine-tune changed after removing its base and a GC")
	}
	if problems, err := s.Verify(ctx, "", nil); err != nil || len(problems) != 0 {
		t.Fatalf("Verify after GC: %v, %v", problems, err)
	}
}

// TestSafetensorsLazyRead: the header is served without decoding, and a
// read inside one tensor decodes that tensor's chunks only.
func TestSafetensorsLazyRead(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	baseDir, _ := stFolders(t)
	file := filepath.Join(baseDir, "model.safetensors")
	if _, err := s.Import(ctx, file, "m", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(file)
	h, err := safetensors.ParseHeader(want, int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Open(ctx, "m/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	before := s.RuntimeStats().ChunksDecoded
	buf := make([]byte, h.DataStart())
	if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, want[:len(buf)]) {
		t.Fatalf("header read: %v", err)
	}
	if n := s.RuntimeStats().ChunksDecoded - before; n != 0 {
		t.Fatalf("reading the header decoded %d chunks", n)
	}
	ti, _ := h.Lookup("layers.1.wq")
	off := h.DataStart() + ti.Begin + 1000
	buf = make([]byte, 4096)
	if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, want[off:off+4096]) {
		t.Fatalf("tensor read: %v", err)
	}
	parts, _ := s.catalog.Parts(ctx, "m/model.safetensors")
	var obj string
	for _, p := range parts {
		if p.Name == "layers.1.wq" {
			obj = p.Object
		}
	}
	hd, err := s.acquire(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	chunks := int64(hd.obj.Header().NumChunks)
	s.release(hd)
	if n := s.RuntimeStats().ChunksDecoded - before; n < 1 || n > chunks {
		t.Fatalf("a read inside one tensor decoded %d chunks (the tensor has %d)", n, chunks)
	}
}

// TestSafetensorsNPYReferences: a tensor matches across formats by name.
func TestSafetensorsNPYReferences(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := weights(5, 128*128)
	ftw := fineTune(6, w, 0.3)
	npyDir := func(name string, v []float32) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(filepath.Join(d, "layers", "0"), 0o755)
		if err := os.WriteFile(filepath.Join(d, "layers", "0", "wq.npy"), makeNPY(t, "<f4", []int64{128, 128}, f32bytes(v)), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	stDir := func(name string, v []float32) string {
		d := filepath.Join(dir, name)
		writeST(t, filepath.Join(d, "model.safetensors"), nil, []safetensors.Tensor{{Spec: safetensors.Spec{Name: "layers.0.wq", DType: safetensors.F32, Shape: []int64{128, 128}}, Data: f32bytes(v)}})
		return d
	}
	s := newStore(t, Options{})
	for _, step := range []struct{ model, src, base string }{
		{"npybase", npyDir("a", w), ""},
		{"stft", stDir("b", ftw), "npybase"},
		{"stbase", stDir("c", w), ""},
		{"npyft", npyDir("d", ftw), "stbase"},
	} {
		if _, err := s.Import(ctx, step.src, step.model, ImportOptions{Base: step.base}); err != nil {
			t.Fatalf("import %s: %v", step.model, err)
		}
	}
	parts, _ := s.catalog.Parts(ctx, "stft/model.safetensors")
	if rec, err := s.catalog.Object(ctx, parts[0].Object); err != nil || rec.Ref == "" {
		t.Fatalf("safetensors tensor against an .npy base: %+v, %v", rec, err)
	}
	fi, err := s.Stat(ctx, "npyft/layers/0/wq.npy")
	if err != nil || fi.Base != "stbase/model.safetensors:layers.0.wq" {
		t.Fatalf(".npy tensor against a safetensors base: base %q (%v), want the base's tensor by file and name", fi.Base, err)
	}
}

// TestSafetensorsBadImport: each bad input fails the import with its
// sentinel and leaves no model behind.
func TestSafetensorsBadImport(t *testing.T) {
	ctx := context.Background()
	good := func() []safetensors.Tensor { return stModel(false)[:2] }
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  error
	}{
		{"header past the end", func(t *testing.T, dir string) {
			b := writeST(t, filepath.Join(dir, "model.safetensors"), nil, good())
			os.WriteFile(filepath.Join(dir, "model.safetensors"), b[:100], 0o644)
		}, safetensors.ErrTruncated},
		{"duplicate names", func(t *testing.T, dir string) {
			b := writeST(t, filepath.Join(dir, "model.safetensors"), nil, good())
			b = bytes.Replace(b, []byte("layers.0.wk"), []byte("layers.0.wq"), 1)
			os.WriteFile(filepath.Join(dir, "model.safetensors"), b, 0o644)
		}, safetensors.ErrDuplicateName},
		{"data cut short", func(t *testing.T, dir string) {
			b := writeST(t, filepath.Join(dir, "model.safetensors"), nil, good())
			os.WriteFile(filepath.Join(dir, "model.safetensors"), b[:len(b)-2], 0o644)
		}, safetensors.ErrBadOffsets},
		{"index names a missing shard", func(t *testing.T, dir string) {
			writeST(t, filepath.Join(dir, "a.safetensors"), nil, good())
			os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map":{"layers.0.wq":"a.safetensors","x":"b.safetensors"}}`), 0o644)
		}, safetensors.ErrMissingShard},
		{"tensor in two shards", func(t *testing.T, dir string) {
			writeST(t, filepath.Join(dir, "a.safetensors"), nil, good())
			writeST(t, filepath.Join(dir, "b.safetensors"), nil, good()[1:])
			os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map":{"layers.0.wq":"a.safetensors","layers.0.wk":"b.safetensors"}}`), 0o644)
		}, safetensors.ErrShardConflict},
		{"index not JSON", func(t *testing.T, dir string) {
			writeST(t, filepath.Join(dir, "a.safetensors"), nil, good())
			os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map":`), 0o644)
		}, safetensors.ErrInvalidJSON},
	}
	s := newStore(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			if _, err := s.Import(ctx, dir, "m", ImportOptions{}); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if _, err := s.Stat(ctx, "m"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("model left behind: %v", err)
			}
		})
	}
}

// TestSafetensorsIngest: a safetensors file written through Ingest (the
// mount's last close) is split into tensors against the base; a malformed
// one and one of an unknown dtype are kept as blobs, with a log line.
func TestSafetensorsIngest(t *testing.T) {
	ctx := context.Background()
	log, lines := newLogger()
	s := newStoreWithBase(t, Options{Logger: log})
	var base, ft bytes.Buffer
	safetensors.Write(&base, nil, stModel(false))
	safetensors.Write(&ft, nil, stModel(true))
	ingestBytes(t, s, "b/model.safetensors", base.Bytes())
	fi := ingestBytes(t, s, "f/.model.safetensors.Ab12Cd", ft.Bytes()) // rsync's temporary name
	if fi.Strategy != partsStrategy {
		t.Fatalf("ingested as %+v", fi)
	}
	if err := s.Rename(ctx, "f/.model.safetensors.Ab12Cd", "f/model.safetensors"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, s, "f/model.safetensors"); !bytes.Equal(got, ft.Bytes()) {
		t.Fatal("read back differs")
	}
	parts, _ := s.catalog.Parts(ctx, "f/model.safetensors")
	if rec, _ := s.catalog.Object(ctx, parts[0].Object); rec.Ref == "" {
		t.Fatalf("tensor %s stored without its base", parts[0].Name)
	}
	// Overwritten by a malformed file: a blob, its parts gone.
	bad := bytes.Clone(ft.Bytes())[:ft.Len()-1]
	fi = ingestBytes(t, s, "f/model.safetensors", bad)
	if fi.Strategy != blobStrategy || !strings.Contains(lines.String(), "not a valid safetensors file") {
		t.Fatalf("malformed file: %+v; log %s", fi, lines.String())
	}
	if parts, _ := s.catalog.Parts(ctx, "f/model.safetensors"); len(parts) != 0 {
		t.Fatalf("parts left behind: %v", parts)
	}
	if got := readFile(t, s, "f/model.safetensors"); !bytes.Equal(got, bad) {
		t.Fatal("malformed file read back differs")
	}
	unknown := bytes.Replace(ft.Bytes(), []byte(`"I64"`), []byte(`"I4X"`), 1)
	if fi = ingestBytes(t, s, "f/u.safetensors", unknown); fi.Strategy != blobStrategy || !bytes.Equal(readFile(t, s, "f/u.safetensors"), unknown) {
		t.Fatalf("unknown dtype: %+v", fi)
	}
}

// TestSafetensorsHuggingFaceFile: a file written by Hugging Face's library
// goes in as its tensors and comes back byte-identical.
func TestSafetensorsHuggingFaceFile(t *testing.T) {
	ctx := context.Background()
	src := testenv.SharedFixture(t, "safetensors/gpt2-lora-adapter.safetensors")
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, Options{})
	res, err := s.Import(ctx, src, "lora", ImportOptions{})
	if err != nil || res.Tensors != 25 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	if got := readFile(t, s, "lora/gpt2-lora-adapter.safetensors"); !bytes.Equal(got, want) {
		t.Fatal("read back differs")
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := s.Export(ctx, "lora", out, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(out, "gpt2-lora-adapter.safetensors")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("export differs: %v", err)
	}
}

// TestSafetensorsStats: Stats counts a file stored tensor by tensor under
// the strategy "safetensors" with its tensors' objects, as it counts them
// in its model, not as a blob of its header alone.
func TestSafetensorsStats(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	baseDir, ftDir := stFolders(t)
	if _, err := s.Import(ctx, baseDir, "base", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, ftDir, "ft", ImportOptions{Base: "base"}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := func(us []UsageStats, name string) UsageStats {
		for _, u := range us {
			if u.Name == name {
				return u
			}
		}
		return UsageStats{}
	}
	parted := byName(st.Strategies, PartsStrategy)
	var want UsageStats
	objects := make(map[string]bool) // each object once: files share some tensors
	for _, file := range []string{"base/model.safetensors", "ft/model-00001-of-00002.safetensors", "ft/model-00002-of-00002.safetensors"} {
		e, err := s.catalog.Get(ctx, file)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := s.catalog.Parts(ctx, file)
		if err != nil {
			t.Fatal(err)
		}
		want.Files++
		want.LogicalBytes += e.Size
		ids := []string{e.Object}
		for _, p := range parts {
			ids = append(ids, p.Object)
		}
		for _, id := range ids {
			if objects[id] {
				continue
			}
			objects[id] = true
			rec, err := s.catalog.Object(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want.StoredBytes += rec.StoredSize
		}
	}
	if parted.Files != want.Files || parted.LogicalBytes != want.LogicalBytes || parted.StoredBytes != want.StoredBytes {
		t.Fatalf("strategy %s: %+v, want %+v", PartsStrategy, parted, want)
	}
	// The config files are the only blobs; strategies add up to the total.
	if blob := byName(st.Strategies, "blob"); blob.Files != 3 || blob.LogicalBytes >= 1000 {
		t.Fatalf("blob: %+v", blob)
	}
	var files int
	var logical int64
	for _, u := range st.Strategies {
		files, logical = files+u.Files, logical+u.LogicalBytes
	}
	if files != st.Total.Files || logical != st.Total.LogicalBytes {
		t.Fatalf("strategies sum to %d files, %d bytes; total %+v", files, logical, st.Total)
	}
}

// TestSafetensorsTensorsInParallel: the tensors of one large safetensors
// file are encoded maxLargeIngests at once (the ingest slots a large .npy
// file counts against), never more, and the file reads back; an encoding
// that fails leaves nothing of the file behind.
func TestSafetensorsTensorsInParallel(t *testing.T) {
	const elems = 400 << 10 // float32: 1.6 MB a tensor, 6.4 MB the file
	file := stChunkTensors(t, 4, elems)
	tests := []struct {
		name string
		fail bool // the third tensor's encoding fails
	}{{"stored", false}, {"failed", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, Options{})
			mustMkdir(t, s, "m")
			var running, peak atomic.Int64
			release := make(chan struct{})
			orig := deltaEncodeTo
			t.Cleanup(func() { deltaEncodeTo = orig })
			deltaEncodeTo = func(ctx context.Context, tensor delta.StreamTensor, ref *delta.StreamTensor, cfg delta.Config, w io.WriterAt) (delta.Header, int64, error) {
				if tensor.RawSize() != elems*4 {
					return orig(ctx, tensor, ref, cfg, w) // the header
				}
				now := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
				}
				<-release
				if tt.fail && *tensor.SHA256 == sha256.Sum256(file[len(file)-2*elems*4:len(file)-elems*4]) {
					return delta.Header{}, 0, errors.New("encoder broke")
				}
				return orig(ctx, tensor, ref, cfg, w)
			}
			done := make(chan error, 1)
			go func() {
				_, err := tryIngest(s, "m/model.safetensors", file, IngestOptions{})
				done <- err
			}()
			waitUntil(t, func() bool { return running.Load() == maxLargeIngests })
			close(release)
			err := <-done
			if p := peak.Load(); p != maxLargeIngests {
				t.Errorf("%d tensors encoded at once, want %d", p, maxLargeIngests)
			}
			if tt.fail {
				if err == nil {
					t.Fatal("ingest succeeded with a tensor failing")
				}
				if _, err := s.Stat(context.Background(), "m/model.safetensors"); !errors.Is(err, ErrNotFound) {
					t.Errorf("after a failed ingest, Stat: %v", err)
				}
				if parts, _ := s.catalog.Parts(context.Background(), "m/model.safetensors"); len(parts) != 0 {
					t.Errorf("parts left behind: %v", parts)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, s, "m/model.safetensors"); !bytes.Equal(got, file) {
				t.Fatal("read back differs")
			}
			if len(s.largeIngests) != 0 {
				t.Errorf("%d ingest slots still taken", len(s.largeIngests))
			}
		})
	}
}
