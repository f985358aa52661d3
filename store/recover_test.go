package store

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"deltafs/catalog"
)

// crash drops s as a killed process would: its locks are released, and
// nothing it left is cleaned.
func crash(s *Store) {
	if s.session != nil {
		s.session.lock.Close()
	}
	s.handles.closeAll()
	s.catalog.Close()
	s.lock.Close()
	s.closeMu.Do(func() {}) // Close does nothing any more
}

// objectFiles lists the object files of s (temp files included).
func objectFiles(t testing.TB, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(s.Dir(), objectsDirName), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// stagingFiles lists every file under the staging directory of s.
func stagingFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, stagingDirName), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func reopen(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStagingOfDeadAndLiveSessions: the next open removes the staging files
// of a process that died, never those of one alive, however old they look;
// a clean close leaves nothing.
func TestStagingOfDeadAndLiveSessions(t *testing.T) {
	dead := newStore(t, Options{})
	dir := dead.Dir()
	deadFile := filepath.Join(dead.StagingDir(), "fuse-1.stage")
	if err := os.WriteFile(deadFile, []byte("half written"), 0o644); err != nil {
		t.Fatal(err)
	}
	live := reopen(t, dir, Options{})
	liveFile := filepath.Join(live.StagingDir(), "fuse-2.stage")
	if err := os.WriteFile(liveFile, []byte("being written"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-24 * time.Hour)
	for _, f := range []string{deadFile, liveFile, live.StagingDir(), dead.StagingDir()} {
		os.Chtimes(f, old, old)
	}
	crash(dead)

	for _, opts := range []Options{{ReadOnly: true}, {}} {
		next := reopen(t, dir, opts)
		if _, err := os.Stat(liveFile); err != nil {
			t.Fatalf("a live process's staging file was removed: %v", err)
		}
		if _, err := os.Stat(deadFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a dead process's staging file is still there (%v)", err)
		}
		next.Close()
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	if left := stagingFiles(t, dir); len(left) != 0 {
		t.Errorf("staging files left after every store closed: %v", left)
	}
}

// TestFailedImportLeavesNoObjects: an import failing on bad input mid-way
// leaves neither the model nor its objects, while the store's other files
// are untouched.
func TestFailedImportLeavesNoObjects(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	ingestBytes(t, s, "keep.bin", randomBytes(1, 5000))
	before := objectFiles(t, s)

	// An .npz whose last member fails its CRC-32 check.
	name := filepath.Join(t.TempDir(), "bad.npz")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, n := range []string{"a.npy", "b.npy", "c.npy"} {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		w.Write(makeNPY(t, "<f4", []int64{4096}, f32bytes(weights(uint64(i), 4096))))
	}
	zw.Close()
	data := buf.Bytes()
	data[bytes.LastIndex(data, []byte("NUMPY"))+2000] ^= 0xff
	os.WriteFile(name, data, 0o644)

	if _, err := s.Import(ctx, name, "bad", ImportOptions{}); err == nil {
		t.Fatal("import of a corrupt .npz succeeded")
	}
	if _, err := s.Stat(ctx, "bad"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the failed import's model is there: %v", err)
	}
	if after := objectFiles(t, s); !slices.Equal(before, after) {
		t.Errorf("object files before %v, after %v", before, after)
	}
	if got := readFile(t, s, "keep.bin"); !bytes.Equal(got, randomBytes(1, 5000)) {
		t.Error("keep.bin changed")
	}
}

// TestKilledImportUndone: the model of an import whose process died, and
// the objects written for it, are gone after the next open.
func TestKilledImportUndone(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	dir := s.Dir()
	ingestBytes(t, s, "keep.bin", randomBytes(1, 5000))
	before := objectFiles(t, s)
	err := s.update(ctx, func(tx catalog.Tx) error {
		if err := mkdirTx(ctx, tx, s.dirEntry("m", MkdirOptions{}), ""); err != nil {
			return err
		}
		return tx.AddImport(ctx, catalog.Import{Model: "m", Session: s.session.name})
	})
	if err != nil {
		t.Fatal(err)
	}
	ingestBytes(t, s, "m/a.bin", randomBytes(2, 5000))
	// An object written but never committed.
	if _, _, err := s.objects.Put(ctx, randomBytes(3, 700)); err != nil {
		t.Fatal(err)
	}
	crash(s)

	next := reopen(t, dir, Options{})
	if _, err := next.Stat(ctx, "m"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the killed import's model is there: %v", err)
	}
	if after := objectFiles(t, next); !slices.Equal(before, after) {
		t.Errorf("object files before %v, after %v", before, after)
	}
	rec := next.Recovered()
	if rec.Sessions != 1 || !slices.Equal(rec.RemovedModels, []string{"m"}) || rec.Objects != 2 {
		t.Errorf("recovery report %+v", rec)
	}
}

// sweepOnPut is an object store after whose every Put another store sweeps
// once, as a concurrent process's cleanup would.
type sweepOnPut struct {
	catalog.ObjectStore
	other *Store
	once  sync.Once
}

func (p *sweepOnPut) Put(ctx context.Context, data []byte) (string, bool, error) {
	id, created, err := p.ObjectStore.Put(ctx, data)
	p.once.Do(func() {
		if _, _, serr := p.other.sweepObjects(ctx); serr != nil {
			err = serr
		}
	})
	return id, created, err
}

// TestSweepBetweenWriteAndCommit: an object swept by another process
// between its write and its commit is written again; the commit never
// names a missing object.
func TestSweepBetweenWriteAndCommit(t *testing.T) {
	s := newStore(t, Options{})
	other := reopen(t, s.Dir(), Options{})
	s.objects = &sweepOnPut{ObjectStore: s.objects, other: other}
	data := randomBytes(9, 100000)
	ingestBytes(t, s, "f.bin", data)
	if got := readFile(t, other, "f.bin"); !bytes.Equal(got, data) {
		t.Error("f.bin differs")
	}
	if problems, err := other.Verify(context.Background(), "", nil); err != nil || len(problems) != 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
}
