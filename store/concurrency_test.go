package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"deltafs/delta"
	"deltafs/safetensors"
)

func TestConcurrentReadersDecodeOnce(t *testing.T) {
	s := newStore(t, Options{})
	mustMkdir(t, s, "m")
	file := makeNPY(t, "<f4", []int64{200000}, f32bytes(weights(31, 200000))) // one 1 MiB chunk
	ingestBytes(t, s, "m/w.npy", file)
	s.chunks.Purge()
	before := s.RuntimeStats().ChunksDecoded
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := s.Open(context.Background(), "m/w.npy")
			if err != nil {
				t.Error(err)
				return
			}
			<-start
			off := int64(128 + g*1000)
			buf := make([]byte, 4096)
			if _, err := f.ReadAt(buf, off); err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(buf, file[off:off+4096]) {
				t.Error("wrong bytes")
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := s.RuntimeStats().ChunksDecoded - before; got != 1 {
		t.Errorf("8 concurrent readers of one chunk decoded it %d times, want 1", got)
	}
}

// TestConcurrentReadersTinyCache runs 8 readers over many chunks of deltas
// and their bases with a cache far smaller than the data, so chunks are
// evicted and decoded again all the time, beside a writer.
func TestConcurrentReadersTinyCache(t *testing.T) {
	cfg := delta.DefaultConfig()
	cfg.ChunkSize = 8 << 10
	s := newStoreWithBase(t, Options{Delta: cfg, CacheSize: 24 << 10})
	ctx := context.Background()
	const files, n = 6, 8000 // 32 KB each, 4 chunks
	want := make(map[string][]byte)
	for i := range files {
		w := weights(uint64(40+i), n)
		bp, fp := fmt.Sprintf("b/t%d.npy", i), fmt.Sprintf("f/t%d.npy", i)
		want[bp] = makeNPY(t, "<f4", []int64{n}, f32bytes(w))
		want[fp] = makeNPY(t, "<f4", []int64{n}, f32bytes(fineTune(uint64(50+i), w, 0.1)))
		ingestBytes(t, s, bp, want[bp])
		ingestBytes(t, s, fp, want[fp])
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 20 {
				p := paths[r.IntN(len(paths))]
				f, err := s.Open(ctx, p)
				if err != nil {
					t.Error(err)
					return
				}
				off := r.Int64N(f.Size())
				ln := min(r.Int64N(20000), f.Size()-off)
				buf := make([]byte, ln)
				if _, err := f.ReadAt(buf, off); err != nil {
					t.Errorf("%s at %d+%d: %v", p, off, ln, err)
					return
				}
				if !bytes.Equal(buf, want[p][off:off+ln]) {
					t.Errorf("%s at %d+%d: wrong bytes", p, off, ln)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // a writer beside the readers
		defer wg.Done()
		for i := range 5 {
			data := makeNPY(t, "<f4", []int64{n}, f32bytes(weights(uint64(70+i), n)))
			if _, err := tryIngest(s, fmt.Sprintf("f/new%d.npy", i), data, IngestOptions{}); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	rs := s.RuntimeStats()
	if s.bufs.reused.Load() == 0 {
		t.Error("no decoded-chunk buffer was reused: the test did not exercise recycling")
	}
	if rs.CacheEvictions == 0 {
		t.Error("the tiny cache never evicted")
	}
	if rs.CacheBytes > rs.CacheMaxBytes {
		t.Errorf("cache holds %d bytes, bound %d", rs.CacheBytes, rs.CacheMaxBytes)
	}
	if rs.PendingEncodes != 0 {
		t.Errorf("PendingEncodes = %d after the writer finished", rs.PendingEncodes)
	}
	t.Logf("hits %d misses %d evictions %d decoded %d chunks", rs.CacheHits, rs.CacheMisses, rs.CacheEvictions, rs.ChunksDecoded)
}

// stChunkTensors is a safetensors file of n float32 tensors of elems
// values each.
func stChunkTensors(t *testing.T, n, elems int) []byte {
	var tensors []safetensors.Tensor
	for i := range n {
		tensors = append(tensors, safetensors.Tensor{Spec: safetensors.Spec{Name: fmt.Sprintf("t%d", i), DType: safetensors.F32,
			Shape: []int64{int64(elems)}}, Data: f32bytes(weights(uint64(70+i), elems))})
	}
	var buf bytes.Buffer
	if _, err := safetensors.Write(&buf, nil, tensors); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSequentialReadAhead: a sequential read decodes the chunks past it in
// the background, across the tensors of a file stored in parts too, and a
// whole sequential pass returns the file and decodes each chunk once.
func TestSequentialReadAhead(t *testing.T) {
	const chunk = 16 << 10
	tests := []struct {
		name, path string
		file       []byte
		chunks     int64
	}{
		{"npy", "m/w.npy", makeNPY(t, "<f4", []int64{40000}, f32bytes(weights(61, 40000))), 10},
		// One chunk a tensor: reading ahead past the first read crosses
		// into the next tensor.
		{"safetensors one chunk a tensor", "m/one.safetensors", stChunkTensors(t, 10, chunk/4), 10},
		{"safetensors", "m/model.safetensors", stChunkTensors(t, 4, 10000), 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := delta.DefaultConfig()
			cfg.ChunkSize = chunk
			s := newStore(t, Options{Delta: cfg})
			mustMkdir(t, s, "m")
			ingestBytes(t, s, tt.path, tt.file)
			s.chunks.Purge()
			ctx := context.Background()
			f, err := s.Open(ctx, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			before := s.RuntimeStats().ChunksDecoded
			buf := make([]byte, 4096)
			if _, err := f.ReadAt(buf, 0); err != nil { // the first chunk at most
				t.Fatal(err)
			}
			// The next chunk is read ahead (waitUntil fails after 10 s).
			waitUntil(t, func() bool { return s.RuntimeStats().ChunksDecoded-before >= 2 })
			var out []byte
			for off := int64(0); off < f.Size(); off += int64(len(buf)) {
				n, err := f.ReadAt(buf, off)
				if err != nil && err != io.EOF {
					t.Fatal(err)
				}
				out = append(out, buf[:n]...)
			}
			if !bytes.Equal(out, tt.file) {
				t.Fatal("sequential pass read wrong bytes")
			}
			s.Close() // waits for read-aheads
			if got := s.RuntimeStats().ChunksDecoded - before; got != tt.chunks {
				t.Errorf("sequential pass decoded %d chunks, want %d", got, tt.chunks)
			}
		})
	}
}
