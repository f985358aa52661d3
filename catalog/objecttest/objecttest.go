// Package objecttest is the conformance suite of catalog.ObjectStore: every
// backend (the local directory, S3) runs it, so they keep one contract.
package objecttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"

	"deltafs/catalog"
)

// LargeSize is the size of the suite's large object: past an S3 store's
// multipart threshold when the store is opened with a 5 MiB part size.
const LargeSize = 12<<20 + 12345

// Run runs the suite; open returns an empty store, cleaned up by the test.
func Run(t *testing.T, open func(t *testing.T) catalog.ObjectStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s catalog.ObjectStore)
	}{
		{"PutOpenRead", testPutOpenRead},
		{"PutFile", testPutFile},
		{"ReadAtRanges", testReadAtRanges},
		{"Missing", testMissing},
		{"InvalidID", testInvalidID},
		{"DeleteAndList", testDeleteAndList},
		{"ConcurrentPutSame", testConcurrentPutSame},
		{"ConcurrentReadAt", testConcurrentReadAt},
		{"Cancelled", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// Data returns size deterministic pseudo-random bytes.
func Data(seed uint64, size int) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < size; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < size; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// ReadAll reads object id whole and checks its size.
func ReadAll(t testing.TB, s catalog.ObjectStore, id string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatalf("Open(%s): %v", id, err)
	}
	defer r.Close()
	b := make([]byte, r.Size())
	n, err := r.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		t.Fatalf("ReadAt whole %s: %d, %v", id, n, err)
	}
	return b[:n]
}

// PutOpen stores data and opens it; the reader is closed when the test ends.
func PutOpen(t testing.TB, s catalog.ObjectStore, data []byte) (string, catalog.ObjectReader) {
	t.Helper()
	ctx := context.Background()
	id, _, err := s.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return id, r
}

func testPutOpenRead(t *testing.T, s catalog.ObjectStore) {
	ctx := context.Background()
	for _, data := range [][]byte{{}, []byte("hello"), Data(1, 3<<20+5)} {
		id, created, err := s.Put(ctx, data)
		if err != nil || !created {
			t.Fatalf("Put(%d bytes) = %s, created %v, %v", len(data), id, created, err)
		}
		if id != catalog.ObjectID(data) {
			t.Fatalf("id %s is not the SHA-256 of the bytes", id)
		}
		if ok, err := s.Has(ctx, id); !ok || err != nil {
			t.Fatalf("Has after Put = %v, %v", ok, err)
		}
		if got := ReadAll(t, s, id); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes differ (put %d)", len(got), len(data))
		}
		if err := catalog.VerifyObject(ctx, s, id); err != nil {
			t.Fatal(err)
		}
		if again, created, err := s.Put(ctx, data); err != nil || again != id || created {
			t.Fatalf("second Put = %s, created %v, %v; want the same id, not created", again, created, err)
		}
	}
}

func testPutFile(t *testing.T, s catalog.ObjectStore) {
	ctx := context.Background()
	for _, size := range []int{0, 100, 1 << 20, LargeSize} {
		data := Data(uint64(size)+2, size)
		put := func() (string, int64, bool) {
			f, err := s.CreateTemp(ctx)
			if err != nil {
				t.Fatal(err)
			}
			name := f.Name()
			if _, err := f.Write(data); err != nil {
				t.Fatal(err)
			}
			id, n, created, err := s.PutFile(ctx, f)
			if err != nil {
				t.Fatalf("PutFile(%d bytes): %v", size, err)
			}
			if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temp file %s still there after PutFile (%v)", name, err)
			}
			return id, n, created
		}
		id, n, created := put()
		if id != catalog.ObjectID(data) || n != int64(size) || !created {
			t.Fatalf("PutFile = %s, %d, created %v; want %s, %d, true", id, n, created, catalog.ObjectID(data), size)
		}
		if got := ReadAll(t, s, id); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back differs", size)
		}
		if id2, n2, created := put(); id2 != id || n2 != n || created {
			t.Fatalf("PutFile again = %s, %d, created %v; want the same, not created", id2, n2, created)
		}
	}
	// A temp file handed back without PutFile: closed and removed by the
	// caller, nothing stored.
	f, err := s.CreateTemp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Remove(f.Name())
}

