package cache

import (
	"context"
	"sync"
	"testing"
)

// chunkSize is the size of one reconstructed chunk in the store.
const chunkSize = 1 << 20

// BenchmarkGet measures Get on hits and on misses, beside a baseline: a plain
// mutex-guarded map lookup, the least any cache could cost.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	value := make([]byte, chunkSize)
	load := func(context.Context) ([]byte, error) { return value, nil }

	b.Run("baseline-mutex-map", func(b *testing.B) {
		var mu sync.Mutex
		m := map[int][]byte{0: value}
		b.SetBytes(chunkSize)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				_ = m[0]
				mu.Unlock()
			}
		})
	})
	b.Run("hit", func(b *testing.B) {
		c := New[int](64 * chunkSize)
		c.Get(ctx, 0, load)
		b.SetBytes(chunkSize)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Get(ctx, 0, load); err != nil {
					b.Fatal(err)
				}
			}
		})
		s := c.Stats()
		b.ReportMetric(float64(s.Hits)/float64(s.Hits+s.Misses+s.Shared), "hit-ratio")
	})
	b.Run("miss", func(b *testing.B) {
		c := New[int](4 * chunkSize) // keys never repeat: every Get loads and evicts
		b.SetBytes(chunkSize)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := c.Get(ctx, i, load); err != nil {
				b.Fatal(err)
			}
		}
		s := c.Stats()
		b.ReportMetric(float64(s.Evictions)/float64(max(s.Misses, 1)), "evictions/miss")
	})
}
