package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// objectFile finds the file of object id under the store's objects dir.
func objectFile(t testing.TB, s *Store, id string) string {
	t.Helper()
	var found string
	filepath.WalkDir(filepath.Join(s.Dir(), objectsDirName), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == id {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Fatalf("object file %s not found", id)
	}
	return found
}

// flipByte inverts one byte of a file at off (negative: from the end).
func flipByte(t testing.TB, name string, off int64) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	b[off] ^= 0xff
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptObjectIsAnErrorNeverWrongBytes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		victim string // which object to damage
		off    func(size int64) int64
	}{
		{"delta header", "f/w.npy", func(int64) int64 { return 12 }},
		{"delta payload", "f/w.npy", func(n int64) int64 { return n / 2 }},
		{"delta last byte", "f/w.npy", func(n int64) int64 { return n - 1 }},
		{"base payload", "b/w.npy", func(n int64) int64 { return n / 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := newLogger()
			s := newStoreWithBase(t, Options{Logger: logger})
			ctx := context.Background()
			w := weights(21, 60000)
			ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{60000}, f32bytes(w)))
			ingestBytes(t, s, "f/w.npy", makeNPY(t, "<f4", []int64{60000}, f32bytes(fineTune(22, w, 0.1))))
			e, _ := s.catalog.Get(ctx, tc.victim)
			name := objectFile(t, s, e.Object)
			st, _ := os.Stat(name)
			flipByte(t, name, tc.off(st.Size()))
			s.chunks.Purge()
			s.handles.closeAll()

			f, err := s.Open(ctx, "f/w.npy")
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, f.Size())
			n, err := f.ReadAt(buf, 0)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read: n=%d err=%v, want ErrCorrupt", n, err)
			}
			fe, _ := s.catalog.Get(ctx, "f/w.npy")
			if !containsAll(logs.String(), "level=ERROR", "f/w.npy", fe.Object, shortID(e.Object)) {
				t.Errorf("no error log naming path and object; log:\n%s", logs.String())
			}
			if s.RuntimeStats().LastError == "" {
				t.Error("LastError not set")
			}
			problems, err := s.Verify(ctx, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) == 0 {
				t.Fatal("Verify found nothing")
			}
			named := false
			for _, p := range problems {
				if p.Object == e.Object && errors.Is(p.Err, ErrCorrupt) {
					named = true
				}
			}
			if !named {
				t.Errorf("Verify problems %v do not name object %s", problems, e.Object)
			}
			dest := filepath.Join(t.TempDir(), "out.npy")
			if err := s.Export(ctx, "f/w.npy", dest, nil); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Export: %v, want ErrCorrupt", err)
			}
			if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Export left a file behind: %v", err)
			}
			left, _ := os.ReadDir(filepath.Dir(dest))
			for _, d := range left {
				t.Errorf("Export left %s", d.Name())
			}
		})
	}
}

func TestMissingObjectFile(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	want := bytes.Repeat([]byte("blob "), 1000)
	ingestBytes(t, s, "m/a.txt", want)
	e, _ := s.catalog.Get(ctx, "m/a.txt")
	os.Remove(objectFile(t, s, e.Object))
	s.chunks.Purge()
	s.handles.closeAll()
	if _, err := s.Open(ctx, "m/a.txt"); err != nil {
		t.Fatalf("Open (catalog only) failed: %v", err)
	}
	f, _ := s.Open(ctx, "m/a.txt")
	if _, err := f.ReadAt(make([]byte, 10), 0); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("read: %v, want ErrCorrupt naming a missing object", err)
	}
	problems, err := s.Verify(ctx, "", nil)
	if err != nil || len(problems) == 0 {
		t.Errorf("Verify: %v, %v", problems, err)
	}
}

// TestDecodeChunkLeavesReferenceAlone guards the zero-copy reference path:
// the store hands cached chunks to DecodeChunk as references, so the
// decoder must never write to them.
func TestDecodeChunkLeavesReferenceAlone(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "b")
	mustMkdir(t, s, "f")
	s.SetBase(ctx, "f", "b")
	w := weights(81, 300000)
	ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{300000}, f32bytes(w)))
	ingestBytes(t, s, "f/w.npy", makeNPY(t, "<f4", []int64{300000}, f32bytes(fineTune(82, w, 0.2))))
	e, _ := s.catalog.Get(ctx, "f/w.npy")
	h, err := s.acquire(ctx, e.Object)
	if err != nil {
		t.Fatal(err)
	}
	defer s.release(h)
	for i := range h.obj.Header().NumChunks {
		if !h.obj.ChunkUsesReference(i) {
			continue
		}
		off, n := h.obj.ChunkRange(i)
		ref := make([]byte, n)
		if err := s.readObject(ctx, h.rec.Ref, off, ref, 1, readOptions{}); err != nil {
			t.Fatal(err)
		}
		before := bytes.Clone(ref)
		if err := h.obj.DecodeChunk(i, ref, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ref, before) {
			t.Fatalf("DecodeChunk wrote to its reference (chunk %d)", i)
		}
	}
}
