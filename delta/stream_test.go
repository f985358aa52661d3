package delta

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"deltafs/npy"
)

// copyingSource hides BytesSource's in-place chunks, so the encoder reads
// every chunk into a buffer of its own, as it does from a file.
type copyingSource struct{ r io.ReaderAt }

func (c copyingSource) ReadAt(p []byte, off int64) (int, error) { return c.r.ReadAt(p, off) }

// streamCase is one tensor EncodeTo must encode exactly as Encode does.
type streamCase struct {
	name     string
	strategy Strategy
	dc       dtypeCase
	shape    []int64
	withRef  bool
	chunk    int
	mutate   func(target []byte) // applied to the target after generation
}

func streamCases() []streamCase {
	var cases []streamCase
	for _, g := range goldenCases {
		cases = append(cases, streamCase{name: g.name, strategy: g.strategy, dc: g.dc, shape: []int64{6, 50}, withRef: g.withRef, chunk: 512})
	}
	bf16 := dtypeCases[1]
	return append(cases,
		streamCase{name: "auto_bf16_many_chunks", strategy: Auto, dc: bf16, shape: []int64{64, 1000}, withRef: true, chunk: 4096},
		// The bf16 guess holds for the first 64 KiB, a later chunk disproves
		// it: the tensor is encoded again as float32.
		streamCase{name: "auto_bf16_guess_wrong", strategy: Auto, dc: bf16, shape: []int64{64, 1000}, withRef: true, chunk: 4096,
			mutate: func(b []byte) { b[len(b)-3] = 0x5a }},
		streamCase{name: "auto_alone_f4_odd_chunk", strategy: Auto, dc: dtypeCases[2], shape: []int64{7, 333}, chunk: 1000},
		streamCase{name: "empty", strategy: Auto, dc: dtypeCases[2], shape: []int64{0, 5}, withRef: true, chunk: 512},
		streamCase{name: "per_axis_1d", strategy: PerAxisScaled, dc: dtypeCases[2], shape: []int64{5000}, withRef: true, chunk: 1024},
	)
}

// TestEncodeToMatchesEncode: EncodeTo, reading its sources through copies
// and writing a file, produces byte for byte the object Encode returns, for
// every strategy, with any number of goroutines.
func TestEncodeToMatchesEncode(t *testing.T) {
	for _, sc := range streamCases() {
		t.Run(sc.name, func(t *testing.T) {
			td, rd := genPair(sc.dc, elems(sc.shape), uint64(len(sc.name)))
			if sc.strategy == PerAxisScaled {
				sanitizeF32(td)
				sanitizeF32(rd)
			}
			if sc.mutate != nil && len(td) > 0 {
				sc.mutate(td)
			}
			cfg := DefaultConfig()
			cfg.Strategy, cfg.AllowLossy, cfg.ChunkSize, cfg.QuantBlock = sc.strategy, true, sc.chunk, 64
			tt := Tensor{DType: sc.dc.dt, Shape: sc.shape, Data: td}
			var ref *Tensor
			var sref *StreamTensor
			if sc.withRef {
				ref = &Tensor{DType: sc.dc.dt, Shape: sc.shape, Data: rd}
				sref = &StreamTensor{DType: sc.dc.dt, Shape: sc.shape, Data: copyingSource{BytesSource(rd)}}
			}
			want := encodeT(t, tt, ref, cfg)
			for _, workers := range []int{1, 2, 5} {
				cfg.Concurrency = workers
				f, err := os.Create(filepath.Join(t.TempDir(), "obj"))
				if err != nil {
					t.Fatal(err)
				}
				st := StreamTensor{DType: sc.dc.dt, Shape: sc.shape, Data: copyingSource{BytesSource(td)}}
				h, size, err := EncodeTo(context.Background(), st, sref, cfg, f)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Truncate(size); err != nil {
					t.Fatal(err)
				}
				f.Close()
				got, err := os.ReadFile(f.Name())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%d workers: EncodeTo wrote %d bytes that differ from Encode's %d", workers, len(got), len(want))
				}
				if o := openT(t, got); o.Header().ContentHash != h.ContentHash {
					t.Fatalf("%d workers: returned header differs from the object's", workers)
				}
			}
		})
	}
}

