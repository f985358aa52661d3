package fusefs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"deltafs/store"
)

// fixture is a store holding the base and ft models, mounted.
type fixture struct {
	store  *store.Store
	dir    string // store directory
	src    string // local copies of the models
	mnt    string
	mount  *Mount
	logbuf *syncBuffer
}

func newFixture(t *testing.T, sopts store.Options, mopts MountOptions) *fixture {
	t.Helper()
	src := makeModels(t, 1)
	s, dir := newStore(t, sopts)
	ingestTree(t, s, filepath.Join(src, "base"), "base", "")
	ingestTree(t, s, filepath.Join(src, "ft"), "ft", "base")
	logger, buf := newTestLogger(t)
	mopts.Logger = logger
	mopts.Debug = os.Getenv("FUSEFS_DEBUG") != ""
	m := mountStore(t, s, mopts)
	return &fixture{store: s, dir: dir, src: src, mnt: m.Dir(), mount: m, logbuf: buf}
}

// compareNumpyScript loads every .npy of two trees, with and without
// mmap, and checks dtype, shape, order and the exact bytes.
const compareNumpyScript = `
import numpy as np, os, sys
want, got = sys.argv[1], sys.argv[2]
n = 0
for root, _, files in os.walk(want):
    for f in files:
        if not f.endswith(".npy"):
            continue
        rel = os.path.relpath(os.path.join(root, f), want)
        a = np.load(os.path.join(want, rel))
        for mode in (None, "r"):
            b = np.load(os.path.join(got, rel), mmap_mode=mode)
            assert a.dtype == b.dtype and a.shape == b.shape, rel
            assert a.flags.f_contiguous == b.flags.f_contiguous, rel
            assert a.tobytes(order="A") == np.asarray(b).tobytes(order="A"), (rel, mode)
            n += 1
print(n)
`

func TestNumpyLoadBitExact(t *testing.T) {
	fx := newFixture(t, store.Options{}, MountOptions{})
	for _, model := range []string{"base", "ft"} {
		out := python(t, compareNumpyScript, filepath.Join(fx.src, model), filepath.Join(fx.mnt, model))
		if n, _ := strconv.Atoi(strings.TrimSpace(out)); n != 14 {
			t.Errorf("%s: compared %q loads, want 14", model, out)
		}
	}
	sameFiles(t, fx.src, fx.mnt)
}

