package fusefs

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"deltafs/internal/testenv"
	"deltafs/store"
)

// processCPU is the CPU time (user and system) of the whole test process:
// the reader, and the daemons serving the store's and the loopback's mounts,
// which run in it.
func processCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// coldReadTimes are the wall-clock and process CPU times of one way of
// reading the file, summed over the iterations.
type coldReadTimes struct{ wall, cpu time.Duration }

// measure runs read (which returns its wall-clock time) and adds its wall
// and process CPU times to t.
func (t *coldReadTimes) measure(b *testing.B, read func() time.Duration) {
	cpu := processCPU(b)
	t.wall += read()
	t.cpu += processCPU(b) - cpu
}

// readStoreReaders reads path whole through the store's API (no FUSE) on
// a freshly opened store, with 1 MiB reads by readers goroutines taking
// turns (reader r reads the MiB r, r+readers, ...), and returns the time.
// One reader reads sequentially; two keep two reads in flight, as a
// read-ahead would.
func readStoreReaders(b *testing.B, storeDir, path string, readers int) time.Duration {
	b.Helper()
	s, err := store.Open(storeDir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	f, err := s.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const size = 1 << 20
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			buf := make([]byte, size)
			for off := int64(r) * size; off < f.Size(); off += int64(readers) * size {
				if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkSafetensorsColdRead reads the whole model.safetensors of a
// fine-tune (BenchmarkSafetensorsTimeToFirstByte's: 8 bf16 tensors,
// DELTAFS_BENCH_ST_MB of data, default 1024) through a fresh store and
// mount (the default read-ahead) with an empty page cache, beside, in the
// same iteration and each with an empty page cache: the same file through
// store.File without FUSE (the store's decode alone), and the raw file
// through a go-fuse loopback mount whose daemon serves the reads, with
// and without FUSE passthrough (the kernel reading the backing file
// itself), both with the mount's read-ahead; and store.File read by two
// readers taking turns (readStoreReaders). MiB per CPU second count the
// whole process's CPU (reader and daemon), less disturbed by other jobs.
func BenchmarkSafetensorsColdRead(b *testing.B) {
	testenv.RequireFUSE(b)
	size := envMB("DELTAFS_BENCH_ST_MB", 1024) << 20
	storeDir, raw, _ := benchSafetensors(b, size)
	rawDir := filepath.Dir(raw)
	const file = "model.safetensors"
	b.Run(file, func(b *testing.B) {
		loop := mountLoopback(b, rawDir, DefaultReadAheadKB, false)
		loopPT := mountLoopback(b, rawDir, DefaultReadAheadKB, true)
		// The bytes served must be the raw file's (read warm, untimed).
		mnt, unmount := coldMount(b, storeDir)
		sameFiles(b, rawDir, filepath.Join(mnt, "ft"))
		unmount()
		var delta, direct, direct2, lo, loPT coldReadTimes
		var n int64
		read := func(path string) func() time.Duration {
			return func() time.Duration {
				k, d := readAll(b, path)
				n = k
				return d
			}
		}
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			mnt, unmount := coldMount(b, storeDir) // drops the page cache
			b.StartTimer()
			delta.measure(b, read(filepath.Join(mnt, "ft", file)))
			b.StopTimer()
			unmount()
			dropCaches(b)
			direct.measure(b, func() time.Duration { return readStoreDirect(b, storeDir, "ft/"+file) })
			dropCaches(b)
			direct2.measure(b, func() time.Duration { return readStoreReaders(b, storeDir, "ft/"+file, 2) })
			dropCaches(b)
			lo.measure(b, read(filepath.Join(loop, file)))
			dropCaches(b)
			loPT.measure(b, read(filepath.Join(loopPT, file)))
			b.StartTimer()
		}
		b.SetBytes(n)
		all := n * int64(b.N)
		for _, r := range []struct {
			name string
			t    coldReadTimes
		}{{"deltafs", delta}, {"store-direct", direct}, {"store-2-readers", direct2}, {"loopback", lo}, {"loopback-passthrough", loPT}} {
			b.ReportMetric(mbps(all, r.t.wall), r.name+"-MiB/s")
			b.ReportMetric(mbps(all, r.t.cpu), r.name+"-cpuMiB/s")
		}
		b.ReportMetric(direct.wall.Seconds()/delta.wall.Seconds(), "speed-vs-store-direct")
		b.ReportMetric(lo.wall.Seconds()/delta.wall.Seconds(), "speed-vs-loopback")
		b.ReportMetric(loPT.wall.Seconds()/delta.wall.Seconds(), "speed-vs-passthrough")
	})
}
