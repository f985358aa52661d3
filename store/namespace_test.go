package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"deltafs/catalog"
)

func TestInitAndOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	if err := Init(dir); !errors.Is(err, ErrExist) {
		t.Errorf("Init twice: %v", err)
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	if err := Init(full); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("Init of a non-empty directory: %v", err)
	}
	if _, err := Open(full, Options{}); !errors.Is(err, ErrNotStore) || !strings.Contains(err.Error(), "deltafs init") {
		t.Errorf("Open of a non-store: %v", err)
	}
	if _, err := Open(filepath.Join(full, "absent"), Options{}); !errors.Is(err, ErrNotStore) {
		t.Errorf("Open of a missing dir: %v", err)
	}
	newer := t.TempDir()
	os.WriteFile(filepath.Join(newer, markerName), []byte("deltafs-store 99\n"), 0o644)
	if _, err := Open(newer, Options{}); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open of a newer store: %v", err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, sub := range []string{catalogName, objectsDirName, stagingDirName} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("layout: %v", err)
		}
	}
	if _, err := Open(dir, Options{DefaultBase: "nope"}); !errors.Is(err, ErrNoBase) {
		t.Errorf("Open with a missing default base: %v", err)
	}
}

func TestNamespace(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	mustMkdir(t, s, "m/sub")
	file := makeNPY(t, "<f4", []int64{3, 4}, f32bytes(weights(1, 12)))
	ingestBytes(t, s, "m/b.npy", file)
	ingestBytes(t, s, "m/a.txt", []byte("hello"))

	ingestBytes(t, s, "top.bin", []byte("at the root"))
	if fi, err := s.Stat(ctx, "top.bin"); err != nil || fi.Model != "" {
		t.Errorf("a file at the root: %+v %v", fi, err)
	}
	root, err := s.Stat(ctx, "")
	if err != nil || !root.IsDir() {
		t.Fatalf("Stat root: %+v %v", root, err)
	}
	list, err := s.ReadDir(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range list {
		names = append(names, fi.Name)
	}
	if strings.Join(names, ",") != "a.txt,b.npy,sub" {
		t.Errorf("ReadDir = %v", names)
	}
	fi := list[1]
	if fi.Size != int64(len(file)) || fi.DType != "<f4" || fmt.Sprint(fi.Shape) != "[3 4]" || fi.Model != "m" || fi.StoredSize <= 0 || fi.Inode == 0 || fi.Mode != 0o644 {
		t.Errorf("tensor FileInfo: %+v", fi)
	}
	if _, err := s.ReadDir(ctx, "m/b.npy"); !errors.Is(err, ErrNotDir) {
		t.Errorf("ReadDir of a file: %v", err)
	}
	if _, err := s.Open(ctx, "m"); !errors.Is(err, ErrIsDir) {
		t.Errorf("Open of a directory: %v", err)
	}
	if _, err := tryIngest(s, "m/sub", []byte("x"), IngestOptions{}); !errors.Is(err, ErrIsDir) {
		t.Errorf("Ingest over a directory: %v", err)
	}
	if _, err := tryIngest(s, "m/nodir/x", []byte("x"), IngestOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Ingest into a missing directory: %v", err)
	}
	for _, bad := range []string{"m/../x", "m/./x", "m//x", "m/x\x00"} {
		if _, err := s.Stat(ctx, bad); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Stat(%q): %v", bad, err)
		}
	}
	if err := s.Mkdir(ctx, "m"); !errors.Is(err, ErrExist) {
		t.Errorf("Mkdir existing: %v", err)
	}
	if err := s.Remove(ctx, "m"); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("Remove non-empty: %v", err)
	}

	// Overwrite keeps the inode; rename moves it.
	ino := list[0].Inode
	ingestBytes(t, s, "m/a.txt", []byte("hello again"))
	if fi, _ := s.Stat(ctx, "m/a.txt"); fi.Inode != ino || fi.Size != 11 {
		t.Errorf("overwrite: %+v", fi)
	}
	if err := s.Rename(ctx, "m/a.txt", "m/sub/c.txt"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, s, "m/sub/c.txt"); string(got) != "hello again" {
		t.Errorf("renamed file reads %q", got)
	}
	if _, err := s.Stat(ctx, "m/a.txt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old name still there: %v", err)
	}
	if err := s.Rename(ctx, "m", "m2"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, s, "m2/b.npy"); !bytes.Equal(got, file) {
		t.Error("file of a renamed model differs")
	}
	if err := s.Remove(ctx, "m2/sub/c.txt"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "m2/sub"); err != nil {
		t.Fatal(err)
	}
}

