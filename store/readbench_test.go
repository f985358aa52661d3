package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"deltafs/internal/synth"
)

// benchTensorMB is the size of the read benchmark's tensor:
// DELTAFS_BENCH_TENSOR_MB, default 256.
func benchTensorMB() int64 {
	if v, err := strconv.ParseInt(os.Getenv("DELTAFS_BENCH_TENSOR_MB"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 256
}

// BenchmarkSequentialRead reads a delta-encoded tensor (a fine-tune of a
// synthetic bfloat16 matrix against its base) front to back in 128 KiB
// reads, as the kernel's read-ahead does, with a cold chunk cache; beside
// it the same bytes read from a plain file in the page cache. It also
// reports the time to the first byte of a cold tensor.
func BenchmarkSequentialRead(b *testing.B) {
	ctx := context.Background()
	size := benchTensorMB() << 20
	base, tuned, err := synth.PairOfSize(size, synth.BFloat16, 7, synth.DefaultFineTune(8))
	if err != nil {
		b.Fatal(err)
	}
	baseFile, err := base.NPY()
	if err != nil {
		b.Fatal(err)
	}
	tunedFile, err := tuned.NPY()
	if err != nil {
		b.Fatal(err)
	}
	base, tuned = synth.Tensor{}, synth.Tensor{}
	s := newStore(b, Options{})
	mustMkdir(b, s, "b")
	mustMkdir(b, s, "f")
	if err := s.SetBase(ctx, "f", "b"); err != nil {
		b.Fatal(err)
	}
	ingestBytes(b, s, "b/w.npy", baseFile)
	fi := ingestBytes(b, s, "f/w.npy", tunedFile)
	raw := filepath.Join(b.TempDir(), "w.npy")
	if err := os.WriteFile(raw, tunedFile, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("tensor %d MiB, stored %d bytes (%s against %s)", size>>20, fi.StoredSize, fi.Strategy, fi.Base)
	baseFile, tunedFile = nil, nil
	const piece = 128 << 10
	buf := make([]byte, piece)

	b.Run("raw-file-baseline", func(b *testing.B) {
		f, err := os.Open(raw)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		b.SetBytes(st.Size())
		b.StopTimer()
		var cpu time.Duration
		for range b.N {
			cpu += timed(b, func() {
				for off := int64(0); off < st.Size(); off += piece {
					if _, err := f.ReadAt(buf, off); err != nil && off+piece < st.Size() {
						b.Fatal(err)
					}
				}
			})
		}
		reportCPU(b, cpu, st.Size())
	})
	b.Run("store-cold", func(b *testing.B) {
		b.SetBytes(fi.Size)
		b.StopTimer()
		var cpu time.Duration
		for range b.N {
			s.chunks.Purge()
			cpu += timed(b, func() {
				f, err := s.Open(ctx, "f/w.npy")
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < f.Size(); off += piece {
					if _, err := f.ReadAtContext(ctx, buf, off); err != nil && off+piece < f.Size() {
						b.Fatal(err)
					}
				}
			})
		}
		reportCPU(b, cpu, fi.Size)
	})
	b.Run("first-byte-cold", func(b *testing.B) {
		var total time.Duration
		for range b.N {
			b.StopTimer()
			s.chunks.Purge()
			s.handles.closeAll()
			b.StartTimer()
			start := time.Now()
			f, err := s.Open(ctx, "f/w.npy")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.ReadAtContext(ctx, buf[:4096], 0); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/first-byte")
	})
}
