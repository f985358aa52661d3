package fusefs

import (
	"path/filepath"
	"testing"
	"time"

	"deltafs/internal/testenv"
)

// BenchmarkSafetensorsColdRead reads the whole model.safetensors of a
// fine-tune (BenchmarkSafetensorsTimeToFirstByte's: 8 bf16 tensors,
// DELTAFS_BENCH_ST_MB of data, default 1024) through a fresh store and
// mount (the default read-ahead) with an empty page cache, beside, in the
// same iteration and each with an empty page cache: the same file through
// store.File without FUSE (the store's decode alone), and the raw file
// through a go-fuse loopback mount whose daemon serves the reads, with
// and without FUSE passthrough (the kernel reading the backing file
// itself), both with the mount's read-ahead.
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
		var deltaTotal, storeTotal, loopTotal, loopPTTotal time.Duration
		var n int64
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			mnt, unmount := coldMount(b, storeDir) // drops the page cache
			b.StartTimer()
			k, d := readAll(b, filepath.Join(mnt, "ft", file))
			b.StopTimer()
			unmount()
			dropCaches(b)
			storeTotal += readStoreDirect(b, storeDir, "ft/"+file)
			dropCaches(b)
			_, l := readAll(b, filepath.Join(loop, file))
			dropCaches(b)
			_, lpt := readAll(b, filepath.Join(loopPT, file))
			b.StartTimer()
			n, deltaTotal, loopTotal, loopPTTotal = k, deltaTotal+d, loopTotal+l, loopPTTotal+lpt
		}
		b.SetBytes(n)
		all := n * int64(b.N)
		b.ReportMetric(mbps(all, deltaTotal), "deltafs-MiB/s")
		b.ReportMetric(mbps(all, storeTotal), "store-direct-MiB/s")
		b.ReportMetric(mbps(all, loopTotal), "loopback-MiB/s")
		b.ReportMetric(mbps(all, loopPTTotal), "loopback-passthrough-MiB/s")
		b.ReportMetric(storeTotal.Seconds()/deltaTotal.Seconds(), "speed-vs-store-direct")
		b.ReportMetric(loopTotal.Seconds()/deltaTotal.Seconds(), "speed-vs-loopback")
		b.ReportMetric(loopPTTotal.Seconds()/deltaTotal.Seconds(), "speed-vs-passthrough")
	})
}
