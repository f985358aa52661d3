package fusefs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"deltafs/internal/testenv"
	"deltafs/store"
)

// TestNumpySaveRemount saves a fine-tuned tensor into the mount with numpy,
// remounts, and finds it identical and delta-encoded against the base.
func TestNumpySaveRemount(t *testing.T) {
	src := makeModels(t, 1)
	s, _ := newStore(t, store.Options{})
	ingestTree(t, s, filepath.Join(src, "base"), "base", "")
	m := mountStore(t, s, MountOptions{})
	mnt := m.Dir()
	if err := os.Mkdir(filepath.Join(mnt, "ft"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "setfattr", "-n", xattrBase, "-v", "base", filepath.Join(mnt, "ft"))
	if err := os.MkdirAll(filepath.Join(mnt, "ft", "layers", "0"), 0o755); err != nil {
		t.Fatal(err)
	}
	python(t, `
import numpy as np, sys
a = np.load(sys.argv[1])
b = (a + np.float32(1e-3) * np.ones_like(a)).astype(np.float32)
np.save(sys.argv[2], b)
`, filepath.Join(src, "base", "layers", "0", "wq.npy"), filepath.Join(mnt, "ft", "layers", "0", "wq.npy"))
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	m2 := mountAt(t, s, mnt, MountOptions{})
	fi, err := s.Stat(context.Background(), "ft/layers/0/wq.npy")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Kind != 2 || fi.Base == "" || fi.Strategy == "" || fi.Strategy == "blob" {
		t.Errorf("saved tensor: kind %v base %q strategy %q; want a delta against the base", fi.Kind, fi.Base, fi.Strategy)
	}
	if fi.StoredSize >= fi.Size {
		t.Errorf("saved tensor stored in %d bytes for %d logical", fi.StoredSize, fi.Size)
	}
	python(t, `
import numpy as np, sys
a = np.load(sys.argv[1]) + np.float32(1e-3)
for mode in (None, "r"):
    b = np.load(sys.argv[2], mmap_mode=mode)
    assert a.astype(np.float32).tobytes() == np.asarray(b).tobytes()
`, filepath.Join(src, "base", "layers", "0", "wq.npy"), filepath.Join(m2.Dir(), "ft", "layers", "0", "wq.npy"))
}

// TestCopyInOut copies trees into and out of the mount with cp -r and
// rsync -a and compares with cmp.
func TestCopyInOut(t *testing.T) {
	src := makeModels(t, 1)
	s, _ := newStore(t, store.Options{})
	m := mountStore(t, s, MountOptions{})
	mnt := m.Dir()
	run(t, "cp", "-r", filepath.Join(src, "base"), filepath.Join(mnt, "base"))
	if err := os.Mkdir(filepath.Join(mnt, "ft"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "setfattr", "-n", xattrBase, "-v", "base", filepath.Join(mnt, "ft"))
	// --inplace writes each file under its final name, so it is encoded
	// against its counterpart in the base.
	run(t, "rsync", "-a", "--inplace", filepath.Join(src, "ft")+"/", filepath.Join(mnt, "ft")+"/")
	sameFiles(t, src, mnt)
	out := filepath.Join(t.TempDir(), "out")
	run(t, "cp", "-r", mnt, out)
	sameFiles(t, src, out)
	for _, f := range listFiles(t, src) {
		run(t, "cmp", filepath.Join(src, f), filepath.Join(mnt, f))
	}
	fi, err := s.Stat(context.Background(), "ft/layers/1/wq.npy")
	if err != nil || fi.Base != "base/layers/1/wq.npy" {
		t.Errorf("rsynced tensor: base %q, %v", fi.Base, err)
	}
	// Plain rsync -a (temporary file, then rename) into another model:
	// identical content and no temporary file left behind.
	run(t, "rsync", "-a", filepath.Join(src, "ft")+"/", filepath.Join(mnt, "ft-rsync")+"/")
	sameFiles(t, filepath.Join(src, "ft"), filepath.Join(mnt, "ft-rsync"))
	// A second rsync of the same tree is a no-op that still succeeds.
	run(t, "rsync", "-a", filepath.Join(src, "ft")+"/", filepath.Join(mnt, "ft")+"/")
	sameFiles(t, filepath.Join(src, "ft"), filepath.Join(mnt, "ft"))
}

// TestWriteSemantics covers random writes, truncation, sparse files,
// O_TRUNC, O_APPEND, O_RDWR on committed files, dup'd descriptors and the
// visibility of a file being written.
func TestWriteSemantics(t *testing.T) {
	s, _ := newStore(t, store.Options{})
	m := mountStore(t, s, MountOptions{})
	dir := filepath.Join(m.Dir(), "m")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "f.bin")

	// A new file is visible (stat, lookup, listing) before its close.
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("world"), 6); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("hello "), 0); err != nil {
		t.Fatal(err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != 11 {
		t.Fatalf("fstat while writing: %v %v", st, err)
	}
	if st, err := os.Stat(p); err != nil || st.Size() != 11 {
		t.Fatalf("stat while writing: %v %v", st, err)
	}
	if names := readNames(t, dir); !slices.Equal(names, []string{"f.bin"}) {
		t.Fatalf("listing while writing: %v", names)
	}
	// dup: the first close commits, the second has nothing left to do.
	fd2, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Close(fd2); err != nil {
		t.Fatalf("close of dup: %v", err)
	}
	if _, err := f.Write([]byte("!")); err != nil { // offset 0 of f: overwrite 'h'
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	expectContent(t, s, "m/f.bin", "!ello world")

	// O_RDWR keeps the content; ftruncate extends sparsely.
	f, err = os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("H"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("end"), 1<<20); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "Hello" {
		t.Fatalf("read back while writing: %q %v", buf, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 1<<20+3)
	copy(want, "Hello world")
	copy(want[1<<20:], "end")
	expectContent(t, s, "m/f.bin", string(want))
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read through the mount after overwrite: %d bytes, %v", len(got), err)
	}

	// truncate(2) without an open file; O_APPEND; O_TRUNC.
	if err := os.Truncate(p, 5); err != nil {
		t.Fatal(err)
	}
	expectContent(t, s, "m/f.bin", "Hello")
	f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(", you"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	expectContent(t, s, "m/f.bin", "Hello, you")
	if err := os.WriteFile(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	expectContent(t, s, "m/f.bin", "new")
	if got, _ := os.ReadFile(p); string(got) != "new" {
		t.Errorf("read after O_TRUNC rewrite: %q", got)
	}

	// An empty new file exists after close.
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	expectContent(t, s, "m/empty", "")

	// Sparse copy with cp.
	sparse := filepath.Join(t.TempDir(), "sparse")
	sf, _ := os.Create(sparse)
	sf.WriteAt([]byte("tail"), 8<<20)
	sf.Close()
	run(t, "cp", "--sparse=always", sparse, filepath.Join(dir, "sparse"))
	run(t, "cmp", sparse, filepath.Join(dir, "sparse"))
}

// TestNamespace covers mkdir, rmdir, unlink and rename as POSIX says,
// including renames of files still open for writing.
func TestNamespace(t *testing.T) {
	s, _ := newStore(t, store.Options{})
	m := mountStore(t, s, MountOptions{})
	mnt := m.Dir()
	d := filepath.Join(mnt, "m")
	mustOK(t, os.Mkdir(d, 0o755))
	if err := os.Mkdir(d, 0o755); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("mkdir twice: %v", err)
	}
	mustOK(t, os.MkdirAll(filepath.Join(d, "a", "b"), 0o755))
	mustOK(t, os.WriteFile(filepath.Join(d, "a", "b", "x"), []byte("x"), 0o644))
	if err := os.Remove(filepath.Join(d, "a", "b")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir non-empty: %v", err)
	}
	if err := os.Remove(filepath.Join(d, "nope")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("unlink missing: %v", err)
	}
	if _, err := os.ReadDir(filepath.Join(d, "a", "b", "x")); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("readdir of a file: %v", err)
	}

	// ls after rm is right.
	mustOK(t, os.Remove(filepath.Join(d, "a", "b", "x")))
	if names := readNames(t, filepath.Join(d, "a", "b")); len(names) != 0 {
		t.Errorf("after rm: %v", names)
	}
	if _, err := os.Stat(filepath.Join(d, "a", "b", "x")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat after rm: %v", err)
	}
	mustOK(t, os.Remove(filepath.Join(d, "a", "b")))

	// Rename over an existing file, like rsync does.
	mustOK(t, os.WriteFile(filepath.Join(d, "old"), []byte("old"), 0o644))
	mustOK(t, os.WriteFile(filepath.Join(d, ".tmp"), []byte("fresh"), 0o644))
	mustOK(t, os.Rename(filepath.Join(d, ".tmp"), filepath.Join(d, "old")))
	expectContent(t, s, "m/old", "fresh")
	if got, _ := os.ReadFile(filepath.Join(d, "old")); string(got) != "fresh" {
		t.Errorf("read after rename over: %q", got)
	}
	if names := readNames(t, d); !slices.Equal(names, []string{"a", "old"}) {
		t.Errorf("after rename: %v", names)
	}

	// Rename of a file still open for writing: committed at its new name.
	f, err := os.Create(filepath.Join(d, "open"))
	mustOK(t, err)
	f.Write([]byte("moving"))
	mustOK(t, os.Rename(filepath.Join(d, "open"), filepath.Join(d, "a", "moved")))
	f.Write([]byte(" on"))
	mustOK(t, f.Close())
	expectContent(t, s, "m/a/moved", "moving on")
	if _, err := s.Stat(context.Background(), "m/open"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old name still in the store: %v", err)
	}

	// Unlink of a file still open for writing: nothing is committed.
	f, err = os.Create(filepath.Join(d, "doomed"))
	mustOK(t, err)
	mustOK(t, os.Remove(filepath.Join(d, "doomed")))
	f.Write([]byte("lost"))
	mustOK(t, f.Close())
	if _, err := s.Stat(context.Background(), "m/doomed"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unlinked file was committed: %v", err)
	}

	// Directory rename, rename onto a directory, RENAME_NOREPLACE.
	mustOK(t, os.Rename(filepath.Join(d, "a"), filepath.Join(d, "c")))
	expectContent(t, s, "m/c/moved", "moving on")
	mustOK(t, os.Mkdir(filepath.Join(d, "e"), 0o755))
	if err := os.Rename(filepath.Join(d, "old"), filepath.Join(d, "e")); err == nil {
		t.Error("rename of a file onto a directory succeeded")
	}
	err = unix.Renameat2(unix.AT_FDCWD, filepath.Join(d, "old"), unix.AT_FDCWD, filepath.Join(d, "c", "moved"), unix.RENAME_NOREPLACE)
	if !errors.Is(err, syscall.EEXIST) {
		t.Errorf("RENAME_NOREPLACE onto a file: %v", err)
	}
}

// TestReadOnlyMount refuses every change with EROFS and still reads.
func TestReadOnlyMount(t *testing.T) {
	fx := newFixture(t, store.Options{}, MountOptions{ReadOnly: true})
	d := filepath.Join(fx.mnt, "ft")
	checks := map[string]error{
		"create":   os.WriteFile(filepath.Join(d, "new"), []byte("x"), 0o644),
		"mkdir":    os.Mkdir(filepath.Join(d, "dir"), 0o755),
		"unlink":   os.Remove(filepath.Join(d, "emb.npy")),
		"rename":   os.Rename(filepath.Join(d, "emb.npy"), filepath.Join(d, "x.npy")),
		"truncate": os.Truncate(filepath.Join(d, "emb.npy"), 0),
		"setxattr": unix.Setxattr(d, xattrBase, []byte("base"), 0),
	}
	_, err := os.OpenFile(filepath.Join(d, "emb.npy"), os.O_RDWR, 0)
	checks["open rw"] = err
	for op, err := range checks {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s on a read-only mount: %v, want EROFS", op, err)
		}
	}
	sameFiles(t, fx.src, fx.mnt)
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func readNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// expectContent checks the committed content of path in the store.
func expectContent(t *testing.T, s *store.Store, path, want string) {
	t.Helper()
	ctx := context.Background()
	f, err := s.Open(ctx, path)
	if err != nil {
		t.Fatalf("open %s in the store: %v", path, err)
	}
	defer f.Close()
	got := make([]byte, f.Size())
	if n, err := f.ReadAt(got, 0); n != len(got) && err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if string(got) != want {
		if len(want) > 64 || len(got) > 64 {
			t.Fatalf("%s: %d bytes differ from the %d wanted", path, len(got), len(want))
		}
		t.Fatalf("%s = %q, want %q", path, got, want)
	}
}

// TestNoSpace puts the store on a 4 MiB tmpfs: writing more than fits
// fails with ENOSPC (from write or close), and the store stays sound.
func TestNoSpace(t *testing.T) {
	testenv.RequireFUSE(t)
	disk := filepath.Join(t.TempDir(), "small")
	mustOK(t, os.Mkdir(disk, 0o755))
	if out, err := runErr("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", disk); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { runErr("umount", "-l", disk) })
	dir := filepath.Join(disk, "store")
	mustOK(t, store.Init(dir))
	s, err := store.Open(dir, store.Options{})
	mustOK(t, err)
	t.Cleanup(func() { s.Close() })
	m := mountStore(t, s, MountOptions{})
	mustOK(t, os.Mkdir(filepath.Join(m.Dir(), "m"), 0o755))
	mustOK(t, os.WriteFile(filepath.Join(m.Dir(), "m", "small"), []byte("fits"), 0o644))
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	err = os.WriteFile(filepath.Join(m.Dir(), "m", "big"), big, 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 8 MiB to a 4 MiB disk: %v, want ENOSPC", err)
	}
	if _, err := s.Stat(context.Background(), "m/big"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the file that did not fit was committed: %v", err)
	}
	expectContent(t, s, "m/small", "fits")
	problems, err := s.Verify(context.Background(), "", nil)
	if err != nil || len(problems) != 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
}

// TestMmapWrite modifies a tensor in place through a writable numpy memmap;
// the change is committed when the file is closed.
func TestMmapWrite(t *testing.T) {
	fx := newFixture(t, store.Options{}, MountOptions{})
	want := filepath.Join(t.TempDir(), "want.npy")
	python(t, `
import numpy as np, sys
a = np.load(sys.argv[1], mmap_mode="r+")
a[:10] = 42.0
a.flush()
del a
w = np.load(sys.argv[2])
w[:10] = 42.0
np.save(sys.argv[3], w)
`, filepath.Join(fx.mnt, "ft", "emb.npy"), filepath.Join(fx.src, "ft", "emb.npy"), want)
	data, err := os.ReadFile(want)
	mustOK(t, err)
	expectContent(t, fx.store, "ft/emb.npy", string(data))
	run(t, "cmp", want, filepath.Join(fx.mnt, "ft", "emb.npy"))
}

// TestLossyMountServesCommitted writes through a mount with a lossy
// strategy: after close() the file reads back as the store reconstructs it
// (the page cache holding the written bytes was invalidated), identical to
// reading the store directly.
func TestLossyMountServesCommitted(t *testing.T) {
	const n = 64 << 10
	s, _ := newStore(t, store.Options{})
	base := npyFloat32(3, n)
	local := filepath.Join(t.TempDir(), "base.npy")
	mustOK(t, os.WriteFile(local, base, 0o644))
	ingestTree(t, s, filepath.Dir(local), "base", "")
	// The fine-tune: every value moved a little (a lossy strategy only
	// approximates deltas against a base).
	written := bytes.Clone(base)
	data := written[len(written)-4*n:]
	for i := 0; i < n; i++ {
		v := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v+float32(i%97)*1.37e-4))
	}
	m := mountStore(t, s, MountOptions{Strategy: store.Int8Quantized, AllowLossy: true})
	mustOK(t, os.Mkdir(filepath.Join(m.Dir(), "m"), 0o755))
	run(t, "setfattr", "-n", xattrBase, "-v", "base", filepath.Join(m.Dir(), "m"))
	p := filepath.Join(m.Dir(), "m", "base.npy")
	f, err := os.Create(p)
	mustOK(t, err)
	_, err = f.Write(written)
	mustOK(t, err)
	mustOK(t, f.Close())
	fi, err := s.Stat(context.Background(), "m/base.npy")
	mustOK(t, err)
	if !fi.Lossy {
		t.Fatalf("not stored lossy: %+v", fi)
	}
	sf, err := s.Open(context.Background(), "m/base.npy")
	mustOK(t, err)
	stored := make([]byte, sf.Size())
	sf.ReadAt(stored, 0)
	sf.Close()
	if bytes.Equal(stored, written) {
		t.Fatal("lossy strategy stored the exact bytes; the test cannot tell the caches apart")
	}
	got, err := os.ReadFile(p)
	mustOK(t, err)
	if !bytes.Equal(got, stored) {
		t.Errorf("read after close serves %s, not the committed content", map[bool]string{true: "the written bytes", false: "other bytes"}[bytes.Equal(got, written)])
	}
}
