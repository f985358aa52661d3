package diskcache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkWarmRead reads a 64 MiB object as chunk-sized ranges (200 KiB
// to 1.2 MiB, in order) from a warm cache, per block size, beside reading
// the same ranges from a plain file holding the object (what a local
// store's object file costs) in the same run: local-time/time is the
// cache's speed relative to the local file.
func BenchmarkWarmRead(b *testing.B) {
	const size = 64 << 20
	o := newOrigin(80, size)
	local := filepath.Join(b.TempDir(), "object")
	if err := os.WriteFile(local, o.data, 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(local)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rnd := rand.New(rand.NewPCG(81, 0))
	var ranges [][2]int64
	for off := int64(0); off < size; {
		n := min(int64(200<<10+rnd.IntN(1<<20)), size-off)
		ranges = append(ranges, [2]int64{off, n})
		off += n
	}
	buf := make([]byte, 2<<20)
	for _, bs := range []int{256 << 10, 1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("block=%dKiB", bs>>10), func(b *testing.B) {
			c := openCache(b, b.TempDir(), Options{BlockSize: bs})
			ctx := context.Background()
			read := func() {
				for _, rg := range ranges {
					if _, err := c.ReadAt(ctx, o.id, size, buf[:rg[1]], rg[0], o.fetch); err != nil {
						b.Fatal(err)
					}
				}
			}
			read() // warm
			b.SetBytes(size)
			var localSec float64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				start := time.Now()
				for _, rg := range ranges {
					if _, err := f.ReadAt(buf[:rg[1]], rg[0]); err != nil {
						b.Fatal(err)
					}
				}
				localSec += time.Since(start).Seconds()
				b.StartTimer()
				read()
			}
			b.ReportMetric(localSec/b.Elapsed().Seconds(), "local-time/time")
			b.ReportMetric(float64(size)*float64(b.N)/localSec/1e6, "local-MB/s")
		})
	}
}
