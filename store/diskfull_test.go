package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"deltafs/catalog"
	"deltafs/internal/testenv"
)

// TestRealDiskFullDuringImport imports onto a small tmpfs that fills up
// midway (root only): the import fails with ENOSPC, and every entry left
// in the catalog reads back whole.
func TestRealDiskFullDuringImport(t *testing.T) {
	mnt := testenv.Tmpfs(t, "3m")
	dir := filepath.Join(mnt, "store")
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	src := t.TempDir()
	files := map[string][]byte{}
	for i := range 12 {
		files[filepath.Join("d", string(rune('a'+i))+".bin")] = randomBytes(uint64(i), 400<<10) // incompressible
	}
	writeTree(t, src, files)
	_, err = s.Import(ctx, src, "m", ImportOptions{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("import onto a full disk: %v, want ENOSPC", err)
	}
	t.Logf("import error: %v", err)
	// Whatever entries remain (the rollback itself may need space) read back.
	entries, err := s.catalog.Walk(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind == catalog.KindDir {
			continue
		}
		rel := e.Path[len("m/"):]
		got := readFile(t, s, e.Path)
		if string(got) != string(files[filepath.FromSlash(rel)]) {
			t.Errorf("%s: half-written entry", e.Path)
		}
	}
	if problems, err := s.Verify(ctx, "", nil); err != nil || len(problems) != 0 {
		t.Errorf("Verify after a full disk: %v %v", problems, err)
	}
}

// TestTwoStoresImportAtOnce imports through two opens of one store (as two
// processes would) at the same time.
func TestTwoStoresImportAtOnce(t *testing.T) {
	a := newStore(t, Options{})
	b, err := Open(a.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	src := t.TempDir()
	base, _ := modelFiles(t)
	writeTree(t, src, base)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, s := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := []string{"x", "y", "same", "same"}[i]
			_, errs[i] = s.Import(ctx, src, name, ImportOptions{})
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("concurrent imports: %v, %v", errs[0], errs[1])
	}
	if (errs[2] == nil) == (errs[3] == nil) || !errors.Is(errors.Join(errs[2], errs[3]), ErrExist) {
		t.Errorf("two imports of one name: %v, %v (want one ErrExist)", errs[2], errs[3])
	}
	for _, m := range []string{"x", "y", "same"} {
		for name, want := range base {
			if got := readFile(t, b, m+"/"+name); string(got) != string(want) {
				t.Errorf("%s/%s differs", m, name)
			}
		}
	}
}