func TestAttributesAndListing(t *testing.T) {
	fx := newFixture(t, store.Options{}, MountOptions{})
	ctx := context.Background()
	before := fx.store.RuntimeStats()
	defer func() {
		// Everything below answers from the catalog: nothing was decoded.
		after := fx.store.RuntimeStats()
		if after.BytesDecoded != before.BytesDecoded || after.CacheMisses != before.CacheMisses {
			t.Errorf("metadata operations decoded data: %d bytes, %d cache misses",
				after.BytesDecoded-before.BytesDecoded, after.CacheMisses-before.CacheMisses)
		}
	}()
	run(t, "ls", "-lR", fx.mnt)
	run(t, "getfattr", "-R", "--absolute-names", "-d", "-m", "user.deltafs", fx.mnt)

	// Sorted listing, stats file hidden.
	entries, err := os.ReadDir(filepath.Join(fx.mnt, "ft"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"config.json", "emb.npy", "fortran.npy", "ids.npy", "layers", "special.npy"}
	if !slices.Equal(names, want) {
		t.Errorf("ls ft = %v, want %v", names, want)
	}
	root, _ := os.ReadDir(fx.mnt)
	for _, e := range root {
		if e.Name() == statsName {
			t.Errorf("%s is listed at the root", statsName)
		}
	}

	for _, rel := range []string{"ft/layers/0/wq.npy", "ft/config.json", "base/emb.npy"} {
		fi, err := fx.store.Stat(ctx, rel)
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(fx.mnt, rel), &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != fi.Size {
			t.Errorf("%s: size %d, want %d", rel, st.Size, fi.Size)
		}
		if st.Ino != fi.Inode {
			t.Errorf("%s: inode %d, want the catalog's %d", rel, st.Ino, fi.Inode)
		}
		if wantBlocks := (fi.StoredSize + 511) / 512; st.Blocks != wantBlocks {
			t.Errorf("%s: %d blocks, want %d (stored %d bytes)", rel, st.Blocks, wantBlocks, fi.StoredSize)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			t.Errorf("%s: mode %o", rel, st.Mode)
		}
		local, _ := os.Stat(filepath.Join(fx.src, rel))
		if local.Size() != st.Size {
			t.Errorf("%s: size %d, original %d", rel, st.Size, local.Size())
		}
	}

	// du of the fine-tune counts stored bytes, below the logical size.
	out := run(t, "du", "-s", "--block-size=1", filepath.Join(fx.mnt, "ft"))
	stored, _ := strconv.ParseInt(strings.Fields(out)[0], 10, 64)
	out = run(t, "du", "-s", "--block-size=1", "--apparent-size", filepath.Join(fx.mnt, "ft"))
	logical, _ := strconv.ParseInt(strings.Fields(out)[0], 10, 64)
	if stored <= 0 || stored >= logical {
		t.Errorf("du ft: stored %d, logical %d; want 0 < stored < logical", stored, logical)
	}
	t.Logf("du ft: stored %d bytes, logical %d bytes", stored, logical)

	// ls -l shows logical sizes.
	out = run(t, "ls", "-l", filepath.Join(fx.mnt, "ft", "layers", "0"))
	local, _ := os.Stat(filepath.Join(fx.src, "ft", "layers", "0", "wq.npy"))
	if !strings.Contains(out, strconv.FormatInt(local.Size(), 10)) {
		t.Errorf("ls -l does not show size %d:\n%s", local.Size(), out)
	}
	// The mount shows in df -T as fuse.deltafs.
	if out := run(t, "df", "-T", fx.mnt); !strings.Contains(out, "fuse.deltafs") {
		t.Errorf("df -T:\n%s", out)
	}
}

func TestXattrs(t *testing.T) {
	fx := newFixture(t, store.Options{}, MountOptions{})
	ctx := context.Background()
	rel := "ft/layers/0/wq.npy"
	fi, err := fx.store.Stat(ctx, rel)
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, "getfattr", "--absolute-names", "-d", "-m", "user.deltafs", filepath.Join(fx.mnt, rel))
	for _, want := range []string{
		`user.deltafs.base="base/layers/0/wq.npy"`,
		`user.deltafs.strategy="` + fi.Strategy + `"`,
		`user.deltafs.hash="` + fi.ContentHash + `"`,
		`user.deltafs.lossy="false"`,
		`user.deltafs.stored_size="` + strconv.FormatInt(fi.StoredSize, 10) + `"`,
		`user.deltafs.ratio=`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("getfattr lacks %s:\n%s", want, out)
		}
	}
	if fi.Base != "base/layers/0/wq.npy" {
		t.Errorf("Stat base %q", fi.Base)
	}

	// Model base: read and set through xattrs.
	model := filepath.Join(fx.mnt, "ft")
	if out := run(t, "getfattr", "--absolute-names", "-n", xattrBase, "--only-values", model); out != "base" {
		t.Errorf("ft base = %q", out)
	}
	if err := os.Mkdir(filepath.Join(fx.mnt, "ft2"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "setfattr", "-n", xattrBase, "-v", "ft", filepath.Join(fx.mnt, "ft2"))
	if fi, err := fx.store.Stat(ctx, "ft2"); err != nil || fi.Base != "ft" {
		t.Errorf("after setfattr: base %q, %v", fi.Base, err)
	}
	if _, err := runErr("setfattr", "-n", xattrBase, "-v", "no-such-model", filepath.Join(fx.mnt, "ft2")); err == nil {
		t.Error("setfattr with a missing base model succeeded")
	}
	// ERANGE and ENODATA through the syscall.
	small := make([]byte, 2)
	if _, err := unix.Getxattr(filepath.Join(fx.mnt, rel), xattrHash, small); !errors.Is(err, unix.ERANGE) {
		t.Errorf("small getxattr: %v, want ERANGE", err)
	}
	if _, err := unix.Getxattr(filepath.Join(fx.mnt, rel), "user.other", small); !errors.Is(err, unix.ENODATA) {
		t.Errorf("getxattr user.other: %v, want ENODATA", err)
	}
}

func TestStatsFile(t *testing.T) {
	fx := newFixture(t, store.Options{}, MountOptions{})
	if _, err := os.ReadFile(filepath.Join(fx.mnt, "ft", "emb.npy")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(fx.mnt, statsName))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"cache_hits"`, `"cache_misses"`, `"bytes_decoded"`, `"mean_decode_latency_us"`, `"pending_encodes"`, `"last_error"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("stats lack %s:\n%s", key, data)
		}
	}
	if strings.Contains(string(data), `"bytes_decoded": 0,`) {
		t.Errorf("no bytes decoded after a read:\n%s", data)
	}
	if err := os.WriteFile(filepath.Join(fx.mnt, statsName), []byte("x"), 0o644); err == nil {
		t.Error("writing the stats file succeeded")
	}
}

// TestCorruptObjectEIO damages an object file: reads fail with EIO (never
// wrong bytes) and the log names the path.
func TestCorruptObjectEIO(t *testing.T) {
	src := makeModels(t, 1)
	s, dir := newStore(t, store.Options{})
	ingestTree(t, s, filepath.Join(src, "base"), "base", "")
	rel := "base/emb.npy"
	fi, err := s.Stat(context.Background(), rel)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	obj := findObjectFile(t, dir, fi.StoredSize)
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 2; i < len(data)/2+64 && i < len(data); i++ {
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(obj, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	logger, logbuf := newTestLogger(t)
	m := mountStore(t, s, MountOptions{Logger: logger})
	f, err := os.Open(filepath.Join(m.Dir(), rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = io.ReadAll(f)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("read of a corrupt object: %v, want EIO", err)
	}
	if !strings.Contains(logbuf.String(), rel) {
		t.Errorf("log does not name %s:\n%s", rel, logbuf.String())
	}
}

// findObjectFile returns the object file of the store whose size is size.
func findObjectFile(t *testing.T, storeDir string, size int64) string {
	t.Helper()
	var found []string
	filepath.Walk(storeDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && info.Size() == size && strings.Contains(p, "object") {
			found = append(found, p)
		}
		return nil
	})
	if len(found) != 1 {
		t.Fatalf("found %d object files of %d bytes: %v", len(found), size, found)
	}
	return found[0]
}