func testReadAtRanges(t *testing.T, s catalog.ObjectStore) {
	data := Data(3, 2<<20+333)
	size := int64(len(data))
	_, r := PutOpen(t, s, data)
	if r.Size() != size {
		t.Fatalf("Size = %d, want %d", r.Size(), size)
	}
	tests := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantEOF bool
	}{
		{"start", 0, 10, 10, false},
		{"middle", 1<<20 - 7, 100, 100, false},
		{"across a MiB boundary", 1<<20 - 50, 1 << 20, 1 << 20, false},
		{"to the end", size - 100, 100, 100, false},
		{"past the end", size - 100, 200, 100, true},
		{"at the end", size, 10, 0, true},
		{"beyond the end", size + 10, 10, 0, true},
		{"empty", 5, 0, 0, false},
	}
	for _, tc := range tests {
		p := make([]byte, tc.n)
		n, err := r.ReadAt(p, tc.off)
		if n != tc.wantN {
			t.Errorf("%s: ReadAt(%d, %d) = %d bytes, want %d (%v)", tc.name, tc.off, tc.n, n, tc.wantN, err)
			continue
		}
		if tc.wantEOF && !errors.Is(err, io.EOF) || !tc.wantEOF && err != nil {
			t.Errorf("%s: ReadAt(%d, %d) error %v, want EOF %v", tc.name, tc.off, tc.n, err, tc.wantEOF)
		}
		if n > 0 && !bytes.Equal(p[:n], data[tc.off:tc.off+int64(n)]) {
			t.Errorf("%s: wrong bytes", tc.name)
		}
	}
}

func testMissing(t *testing.T, s catalog.ObjectStore) {
	ctx := context.Background()
	id := catalog.ObjectID([]byte("never stored"))
	if _, err := s.Open(ctx, id); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Open of a missing object = %v, want ErrNotFound", err)
	}
	if ok, err := s.Has(ctx, id); ok || err != nil {
		t.Fatalf("Has of a missing object = %v, %v", ok, err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatalf("Delete of a missing object = %v, want nil", err)
	}
	if err := catalog.VerifyObject(ctx, s, id); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("VerifyObject of a missing object = %v, want ErrNotFound", err)
	}
}

func testInvalidID(t *testing.T, s catalog.ObjectStore) {
	ctx := context.Background()
	good := catalog.ObjectID(nil)
	for _, id := range []string{"", "abc", "../" + good[3:], good[:63] + "G", good + "0", "AB" + good[2:]} {
		if _, err := s.Open(ctx, id); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", id, err)
		}
		if _, err := s.Has(ctx, id); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("Has(%q) = %v, want ErrInvalid", id, err)
		}
		if err := s.Delete(ctx, id); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("Delete(%q) = %v, want ErrInvalid", id, err)
		}
	}
}

func testDeleteAndList(t *testing.T, s catalog.ObjectStore) {
	ctx := context.Background()
	if ids, err := s.List(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("List of an empty store = %v, %v", ids, err)
	}
	var ids []string
	for i := range 5 {
		id, _, err := s.Put(ctx, Data(uint64(10+i), 1000+i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	got, err := s.List(ctx)
	if err != nil || !slices.Equal(got, ids) {
		t.Fatalf("List = %v, %v; want %v", got, err, ids)
	}
	if err := s.Delete(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Has(ctx, ids[2]); ok || err != nil {
		t.Fatalf("Has after Delete = %v, %v", ok, err)
	}
	if _, err := s.Open(ctx, ids[2]); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Open after Delete = %v, want ErrNotFound", err)
	}
	got, err = s.List(ctx)
	if want := slices.Delete(slices.Clone(ids), 2, 3); err != nil || !slices.Equal(got, want) {
		t.Fatalf("List after Delete = %v, %v; want %v", got, err, want)
	}
}

func testConcurrentPutSame(t *testing.T, s catalog.ObjectStore) {
	ctx := context.Background()
	data := Data(20, 256<<10)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, _, err := s.Put(ctx, data)
			if err == nil && id != catalog.ObjectID(data) {
				err = errors.New("wrong id")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := ReadAll(t, s, catalog.ObjectID(data)); !bytes.Equal(got, data) {
		t.Fatal("concurrent Puts of one object left other bytes")
	}
}

func testConcurrentReadAt(t *testing.T, s catalog.ObjectStore) {
	data := Data(21, 3<<20)
	_, r := PutOpen(t, s, data)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 9))
			for range 10 {
				off := rnd.Int64N(int64(len(data)))
				p := make([]byte, rnd.IntN(300<<10)+1)
				n, err := r.ReadAt(p, off)
				if err != nil && !errors.Is(err, io.EOF) {
					errs <- err
					return
				}
				if !bytes.Equal(p[:n], data[off:off+int64(n)]) {
					errs <- errors.New("wrong bytes")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testCancelled(t *testing.T, s catalog.ObjectStore) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := []byte("cancelled")
	if _, _, err := s.Put(ctx, data); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	if ok, _ := s.Has(context.Background(), catalog.ObjectID(data)); ok {
		t.Fatal("Put with a cancelled context stored the object")
	}
}
