package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"deltafs/npy"
)

// newStore creates and opens a store in a temporary directory.
func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if err := Init(dir); err != nil {
		t.Fatalf("Init: %v", err)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStoreWithBase is newStore holding two models, "b" and "f", f's base
// being b.
func newStoreWithBase(t testing.TB, opts Options) *Store {
	t.Helper()
	s := newStore(t, opts)
	mustMkdir(t, s, "b")
	mustMkdir(t, s, "f")
	if err := s.SetBase(context.Background(), "f", "b"); err != nil {
		t.Fatal(err)
	}
	return s
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newLogger returns a logger writing text lines to a buffer.
func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// ingestBytes stages data in a temporary file and ingests it at path.
func ingestBytes(t testing.TB, s *Store, path string, data []byte) FileInfo {
	t.Helper()
	fi, err := tryIngest(s, path, data, IngestOptions{})
	if err != nil {
		t.Fatalf("Ingest %s: %v", path, err)
	}
	return fi
}

// tryIngest stages data and ingests it, returning the error.
func tryIngest(s *Store, path string, data []byte, opts IngestOptions) (FileInfo, error) {
	f, err := os.CreateTemp(s.StagingDir(), "test-*")
	if err != nil {
		return FileInfo{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return FileInfo{}, err
	}
	return s.Ingest(context.Background(), path, f, opts)
}

// readFile reads a whole file of the store.
func readFile(t testing.TB, s *Store, path string) []byte {
	t.Helper()
	f, err := s.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	defer f.Close()
	buf := make([]byte, f.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		t.Fatalf("ReadAt %s: %v", path, err)
	}
	if int64(n) != f.Size() {
		t.Fatalf("ReadAt %s: %d of %d bytes", path, n, f.Size())
	}
	return buf
}

// mustMkdir creates a directory.
func mustMkdir(t testing.TB, s *Store, path string) {
	t.Helper()
	if err := s.Mkdir(context.Background(), path); err != nil {
		t.Fatalf("Mkdir %s: %v", path, err)
	}
}

// makeNPY builds an .npy file with the canonical header.
func makeNPY(t testing.TB, descr string, shape []int64, data []byte) []byte {
	t.Helper()
	dt, err := npy.ParseDescr(descr)
	if err != nil {
		t.Fatalf("ParseDescr %s: %v", descr, err)
	}
	h, err := npy.FormatHeader(npy.Header{DType: dt, Shape: shape})
	if err != nil {
		t.Fatalf("FormatHeader: %v", err)
	}
	return append(h, data...)
}

// weights returns n little-endian float32 weights, normal with std 0.02.
func weights(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.02)
	}
	return w
}

// fineTune returns w plus a small perturbation of a fraction of entries.
func fineTune(seed uint64, w []float32, frac float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([]float32, len(w))
	for i, v := range w {
		if r.Float64() < frac {
			v += float32(r.NormFloat64() * 1e-4)
		}
		out[i] = v
	}
	return out
}

// f32bytes encodes float32s little-endian.
func f32bytes(w []float32) []byte {
	b := make([]byte, 4*len(w))
	for i, v := range w {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// randomBytes returns n pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