func TestSetBase(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	for _, m := range []string{"a", "b", "c"} {
		mustMkdir(t, s, m)
	}
	if err := s.SetBase(ctx, "b", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBase(ctx, "c", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBase(ctx, "a", "c"); !errors.Is(err, ErrBaseCycle) {
		t.Errorf("cycle: %v", err)
	}
	if err := s.SetBase(ctx, "a", "a"); !errors.Is(err, ErrBaseCycle) {
		t.Errorf("self base: %v", err)
	}
	if err := s.SetBase(ctx, "a", "zzz"); !errors.Is(err, ErrNoBase) {
		t.Errorf("missing base: %v", err)
	}
	if err := s.SetBase(ctx, "zzz", "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing model: %v", err)
	}
	if err := s.SetBase(ctx, "c", ""); err != nil {
		t.Fatal(err)
	}
	if fi, _ := s.Stat(ctx, "c"); fi.Base != "" {
		t.Errorf("cleared base: %q", fi.Base)
	}
	// A mount's default base goes to new top-level directories.
	s2, err := Open(s.Dir(), Options{DefaultBase: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	mustMkdir(t, s2, "d")
	mustMkdir(t, s2, "d/e")
	if fi, _ := s2.Stat(ctx, "d"); fi.Base != "a" {
		t.Errorf("default base: %q", fi.Base)
	}
}

func TestReadOnly(t *testing.T) {
	s := newStore(t, Options{})
	mustMkdir(t, s, "m")
	ingestBytes(t, s, "m/x", []byte("data"))
	ro, err := Open(s.Dir(), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	ctx := context.Background()
	if got := readFile(t, ro, "m/x"); string(got) != "data" {
		t.Errorf("read-only read: %q", got)
	}
	f, _ := os.CreateTemp(t.TempDir(), "x")
	defer f.Close()
	checks := map[string]error{
		"ingest":  func() error { _, err := ro.Ingest(ctx, "m/y", f, IngestOptions{}); return err }(),
		"mkdir":   ro.Mkdir(ctx, "n"),
		"remove":  ro.Remove(ctx, "m/x"),
		"rename":  ro.Rename(ctx, "m/x", "m/z"),
		"setbase": ro.SetBase(ctx, "m", ""),
		"rmall":   ro.RemoveAll(ctx, "m"),
		"import":  func() error { _, err := ro.Import(ctx, t.TempDir(), "n", ImportOptions{}); return err }(),
		"gc":      func() error { _, err := ro.GC(ctx); return err }(),
	}
	for op, err := range checks {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only store: %v", op, err)
		}
	}
}

// fullDisk is an object store whose disk is full.
type fullDisk struct{ catalog.ObjectStore }

func (fullDisk) Put(context.Context, []byte) (string, bool, error) {
	return "", false, fmt.Errorf("write object: %w", syscall.ENOSPC)
}

func (fullDisk) PutFile(_ context.Context, f *os.File) (string, int64, bool, error) {
	f.Close()
	os.Remove(f.Name())
	return "", 0, false, fmt.Errorf("write object: %w", syscall.ENOSPC)
}

func TestFullDiskLeavesNoHalfWrittenEntry(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	old := []byte("the old content")
	ingestBytes(t, s, "m/x", old)
	s.objects = fullDisk{s.objects}
	_, err := tryIngest(s, "m/x", randomBytes(1, 5000), IngestOptions{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Ingest on a full disk: %v", err)
	}
	if got := readFile(t, s, "m/x"); !bytes.Equal(got, old) {
		t.Error("a failed overwrite changed the file")
	}
	if _, err := tryIngest(s, "m/new", randomBytes(2, 5000), IngestOptions{}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Ingest on a full disk: %v", err)
	}
	if _, err := s.Stat(ctx, "m/new"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed ingest left an entry: %v", err)
	}
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"a.bin": randomBytes(3, 100), "b.bin": randomBytes(4, 100)})
	if _, err := s.Import(ctx, src, "imp", ImportOptions{}); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Import on a full disk: %v", err)
	}
	if _, err := s.Stat(ctx, "imp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed import left its model: %v", err)
	}
	if s.RuntimeStats().LastError == "" {
		t.Error("LastError not set")
	}
}

