package planes

import "testing"

// BenchmarkSorted times the entropy stage alone, as delta's auto kernels use
// it: EncodeSorted and DecodeSorted of class-sorted planes, chunk by chunk,
// at DefaultLevel (no split or merge of the words).
func BenchmarkSorted(b *testing.B) {
	for _, c := range loadBenchCases() {
		type chunk struct {
			pl     []byte
			counts []int
			block  []byte
		}
		var chunks []chunk
		for off := 0; off < len(c.words); off += benchChunk {
			end := min(off+benchChunk, len(c.words))
			pl, counts := sortedPlanes(c.words[off:end], c.width, c.chunkCtx(off, end-off), c.nctx)
			blk, err := EncodeSorted(nil, pl, c.width, counts, DefaultLevel)
			if err != nil {
				b.Fatal(err)
			}
			chunks = append(chunks, chunk{pl, counts, blk})
		}
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(c.words)))
			out := make([]byte, 0, benchChunk+benchChunk/8)
			m := startCPU(b)
			for range b.N {
				for _, ch := range chunks {
					var err error
					if out, err = EncodeSorted(out[:0], ch.pl, c.width, ch.counts, DefaultLevel); err != nil {
						b.Fatal(err)
					}
				}
			}
			m.stop(b, len(c.words))
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(c.words)))
			pl := make([]byte, benchChunk)
			m := startCPU(b)
			for range b.N {
				for _, ch := range chunks {
					if err := DecodeSorted(pl[:len(ch.pl)], ch.block, c.width, ch.counts); err != nil {
						b.Fatal(err)
					}
				}
			}
			m.stop(b, len(c.words))
		})
	}
}
