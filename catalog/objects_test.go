package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"deltafs/internal/testenv"
)

func newTestObjects(t *testing.T) (*DirObjects, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "objects")
	d, err := NewDirObjects(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d, dir
}

func TestObjectsRoundTrip(t *testing.T) {
	d, dir := newTestObjects(t)
	ctx := context.Background()
	inputs := [][]byte{{}, []byte("hello"), bytes.Repeat([]byte{0xAB}, 3<<20)}
	var ids []string
	for _, data := range inputs {
		id, created, err := d.Put(ctx, data)
		if err != nil || !created {
			t.Fatalf("Put = %s, created %v, %v", id, created, err)
		}
		if id != ObjectID(data) {
			t.Fatalf("id %s is not the SHA-256 of the data", id)
		}
		ids = append(ids, id)
		fi, err := os.Stat(filepath.Join(dir, id[:2], id))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o444 {
			t.Errorf("object mode %v, want read-only", fi.Mode().Perm())
		}
		r, err := d.Open(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, r.Size())
		if _, err := r.ReadAt(got, 0); err != nil && !(err == io.EOF && len(got) == 0) {
			t.Fatal(err)
		}
		r.Close()
		if !bytes.Equal(got, data) || r.Size() != int64(len(data)) {
			t.Fatalf("read back %d bytes, want %d", len(got), len(data))
		}
		if err := d.Verify(ctx, id); err != nil {
			t.Fatal(err)
		}
		if again, created, err := d.Put(ctx, data); err != nil || again != id || created {
			t.Fatalf("second Put = %s, created %v, %v; want the same id, not created", again, created, err)
		}
	}
	list, err := d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if !slices.Equal(list, ids) {
		t.Fatalf("List = %v, want %v", list, ids)
	}
	for _, id := range ids {
		if err := d.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if ok, err := d.Has(ctx, id); ok || err != nil {
			t.Fatalf("Has after Delete = %v, %v", ok, err)
		}
		if err := d.Delete(ctx, id); err != nil {
			t.Fatalf("deleting twice: %v", err)
		}
	}
	if _, err := d.Open(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open(deleted) = %v, want ErrNotFound", err)
	}
	if err := d.Verify(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Verify(deleted) = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "zz", "../../etc/passwd", strings.Repeat("A", 64), strings.Repeat("a", 63) + "/"} {
		if _, err := d.Open(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", bad, err)
		}
		if _, err := d.Has(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Has(%q) = %v, want ErrInvalid", bad, err)
		}
		if err := d.Delete(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Delete(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestObjectsPutReader(t *testing.T) {
	d, _ := newTestObjects(t)
	data := bytes.Repeat([]byte("stream "), 200000)
	id, n, err := d.PutReader(context.Background(), bytes.NewReader(data))
	if err != nil || id != ObjectID(data) || n != int64(len(data)) {
		t.Fatalf("PutReader = %s, %d, %v", id, n, err)
	}
	if err := d.Verify(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := d.PutReader(ctx, bytes.NewReader([]byte("x"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled PutReader = %v", err)
	}
	assertNoTemp(t, d)
}

func TestObjectCorruption(t *testing.T) {
	d, dir := newTestObjects(t)
	ctx := context.Background()
	data := []byte("precious tensor bytes")
	id, _, _ := d.Put(ctx, data)
	file := filepath.Join(dir, id[:2], id)
	tests := []struct {
		name    string
		corrupt []byte
	}{
		{"flipped bit", append([]byte{data[0] ^ 1}, data[1:]...)},
		{"truncated", data[:5]},
		{"extended", append(slices.Clone(data), 0)},
		{"empty", nil},
	}
	for _, tt := range tests {
		os.Chmod(file, 0o644)
		if err := os.WriteFile(file, tt.corrupt, 0o444); err != nil {
			t.Fatal(err)
		}
		if err := d.Verify(ctx, id); !errors.Is(err, ErrObjectCorrupt) {
			t.Errorf("%s: Verify = %v, want ErrObjectCorrupt", tt.name, err)
		}
	}
	// A Put of the same content repairs an object of the wrong size.
	if _, created, err := d.Put(ctx, data); err != nil || !created {
		t.Fatalf("Put over a truncated object: created %v, %v", created, err)
	}
	if err := d.Verify(ctx, id); err != nil {
		t.Fatalf("after repairing Put: %v", err)
	}
}

// faultyFile fails like a full disk once limit bytes were written, or on
// Sync when failSync is set.
type faultyFile struct {
	*os.File
	limit    int
	failSync bool
}

func (f *faultyFile) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.File.Write(p[:f.limit])
		f.limit = 0
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.limit -= len(p)
	return f.File.Write(p)
}

func (f *faultyFile) Sync() error {
	if f.failSync {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Sync()
}

func TestObjectWriteFaultsLeaveNothing(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 100000)
	tests := []struct {
		name     string
		limit    int
		failSync bool
		want     error
	}{
		{"disk full mid-write", 4096, false, syscall.ENOSPC},
		{"disk full at once", 0, false, syscall.ENOSPC},
		{"fsync fails", len(data), true, syscall.EIO},
	}
	for _, tt := range tests {
		for _, streaming := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/streaming=%v", tt.name, streaming), func(t *testing.T) {
				d, _ := newTestObjects(t)
				d.createTemp = func(dir, pattern string) (tempFile, error) {
					f, err := os.CreateTemp(dir, pattern)
					if err != nil {
						return nil, err
					}
					return &faultyFile{File: f, limit: tt.limit, failSync: tt.failSync}, nil
				}
				var err error
				if streaming {
					_, _, err = d.PutReader(ctx, bytes.NewReader(data))
				} else {
					_, _, err = d.Put(ctx, data)
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("Put = %v, want %v", err, tt.want)
				}
				if ok, _ := d.Has(ctx, ObjectID(data)); ok {
					t.Fatal("a failed write left an object under its final name")
				}
				assertNoTemp(t, d)
				if ids, _ := d.List(ctx); len(ids) != 0 {
					t.Fatalf("List after failure = %v", ids)
				}
			})
		}
	}
}

// TestObjectsRealFullDisk fills a 1 MiB tmpfs (needs root; skipped otherwise).
func TestObjectsRealFullDisk(t *testing.T) {
	mnt := testenv.Tmpfs(t, "1m")
	d, err := NewDirObjects(filepath.Join(mnt, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	small, _, err := d.Put(ctx, bytes.Repeat([]byte{1}, 100<<10))
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{2}, 2<<20)
	if _, _, err := d.Put(ctx, big); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk = %v, want ENOSPC", err)
	}
	if _, _, err := d.PutReader(ctx, bytes.NewReader(big)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("PutReader on a full disk = %v, want ENOSPC", err)
	}
	assertNoTemp(t, d)
	ids, _ := d.List(ctx)
	if !slices.Equal(ids, []string{small}) {
		t.Fatalf("after a full disk: %v, want only the small object", ids)
	}
	if err := d.Verify(ctx, small); err != nil {
		t.Fatal(err)
	}
	// Space is back: writing works again.
	if _, _, err := d.Put(ctx, bytes.Repeat([]byte{3}, 100<<10)); err != nil {
		t.Fatalf("after a full disk: %v", err)
	}
}

func assertNoTemp(t *testing.T, d *DirObjects) {
	t.Helper()
	es, _ := os.ReadDir(d.dir)
	for _, e := range es {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Fatalf("temp file %s left behind", e.Name())
		}
	}
}

func TestConcurrentPutsOfOneObject(t *testing.T) {
	d, _ := newTestObjects(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("same"), 50000)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := d.Put(ctx, data)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Verify(ctx, ObjectID(data)); err != nil {
		t.Fatal(err)
	}
	assertNoTemp(t, d)
}

func TestRemoveTemp(t *testing.T) {
	d, dir := newTestObjects(t)
	ctx := context.Background()
	os.WriteFile(filepath.Join(dir, tempPrefix+"leftover"), []byte("half"), 0o600)
	if n, err := d.RemoveTemp(ctx, 0); n != 1 || err != nil {
		t.Fatalf("RemoveTemp = %d, %v", n, err)
	}
	os.WriteFile(filepath.Join(dir, tempPrefix+"young"), []byte("half"), 0o600)
	if n, _ := d.RemoveTemp(ctx, 1<<62); n != 0 {
		t.Fatal("removed a temp file younger than the age")
	}
}

func TestObjectReaderConcurrentReadAt(t *testing.T) {
	d, _ := newTestObjects(t)
	ctx := context.Background()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	id, _, _ := d.Put(ctx, data)
	r, err := d.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for off := int64(g * 4096); off+4096 <= int64(len(data)); off += 8 * 4096 {
				if _, err := r.ReadAt(buf, off); err != nil || !bytes.Equal(buf, data[off:off+4096]) {
					t.Errorf("ReadAt(%d): %v", off, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestObjectsPutFile: an object written in place to a temp file is stored
// under its id (or found stored already, the temp file then dropped); a
// cancelled write leaves nothing. The temp file is gone in every case.
func TestObjectsPutFile(t *testing.T) {
	d, _ := newTestObjects(t)
	data := bytes.Repeat([]byte("in place "), 300000)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name        string
		ctx         context.Context
		wantCreated bool
		wantErr     error
	}{
		{"new object", context.Background(), true, nil},
		{"stored already", context.Background(), false, nil},
		{"cancelled", cancelled, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := d.CreateTemp(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			data := data
			if tt.wantErr != nil {
				data = bytes.Repeat([]byte("another object "), 100)
			}
			// Written back to front, as an object with its header last.
			if _, err := f.WriteAt(data[100:], 100); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(data[:100], 0); err != nil {
				t.Fatal(err)
			}
			id, size, created, err := d.PutFile(tt.ctx, f)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("PutFile: %v, want %v", err, tt.wantErr)
			}
			assertNoTemp(t, d)
			if tt.wantErr != nil {
				if has, _ := d.Has(context.Background(), ObjectID(data)); has {
					t.Fatal("a cancelled PutFile stored the object")
				}
				return
			}
			if id != ObjectID(data) || size != int64(len(data)) || created != tt.wantCreated {
				t.Fatalf("PutFile = %s, %d, %v; want %s, %d, %v", id, size, created, ObjectID(data), len(data), tt.wantCreated)
			}
			if err := d.Verify(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCreateTempIsLocked: RemoveTemp of any age leaves a temp file from
// CreateTemp alone while its writer has it open, and PutFile still stores
// it; one its writer closed without storing is removed.
func TestCreateTempIsLocked(t *testing.T) {
	d, _ := newTestObjects(t)
	ctx := context.Background()
	f, err := d.CreateTemp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("locked "), 1000)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if n, err := d.RemoveTemp(ctx, 0); err != nil || n != 0 {
		t.Fatalf("RemoveTemp beside a live writer removed %d (%v)", n, err)
	}
	if id, _, created, err := d.PutFile(ctx, f); err != nil || !created || id != ObjectID(data) {
		t.Fatalf("PutFile after RemoveTemp: %s, %v, %v", id, created, err)
	}
	dead, err := d.CreateTemp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	if n, err := d.RemoveTemp(ctx, 0); err != nil || n != 1 {
		t.Fatalf("RemoveTemp of a closed writer's temp file removed %d (%v)", n, err)
	}
	assertNoTemp(t, d)
}
