package planes

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// BenchmarkLayout measures the plane split/merge of one bf16 chunk with 8
// context classes against the context-free transposition (the baseline).
// PLANES_LAYOUT_WORDS overrides the word count (cache-size experiments: the
// merge runs at the same speed from 16 Ki to 512 Ki words, so it is bound by
// instructions, not memory).
func BenchmarkLayout(b *testing.B) {
	c := loadBenchCases()[1] // bf16-xor-ctx8
	n := benchChunk / 2
	if v := os.Getenv("PLANES_LAYOUT_WORDS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	ctx := c.ctx[:n]
	src := c.words[:2*n]
	pl := make([]byte, 2*n)
	dst := make([]byte, 2*n)
	var l classLayout
	for _, tc := range []struct {
		name string
		ctx  []uint8
		nctx int
	}{{"ctx8", ctx, 8}, {"noctx", nil, 1}} {
		b.Run(tc.name+"/split", func(b *testing.B) {
			b.SetBytes(int64(2 * n))
			m := startCPU(b)
			for range b.N {
				l.count(tc.ctx, tc.nctx, n)
				l.split(pl, src, n, 2, tc.ctx, tc.nctx)
			}
			m.stop(b, 2*n)
		})
		b.Run(tc.name+"/merge", func(b *testing.B) {
			l.count(tc.ctx, tc.nctx, n)
			l.split(pl, src, n, 2, tc.ctx, tc.nctx)
			b.SetBytes(int64(2 * n))
			m := startCPU(b)
			for range b.N {
				l.count(tc.ctx, tc.nctx, n)
				l.merge(dst, pl, n, 2, tc.ctx, tc.nctx)
			}
			m.stop(b, 2*n)
			if string(dst) != string(src) {
				b.Fatal("merge(split(x)) != x")
			}
		})
	}
}

// BenchmarkTranspose measures the context-free split and merge of one
// chunk of 16- and 32-bit words, with the assembly kernels where the CPU
// has them and with the pure-Go loops.
func BenchmarkTranspose(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]byte, benchChunk)
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	pl := make([]byte, len(src))
	dst := make([]byte, len(src))
	for _, width := range []int{2, 4} {
		n := len(src) / width
		for _, fast := range transposeModes() {
			name := fmt.Sprintf("w%d/go", width)
			if fast {
				name = fmt.Sprintf("w%d/asm", width)
			}
			run := func(b *testing.B, f func()) {
				defer func(v bool) { useAVX2 = v }(useAVX2)
				useAVX2 = fast
				b.SetBytes(int64(len(src)))
				m := startCPU(b)
				for range b.N {
					f()
				}
				m.stop(b, len(src))
			}
			b.Run(name+"/split", func(b *testing.B) {
				run(b, func() { transposeSplit(pl, src, n, width) })
			})
			b.Run(name+"/merge", func(b *testing.B) {
				refSplit(pl, src, n, width)
				run(b, func() { transposeMerge(dst, pl, n, width) })
				if !bytes.Equal(dst, src) {
					b.Fatal("merge(split(x)) != x")
				}
			})
		}
	}
}
