package store

import (
	"bytes"
	"context"
	"testing"

	"deltafs/delta"
)

// TestIngestReferenceLeavesCacheAlone: the reference of a tensor being
// ingested is decoded chunk by chunk straight into the encoder's buffer
// (and once more for the write check), taking chunks the cache holds
// already and adding none, so an ingest does not push out what readers
// use; the result is bit-exact either way.
func TestIngestReferenceLeavesCacheAlone(t *testing.T) {
	const chunk = 64 << 10
	tests := []struct {
		name   string
		cached []int // base chunks read (so cached) before the ingest
	}{
		{"nothing cached", nil},
		{"some chunks cached", []int{0, 3}},
		{"all chunks cached", []int{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := delta.DefaultConfig()
			cfg.ChunkSize = chunk
			s := newStoreWithBase(t, Options{Delta: cfg})
			ctx := context.Background()
			n := (4*chunk + chunk/2) / 4 // five chunks, the last one short
			w := weights(21, n)
			ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{int64(n)}, f32bytes(w)))
			base, err := s.catalog.Get(ctx, "b/w.npy")
			if err != nil {
				t.Fatal(err)
			}
			s.chunks.Purge()
			for _, i := range tt.cached {
				buf := make([]byte, min(chunk, 4*n-i*chunk))
				if err := s.readObject(ctx, base.Object, int64(i*chunk), buf, 0, readOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			before, decodedBefore := s.chunks.Stats(), s.chunksDecoded.Load()

			file := makeNPY(t, "<f4", []int64{int64(n)}, f32bytes(fineTune(22, w, 0.02)))
			if fi := ingestBytes(t, s, "f/w.npy", file); fi.Base != "b/w.npy" {
				t.Fatalf("Base = %q, want b/w.npy", fi.Base)
			}
			after := s.chunks.Stats()
			if after.Entries != before.Entries || after.Misses != before.Misses {
				t.Errorf("the ingest changed the cache: %+v, then %+v", before, after)
			}
			// Each chunk not cached is decoded once to encode, once to check.
			if got, want := s.chunksDecoded.Load()-decodedBefore, int64(2*(5-len(tt.cached))); got != want {
				t.Errorf("the ingest decoded %d base chunks, want %d (the cached ones are reused)", got, want)
			}
			if got := readFile(t, s, "f/w.npy"); !bytes.Equal(got, file) {
				t.Error("the fine-tune reads back wrong")
			}
		})
	}
}