func TestLossyNeedsOptIn(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "b")
	mustMkdir(t, s, "f")
	s.SetBase(ctx, "f", "b")
	w := weights(5, 20000)
	ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{20000}, f32bytes(w)))
	file := makeNPY(t, "<f4", []int64{20000}, f32bytes(fineTune(6, w, 0.5)))
	if _, err := tryIngest(s, "f/w.npy", file, IngestOptions{Strategy: "int8_quantized"}); err == nil || !strings.Contains(err.Error(), "lossy") {
		t.Errorf("lossy without opt-in: %v", err)
	}
	fi, err := tryIngest(s, "f/w.npy", file, IngestOptions{Strategy: "int8_quantized", AllowLossy: true})
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Lossy || fi.Base != "b/w.npy" {
		t.Errorf("lossy ingest: %+v", fi)
	}
	got := readFile(t, s, "f/w.npy")
	if len(got) != len(file) {
		t.Fatalf("lossy file size %d, want %d", len(got), len(file))
	}
	if problems, err := s.Verify(ctx, "", nil); err != nil || len(problems) != 0 {
		t.Errorf("Verify of a lossy entry: %v %v", problems, err)
	}
	// A model based on the lossy one encodes against what it serves.
	mustMkdir(t, s, "g")
	if err := s.SetBase(ctx, "g", "f"); err != nil {
		t.Fatal(err)
	}
	gi := ingestBytes(t, s, "g/w.npy", file)
	if gi.Lossy || gi.Base != "f/w.npy" {
		t.Errorf("delta on a lossy base: %+v", gi)
	}
	if back := readFile(t, s, "g/w.npy"); !bytes.Equal(back, file) {
		t.Error("lossless delta on a lossy base does not read back exactly")
	}
	// Its bytes dedup only against exactly what it serves.
	fi2 := ingestBytes(t, s, "f/w2.npy", got)
	if fi2.ContentHash != fi.ContentHash || fi2.StoredSize != fi.StoredSize {
		t.Errorf("re-ingesting a lossy file's bytes: %+v", fi2)
	}
}

func TestNamespaceDecodesNothing(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "b")
	mustMkdir(t, s, "f")
	s.SetBase(ctx, "f", "b")
	w := weights(3, 10000)
	ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{10000}, f32bytes(w)))
	ingestBytes(t, s, "f/w.npy", makeNPY(t, "<f4", []int64{10000}, f32bytes(fineTune(4, w, 0.1))))
	before := s.RuntimeStats()
	for _, dir := range []string{"", "b", "f"} {
		if _, err := s.ReadDir(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := s.Stat(ctx, "f/w.npy")
	if err != nil || fi.Base != "b/w.npy" {
		t.Fatalf("Stat: %+v %v", fi, err)
	}
	if f, err := s.Open(ctx, "f/w.npy"); err != nil || f.Size() != fi.Size {
		t.Fatalf("Open: %v", err)
	}
	after := s.RuntimeStats()
	if after.ChunksDecoded != before.ChunksDecoded || after.CacheMisses != before.CacheMisses {
		t.Errorf("listing, stat and open decoded %d chunks", after.ChunksDecoded-before.ChunksDecoded)
	}
}

func TestOpenObjectsStayBounded(t *testing.T) {
	s := newStore(t, Options{})
	s.handles = newHandlePool(2)
	mustMkdir(t, s, "m")
	want := map[string][]byte{}
	for i := range 6 {
		p := fmt.Sprintf("m/%d.bin", i)
		want[p] = randomBytes(uint64(i), 3000)
		ingestBytes(t, s, p, want[p])
	}
	for round := range 2 {
		for p, data := range want {
			s.chunks.Purge()
			if got := readFile(t, s, p); !bytes.Equal(got, data) {
				t.Fatalf("round %d: %s differs", round, p)
			}
		}
	}
	s.handles.mu.Lock()
	open, idle := len(s.handles.open), s.handles.idle.Len()
	s.handles.mu.Unlock()
	if open > 2 || idle > 2 {
		t.Errorf("%d objects open (%d idle), bound 2", open, idle)
	}
}
