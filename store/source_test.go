package store

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"deltafs/delta"
)

// TestIngestRefusesAFileChangedMidway: a file (not Stable) that another
// process rewrites between its hash and its encoding, keeping its size, is
// refused with errSourceChanged; nothing is committed, and the old content
// stays. The hash is never recorded for other bytes.
func TestIngestRefusesAFileChangedMidway(t *testing.T) {
	const n = 300_000
	w := weights(51, n)
	tests := []struct {
		name string
		path string
		data []byte
	}{
		{"tensor against its base", "f/w.npy", makeNPY(t, "<f4", []int64{n}, f32bytes(fineTune(52, w, 0.05)))},
		{"blob", "f/blob.bin", randomBytes(53, 3<<20)},
	}
	s := newStoreWithBase(t, Options{})
	ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{n}, f32bytes(w)))
	old := []byte("the old content")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ingestBytes(t, s, tt.path, old)
			f, err := os.CreateTemp(t.TempDir(), "src-*")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(tt.data); err != nil {
				t.Fatal(err)
			}
			orig := deltaEncodeTo
			t.Cleanup(func() { deltaEncodeTo = orig })
			deltaEncodeTo = func(ctx context.Context, tn delta.StreamTensor, ref *delta.StreamTensor, cfg delta.Config, w io.WriterAt) (delta.Header, int64, error) {
				// Another writer flips a byte in the middle, after the hash.
				if _, err := f.WriteAt([]byte{tt.data[len(tt.data)/2] ^ 0xff}, int64(len(tt.data)/2)); err != nil {
					t.Error(err)
				}
				return orig(ctx, tn, ref, cfg, w)
			}
			_, err = s.Ingest(context.Background(), tt.path, f, IngestOptions{})
			if !errors.Is(err, errSourceChanged) {
				t.Fatalf("Ingest of a file changed midway: %v, want %v", err, errSourceChanged)
			}
			if got := readFile(t, s, tt.path); string(got) != string(old) {
				t.Error("a refused ingest changed the file")
			}
		})
	}
	if problems, err := s.Verify(context.Background(), "", nil); err != nil || len(problems) != 0 {
		t.Errorf("Verify: %v, %v", problems, err)
	}
}
