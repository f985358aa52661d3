package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestRsyncTwiceTransfersNothing: rsync -a keeps the sources' times in the
// mount, so a second rsync -a of the unchanged tree finds nothing to do.
func TestRsyncTwiceTransfersNothing(t *testing.T) {
	src := filepath.Join(t.TempDir(), "models")
	python(t, sparseTuneScript, src)
	if err := os.WriteFile(filepath.Join(src, "ft", "config.json"), []byte(`{"a": 1}`), 0o640); err != nil {
		t.Fatal(err)
	}
	s, _ := newStore(t, store.Options{})
	m := mountStore(t, s, MountOptions{})
	dst := filepath.Join(m.Dir(), "ft")
	first := run(t, "rsync", "-a", "--itemize-changes", filepath.Join(src, "ft")+"/", dst+"/")
	if !strings.Contains(first, ">f+++++++++ layers/0/wq.npy") {
		t.Fatalf("first rsync did not send the files:\n%s", first)
	}
	sameFiles(t, filepath.Join(src, "ft"), dst)
	if second := run(t, "rsync", "-a", "--itemize-changes", filepath.Join(src, "ft")+"/", dst+"/"); second != "" {
		t.Errorf("second rsync -a of an unchanged tree changed:\n%s", second)
	}
	stats := run(t, "rsync", "-a", "--stats", filepath.Join(src, "ft")+"/", dst+"/")
	if !strings.Contains(stats, "Number of regular files transferred: 0") {
		t.Errorf("third rsync -a transferred files:\n%s", stats)
	}
}

// TestTimesInMount: touch -d on a file and a directory, and cp -p (times
// set on the open file before close), are kept in the catalog and seen by
// stat.
func TestTimesInMount(t *testing.T) {
	s, _ := newStore(t, store.Options{})
	m := mountStore(t, s, MountOptions{})
	ctx := context.Background()
	dir := filepath.Join(m.Dir(), "m")
	mustOK(t, os.Mkdir(dir, 0o755))
	mustOK(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644))
	local := filepath.Join(t.TempDir(), "b.txt")
	mustOK(t, os.WriteFile(local, []byte("b"), 0o644))
	old := time.Date(2001, 2, 3, 4, 5, 6, 700000000, time.UTC)
	mustOK(t, os.Chtimes(local, old, old))
	run(t, "cp", "-p", local, filepath.Join(dir, "b.txt"))
	for _, tc := range []struct {
		path string
		when string
		want time.Time
	}{
		{"m/a.txt", "2020-05-06 07:08:09.5 UTC", time.Date(2020, 5, 6, 7, 8, 9, 500000000, time.UTC)},
		{"m", "2019-01-01 00:00:00 UTC", time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"m/b.txt", "", old},
	} {
		p := filepath.Join(m.Dir(), tc.path)
		if tc.when != "" {
			run(t, "touch", "-m", "-d", tc.when, p)
		}
		st, err := os.Stat(p)
		mustOK(t, err)
		fi, err := s.Stat(ctx, tc.path)
		mustOK(t, err)
		if !st.ModTime().Equal(tc.want) || !fi.MTime.Equal(tc.want) {
			t.Errorf("%s: stat mtime %v, catalog %v, want %v", tc.path, st.ModTime(), fi.MTime, tc.want)
		}
	}
}

// TestSetgidDirectoryGroup: below a set-group-ID directory, new files and
// directories get the directory's group, and new directories keep the bit,
// as on a local filesystem.
func TestSetgidDirectoryGroup(t *testing.T) {
	s, _ := newStore(t, store.Options{})
	m := mountStore(t, s, MountOptions{})
	dir := filepath.Join(m.Dir(), "m")
	mustOK(t, os.Mkdir(dir, 0o755))
	const group = 4242
	mustOK(t, os.Chown(dir, -1, group))
	mustOK(t, os.Chmod(dir, os.ModeSetgid|0o775))
	mustOK(t, os.WriteFile(filepath.Join(dir, "f.txt"), []byte("f"), 0o644))
	mustOK(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	for _, tc := range []struct {
		name string
		sgid bool
	}{{"f.txt", false}, {"sub", true}} {
		st, err := os.Stat(filepath.Join(dir, tc.name))
		mustOK(t, err)
		sys := st.Sys().(*syscall.Stat_t)
		if sys.Gid != group || (st.Mode()&os.ModeSetgid != 0) != tc.sgid || sys.Uid != uint32(os.Geteuid()) {
			t.Errorf("%s: uid %d gid %d mode %v; want uid %d gid %d, setgid %v", tc.name, sys.Uid, sys.Gid, st.Mode(), os.Geteuid(), group, tc.sgid)
		}
	}
}