// failingSource fails every read from off on.
type failingSource struct {
	r   io.ReaderAt
	off int64
}

var errSourceFails = errors.New("source fails")

func (f failingSource) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errSourceFails
	}
	return f.r.ReadAt(p, off)
}

// TestEncodeToErrors: a source that fails or ends early, a cancelled
// context and a reference of another shape are errors, never an object.
func TestEncodeToErrors(t *testing.T) {
	dt := npy.DType{Kind: 'f', Size: 4, Order: '<'}
	td, rd := genPair(dtypeCases[2], 100000, 9)
	cfg := DefaultConfig()
	cfg.ChunkSize = 8192
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		t    StreamTensor
		ref  *StreamTensor
		want error
	}{
		{"source fails mid-way", context.Background(), StreamTensor{DType: dt, Shape: []int64{100000}, Data: failingSource{BytesSource(td), 200000}}, nil, errSourceFails},
		{"reference fails", context.Background(), StreamTensor{DType: dt, Shape: []int64{100000}, Data: BytesSource(td)},
			&StreamTensor{DType: dt, Shape: []int64{100000}, Data: failingSource{BytesSource(rd), 300000}}, errSourceFails},
		{"source too short", context.Background(), StreamTensor{DType: dt, Shape: []int64{100000}, Data: copyingSource{BytesSource(td[:1000])}}, nil, io.ErrUnexpectedEOF},
		{"no source", context.Background(), StreamTensor{DType: dt, Shape: []int64{100000}}, nil, ErrInvalidTensor},
		{"reference of another shape", context.Background(), StreamTensor{DType: dt, Shape: []int64{100000}, Data: BytesSource(td)},
			&StreamTensor{DType: dt, Shape: []int64{50000, 2}, Data: BytesSource(rd)}, ErrIncompatibleReference},
		{"cancelled", cancelled, StreamTensor{DType: dt, Shape: []int64{100000}, Data: BytesSource(td)}, nil, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w memWriter
			_, _, err := EncodeTo(tt.ctx, tt.t, tt.ref, cfg, &w)
			if !errors.Is(err, tt.want) {
				t.Fatalf("EncodeTo: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestOrdered: results reach consume in index order, never more than the
// window ahead; the first error stops the rest, and every produced result
// is either consumed or discarded.
func TestOrdered(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name            string
		n, workers, win int
		failAt          int // produce fails at this index (-1: never)
		consumeFailAt   int // consume fails at this index (-1: never)
		want            error
	}{
		{"empty", 0, 2, 4, -1, -1, nil},
		{"one worker", 50, 1, 1, -1, -1, nil},
		{"many workers", 200, 7, 3, -1, -1, nil},
		{"produce fails", 200, 4, 8, 57, -1, errBoom},
		{"consume fails", 200, 4, 8, -1, 13, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu        sync.Mutex
				produced  int
				consumed  int
				discarded int
				maxAhead  int
			)
			err := ordered(tt.n, tt.workers, tt.win,
				func(i int) (int, error) {
					mu.Lock()
					defer mu.Unlock()
					maxAhead = max(maxAhead, i-consumed)
					if i == tt.failAt {
						return 0, errBoom
					}
					produced++
					return i, nil
				},
				func(i, v int) error {
					mu.Lock()
					defer mu.Unlock()
					if v != i || i != consumed {
						t.Errorf("consumed %d at %d after %d", v, i, consumed)
					}
					if i == tt.consumeFailAt {
						discarded++ // not kept: counts as handed back
						return errBoom
					}
					consumed++
					return nil
				},
				func(int) { mu.Lock(); discarded++; mu.Unlock() })
			if !errors.Is(err, tt.want) {
				t.Fatalf("ordered: %v, want %v", err, tt.want)
			}
			if tt.want == nil && consumed != tt.n {
				t.Errorf("consumed %d of %d", consumed, tt.n)
			}
			if consumed+discarded != produced {
				t.Errorf("produced %d, consumed %d, discarded %d", produced, consumed, discarded)
			}
			if maxAhead >= tt.win+tt.workers {
				t.Errorf("a result was produced %d ahead of consume (window %d)", maxAhead, tt.win)
			}
		})
	}
}
