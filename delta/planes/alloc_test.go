package planes

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestDecodeAllocationBound decodes thousands of mutated blocks and checks
// the bytes allocated per call stay within the destination size plus a fixed
// bound (scratch buffers, entropy tables, zstd's capped window), whatever
// the block claims.
func TestDecodeAllocationBound(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	const n, width = 8192, 2
	var blocks [][]byte
	for _, s := range methodSamples() {
		data := make([]byte, n*width)
		for i := range data {
			data[i] = s.data[i%len(s.data)]
		}
		b, err := Encode(nil, data, width, nil, 0, s.level)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	dst := make([]byte, n*width)
	var before, after runtime.MemStats
	const rounds = 3000
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < rounds; i++ {
		b := append([]byte(nil), blocks[i%len(blocks)]...)
		for k := 0; k < 1+r.IntN(4); k++ {
			b[r.IntN(len(b))] = byte(r.Uint32())
		}
		if r.IntN(4) == 0 { // lie about a length
			b = append(b[:4], 0xff, 0xff, 0xff, 0x7f)
		}
		_ = Decode(dst, b, width, nil, 0)
	}
	runtime.ReadMemStats(&after)
	perCall := float64(after.TotalAlloc-before.TotalAlloc) / rounds
	bound := float64(2*len(dst) + 1<<20)
	t.Logf("%.0f bytes allocated per decode of a %d-byte destination (block copy included)", perCall, len(dst))
	if perCall > bound {
		t.Errorf("%.0f bytes per decode exceeds %.0f", perCall, bound)
	}
}
