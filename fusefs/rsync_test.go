package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"deltafs/store"
)

// sparseTuneScript writes a base model and a fine-tune of it that changes
// a few percent of each tensor's entries, as .npy files.
const sparseTuneScript = `
import numpy as np, os, sys
out = sys.argv[1]
rng = np.random.default_rng(11)
names = ["layers/0/wq.npy", "layers/0/wk.npy", "layers/1/wq.npy"]
for rel in names:
    a = (rng.standard_normal((256, 128)) * 0.02).astype(np.float32)
    b = a.copy()
    idx = rng.random(a.shape) < 0.03
    b[idx] += (rng.standard_normal(idx.sum()) * 1e-4).astype(np.float32)
    for model, arr in (("base", a), ("ft", b)):
        p = os.path.join(out, model, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        np.save(p, arr)
`

// TestRsyncIntoMountIsDeltaEncoded copies a fine-tune into the mount with
// a plain rsync -a (temporary ".NAME.XXXXXX" files renamed at the end) and
// finds every tensor encoded against its counterpart in the base, stored in
// a fraction of the base's bytes.
func TestRsyncIntoMountIsDeltaEncoded(t *testing.T) {
	src := filepath.Join(t.TempDir(), "models")
	python(t, sparseTuneScript, src)
	s, _ := newStore(t, store.Options{})
	ingestTree(t, s, filepath.Join(src, "base"), "base", "")
	m := mountStore(t, s, MountOptions{})
	ft := filepath.Join(m.Dir(), "ft")
	if err := os.Mkdir(ft, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "setfattr", "-n", xattrBase, "-v", "base", ft)
	run(t, "rsync", "-a", filepath.Join(src, "ft")+"/", ft+"/")
	sameFiles(t, filepath.Join(src, "ft"), ft)

	ctx := context.Background()
	for _, rel := range []string{"layers/0/wq.npy", "layers/0/wk.npy", "layers/1/wq.npy"} {
		fi, err := s.Stat(ctx, "ft/"+rel)
		if err != nil {
			t.Fatal(err)
		}
		bi, err := s.Stat(ctx, "base/"+rel)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Base != "base/"+rel {
			t.Errorf("%s: Base = %q, want base/%s", rel, fi.Base, rel)
		}
		// The base tensor is stored standalone: a delta of a 3 % fine-tune
		// must take well under half of it.
		if 2*fi.StoredSize >= bi.StoredSize {
			t.Errorf("%s: stored %d bytes, standalone base %d: not delta-encoded", rel, fi.StoredSize, bi.StoredSize)
		}
		t.Logf("%s: %d logical, %d stored (base standalone %d)", rel, fi.Size, fi.StoredSize, bi.StoredSize)
	}
}
