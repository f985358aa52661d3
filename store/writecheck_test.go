package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"slices"
	"sync"
	"testing"

	"deltafs/catalog"
	"deltafs/delta"
)

// encodeCall is what one call of the encoder was given.
type encodeCall struct {
	skipCheck bool
	hashGiven bool
	hashRight bool
	withRef   bool
}

// watchEncoder replaces the encoder for the test with one that records its
// calls and, when corrupt is set, encodes a tensor one byte off its input.
func watchEncoder(t *testing.T, corrupt bool) func() []encodeCall {
	t.Helper()
	var (
		mu    sync.Mutex
		calls []encodeCall
	)
	orig := deltaEncodeTo
	deltaEncodeTo = func(ctx context.Context, tn delta.StreamTensor, ref *delta.StreamTensor, cfg delta.Config, w io.WriterAt) (delta.Header, int64, error) {
		c := encodeCall{skipCheck: cfg.SkipEncodeCheck, hashGiven: tn.SHA256 != nil, withRef: ref != nil}
		data := make([]byte, tn.RawSize())
		if _, err := tn.Data.ReadAt(data, 0); err != nil {
			t.Error(err)
		}
		if tn.SHA256 != nil {
			c.hashRight = *tn.SHA256 == sha256.Sum256(data)
		}
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
		if corrupt && len(data) > 0 {
			data[len(data)/2] ^= 0x10
			tn.Data = delta.BytesSource(data)
			tn.SHA256 = nil
		}
		return orig(ctx, tn, ref, cfg, w)
	}
	t.Cleanup(func() { deltaEncodeTo = orig })
	return func() []encodeCall {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(calls)
	}
}

// The store verifies each new object once, itself, byte for byte: the
// encoder's own self-check is off, and the encoder is given the SHA-256 the
// store already computed. With the store's check skipped, the encoder's
// check stays on, so one verification always runs.
func TestWriteIsVerifiedOnce(t *testing.T) {
	for _, skipWriteCheck := range []bool{false, true} {
		s := newStore(t, Options{SkipWriteCheck: skipWriteCheck})
		calls := watchEncoder(t, false)
		ctx := context.Background()
		mustMkdir(t, s, "b")
		mustMkdir(t, s, "f")
		if err := s.SetBase(ctx, "f", "b"); err != nil {
			t.Fatal(err)
		}
		w := weights(31, 30000)
		ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{30000}, f32bytes(w)))
		if fi := ingestBytes(t, s, "f/w.npy", makeNPY(t, "<f4", []int64{30000}, f32bytes(fineTune(32, w, 0.05)))); fi.Base == "" {
			t.Fatal("fine-tune stored standalone")
		}
		ingestBytes(t, s, "f/notes.txt", []byte("an opaque blob"))
		got := calls()
		sawRef := false
		for i, c := range got {
			sawRef = sawRef || c.withRef
			if c.skipCheck != !skipWriteCheck {
				t.Errorf("SkipWriteCheck=%v: call %d: encoder SkipEncodeCheck = %v", skipWriteCheck, i, c.skipCheck)
			}
			if !c.hashGiven || !c.hashRight {
				t.Errorf("call %d: content hash given %v, right %v", i, c.hashGiven, c.hashRight)
			}
		}
		if len(got) < 3 || !sawRef {
			t.Errorf("encoder calls %+v: want a delta, a standalone and a blob encoding", got)
		}
	}
}

// An encoding that does not reproduce its input bit for bit is never
// committed, even though the encoder's own check (off) would have passed it.
func TestWriteCheckCatchesAWrongEncoding(t *testing.T) {
	s := newStore(t, Options{})
	watchEncoder(t, true)
	ctx := context.Background()
	mustMkdir(t, s, "m")
	data := makeNPY(t, "<f4", []int64{20000}, f32bytes(weights(41, 20000)))
	for _, path := range []string{"m/w.npy", "m/blob.bin"} {
		in := data
		if path == "m/blob.bin" {
			in = randomBytes(42, 50000)
		}
		_, err := tryIngest(s, path, in, IngestOptions{})
		if err == nil {
			t.Errorf("%s: wrong encoding was committed", path)
		}
		if _, err := s.Stat(ctx, path); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: after a failed check: %v, want not found", path, err)
		}
	}
}

// An encoding that fails its check is written (the check runs beside the
// write) but never committed: no entry or record names it, GC removes its
// file, and the store verifies clean. The tensor is then stored correctly
// once the encoder is sound again.
func TestFailedCheckLeavesOnlyGarbage(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	data := makeNPY(t, "<f4", []int64{20000}, f32bytes(weights(43, 20000)))
	watchEncoder(t, true)
	if _, err := tryIngest(s, "m/w.npy", data, IngestOptions{}); err == nil {
		t.Fatal("wrong encoding was committed")
	}
	if recs, err := s.catalog.Objects(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("object records after a failed check: %v, %v", recs, err)
	}
	files, err := s.objects.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no object file written beside the check")
	}
	res, err := s.GC(ctx)
	if err != nil || res.ObjectsRemoved != len(files) {
		t.Errorf("GC = %+v, %v; want %d objects removed", res, err, len(files))
	}
	if problems, err := s.Verify(ctx, "", nil); err != nil || len(problems) != 0 {
		t.Errorf("Verify: %v, %v", problems, err)
	}
}

// failingPuts is an object store whose writes fail.
type failingPuts struct{ catalog.ObjectStore }

var errPutFails = errors.New("put fails")

func (failingPuts) Put(context.Context, []byte) (string, bool, error) { return "", false, errPutFails }

func (failingPuts) PutFile(_ context.Context, f *os.File) (string, int64, bool, error) {
	f.Close()
	os.Remove(f.Name())
	return "", 0, false, errPutFails
}

// A failure to write the object is the ingest's error: it is not taken for
// a failed check and another encoding is not tried.
func TestKeepReturnsTheWriteError(t *testing.T) {
	s := newStore(t, Options{})
	calls := watchEncoder(t, false)
	mustMkdir(t, s, "m")
	s.objects = failingPuts{s.objects}
	// Compressible, so the policy keeps the first encoding.
	_, err := tryIngest(s, "m/blob.bin", bytes.Repeat([]byte("compressible "), 400), IngestOptions{})
	if !errors.Is(err, errPutFails) || isCheckError(err) {
		t.Fatalf("ingest with failing writes: %v, want %v", err, errPutFails)
	}
	if n := len(calls()); n != 1 {
		t.Errorf("%d encodings, want 1", n)
	}
}
