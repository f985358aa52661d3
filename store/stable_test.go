package store

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"deltafs/delta"
)

// TestIngestStableSource ingests files with IngestOptions.Stable, which
// lets the store map the staged file instead of reading it: every kind of
// file reads back byte-exact, and no mapping outlives Ingest.
func TestIngestStableSource(t *testing.T) {
	const n = 600_000 // 2.4 MB of float32: mapped (above mapStagedMin)
	w := weights(31, n)
	tensor := makeNPY(t, "<f4", []int64{n}, f32bytes(fineTune(32, w, 0.05)))
	malformed := append([]byte("\x93NUMPY\x01\x00{'descr': '<f4'"), randomBytes(33, 2<<20)...)
	tests := []struct {
		name, path string
		data       []byte
		wantBase   string
		wantMapped bool // the encoder sees the staged file mapped
	}{
		{"tensor against its base", "f/w.npy", tensor, "b/w.npy", true},
		{"tensor alone", "f/alone.npy", makeNPY(t, "<f4", []int64{n}, f32bytes(weights(34, n))), "", true},
		{"blob", "f/blob.bin", randomBytes(35, 3<<20), "", true},
		{"malformed .npy", "f/bad.npy", malformed, "", true},
		{"small file (read, not mapped)", "f/small.npy", makeNPY(t, "<f4", []int64{1000}, f32bytes(w[:1000])), "", false},
	}
	var staged string // the file being ingested
	mappedDuringEncode := false
	orig := deltaEncodeTo
	t.Cleanup(func() { deltaEncodeTo = orig })
	deltaEncodeTo = func(ctx context.Context, tensor delta.StreamTensor, ref *delta.StreamTensor, cfg delta.Config, w io.WriterAt) (delta.Header, int64, error) {
		if maps, err := os.ReadFile("/proc/self/maps"); err == nil && strings.Contains(string(maps), staged) {
			mappedDuringEncode = true
		}
		return orig(ctx, tensor, ref, cfg, w)
	}
	s := newStoreWithBase(t, Options{})
	ctx := context.Background()
	ingestBytes(t, s, "b/w.npy", makeNPY(t, "<f4", []int64{n}, f32bytes(w)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.CreateTemp(s.StagingDir(), "stable-*")
			if err != nil {
				t.Fatal(err)
			}
			defer os.Remove(f.Name())
			defer f.Close()
			if _, err := f.Write(tt.data); err != nil {
				t.Fatal(err)
			}
			staged, mappedDuringEncode = f.Name(), false
			fi, err := s.Ingest(ctx, tt.path, f, IngestOptions{Stable: true})
			if err != nil {
				t.Fatal(err)
			}
			if fi.Base != tt.wantBase {
				t.Errorf("Base = %q, want %q", fi.Base, tt.wantBase)
			}
			if mappedDuringEncode != tt.wantMapped {
				t.Errorf("staged file mapped while encoding: %v, want %v", mappedDuringEncode, tt.wantMapped)
			}
			if got := readFile(t, s, tt.path); !bytes.Equal(got, tt.data) {
				t.Error("reads back differently")
			}
			maps, err := os.ReadFile("/proc/self/maps")
			if err == nil && strings.Contains(string(maps), f.Name()) {
				t.Errorf("the staged file is still mapped after Ingest returned")
			}
		})
	}
}
