package fusefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"deltafs/internal/synth"
	"deltafs/internal/testenv"
	"deltafs/safetensors"
	"deltafs/store"
)

// stBenchTensors is the number of equal bf16 tensors of the benchmark's
// model.safetensors; the middle one starts half way through the file.
const stBenchTensors = 8

// benchSafetensors writes a base and a fine-tune as Hugging Face style
// folders (SRC/base, SRC/ft: model.safetensors of stBenchTensors bf16
// tensors, size bytes of data in all) and imports them into a new store,
// the fine-tune against the base. It returns the store directory, the
// fine-tune's raw model.safetensors, and the offset of the first byte of
// its middle tensor.
func benchSafetensors(b *testing.B, size int64) (storeDir, raw string, middle int64) {
	b.Helper()
	src := b.TempDir()
	// synth holds bf16 values in float32: twice the bytes of the file's.
	per := 2 * size / stBenchTensors
	var files [2]*os.File
	var header *safetensors.Header
	for i := range stBenchTensors {
		base, tuned, err := synth.PairOfSize(per, synth.BFloat16, uint64(1+i), synth.DefaultFineTune(uint64(100+i)))
		if err != nil {
			b.Fatal(err)
		}
		for m, t := range []synth.Tensor{base, tuned} {
			t.Name = fmt.Sprintf("layers/%d/weight", i)
			st, err := t.Safetensors()
			if err != nil {
				b.Fatal(err)
			}
			if header == nil {
				specs := make([]safetensors.Spec, stBenchTensors)
				for j := range specs {
					specs[j] = safetensors.Spec{Name: fmt.Sprintf("layers.%d.weight", j), DType: st.DType, Shape: st.Shape}
				}
				if header, err = safetensors.Layout(map[string]string{"format": "pt"}, specs); err != nil {
					b.Fatal(err)
				}
				for k, dir := range []string{"base", "ft"} {
					os.Mkdir(filepath.Join(src, dir), 0o755)
					if files[k], err = os.Create(filepath.Join(src, dir, "model.safetensors")); err != nil {
						b.Fatal(err)
					}
					if _, err := files[k].Write(header.Raw); err != nil {
						b.Fatal(err)
					}
				}
			}
			if _, err := files[m].Write(st.Data); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	s, storeDir := newStore(b, store.Options{})
	ctx := context.Background()
	if _, err := s.Import(ctx, filepath.Join(src, "base"), "base", store.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	res, err := s.Import(ctx, filepath.Join(src, "ft"), "ft", store.ImportOptions{Base: "base"})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("ft: %d bytes logical, %d stored (%.2fx)", res.LogicalBytes, res.StoredBytes, float64(res.LogicalBytes)/float64(res.StoredBytes))
	s.Close()
	mid := header.Tensors[stBenchTensors/2]
	return storeDir, filepath.Join(src, "ft", "model.safetensors"), header.DataStart() + mid.Begin
}

// BenchmarkSafetensorsTimeToFirstByte opens the fine-tune's
// model.safetensors (DELTAFS_BENCH_ST_MB of bf16 data, default 1024) on a
// fresh store and mount with an empty page cache, and reads the first
// 4 KiB of the tensor in the middle of the file (open, seek, read), beside
// the same read of the raw file with an empty page cache.
func BenchmarkSafetensorsTimeToFirstByte(b *testing.B) {
	testenv.RequireFUSE(b)
	size := envMB("DELTAFS_BENCH_ST_MB", 1024) << 20
	storeDir, raw, middle := benchSafetensors(b, size)
	want := make([]byte, 4096)
	var openTotal time.Duration // of the mount's file
	first := func(path string) time.Duration {
		start := time.Now()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if path != raw {
			openTotal += time.Since(start)
		}
		if _, err := f.Seek(middle, 0); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 4096)
		if _, err := f.Read(buf); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		f.Close()
		if path == raw {
			copy(want, buf)
		} else if string(buf) != string(want) {
			b.Fatal("the mount served other bytes than the raw file's")
		}
		return d
	}
	var deltaTotal, rawTotal time.Duration
	b.SetBytes(4096)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dropCaches(b)
		rawTotal += first(raw)
		mnt, unmount := coldMount(b, storeDir)
		b.StartTimer()
		deltaTotal += first(filepath.Join(mnt, "ft", "model.safetensors"))
		b.StopTimer()
		unmount()
		b.StartTimer()
	}
	b.ReportMetric(float64(deltaTotal.Microseconds())/1e3/float64(b.N), "deltafs-ms")
	b.ReportMetric(float64(openTotal.Microseconds())/1e3/float64(b.N), "deltafs-open-ms")
	b.ReportMetric(float64(rawTotal.Microseconds())/1e3/float64(b.N), "raw-ms")
	b.ReportMetric(deltaTotal.Seconds()/rawTotal.Seconds(), "vs-raw")
}
