package planes

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Benchmarks code realistic planes chunk by chunk (as delta's auto strategy
// does, 1 MiB of raw tensor bytes per chunk) and report the ratio raw/coded
// beside a baseline: klauspost zstd SpeedDefault (≈ zstd -3) of the same
// bytes, unsplit, with literals entropy-coded as the zstd tool does (klauspost
// skips that at its fast levels by default, which leaves float data at 1.0×).

const benchChunk = 1 << 20

// cpuMeter reports, beside the wall-clock MB/s of the testing package, MB/s
// per second of the benchmark thread's CPU time ("cpuMB/s"): per-core speed
// that stays meaningful when other processes share the cores.
type cpuMeter struct {
	start time.Duration
}

func startCPU(b *testing.B) *cpuMeter {
	runtime.LockOSThread()
	b.ResetTimer()
	return &cpuMeter{start: threadCPU()}
}

func (m *cpuMeter) stop(b *testing.B, bytesPerOp int) {
	used := threadCPU() - m.start
	runtime.UnlockOSThread()
	if used > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/used.Seconds()/1e6, "cpuMB/s")
	}
}

type benchCase struct {
	name  string
	words []byte
	width int
	ctx   []uint8
	nctx  int
}

var (
	benchOnce        sync.Once
	benchCases       []benchCase
	benchDescription string
)

func loadBenchCases() []benchCase {
	benchOnce.Do(func() {
		const rows, cols = 2048, 2048 // 4 Mi elements: 8 MiB bf16, 16 MiB f32
		bb, tb, desc := benchPair(rows, cols, true)
		fb, tf, _ := benchPair(rows, cols, false)
		benchDescription = fmt.Sprintf("synth.Pair %dx%d, std 0.02 base; %s", rows, cols, desc)
		// Exponent classes of the reference: bf16 exponent at bit 7, f32 at
		// bit 23; N(0, 0.02) values centre near exponent 127-7.
		bctx := expCtx(bb, 2, 7, 8, 120)
		fctx := expCtx(fb, 4, 23, 8, 120)
		benchCases = []benchCase{
			{"bf16-xor", xorWords(tb, bb), 2, nil, 0},
			{"bf16-xor-ctx8", xorWords(tb, bb), 2, bctx, 8},
			{"bf16-sub", orderedDiff(tb, bb, 2), 2, nil, 0},
			{"bf16-sub-ctx8", orderedDiff(tb, bb, 2), 2, bctx, 8},
			{"bf16-zigzag-ctx8", zigzagDiff(tb, bb, 2), 2, bctx, 8},
			{"bf16-base", bb, 2, nil, 0},
			{"f32-xor", xorWords(tf, fb), 4, nil, 0},
			{"f32-xor-ctx8", xorWords(tf, fb), 4, fctx, 8},
			{"f32-sub-ctx8", orderedDiff(tf, fb, 4), 4, fctx, 8},
			{"f32-zigzag-ctx8", zigzagDiff(tf, fb, 4), 4, fctx, 8},
			{"f32-base", fb, 4, nil, 0},
		}
	})
	return benchCases
}

// chunkCtx returns the classes of the words in src[off:off+len].
func (c benchCase) chunkCtx(off, size int) []uint8 {
	if c.ctx == nil {
		return nil
	}
	return c.ctx[off/c.width : (off+size)/c.width]
}

func encodeChunks(tb testing.TB, c benchCase, level int) [][]byte {
	var blocks [][]byte
	for off := 0; off < len(c.words); off += benchChunk {
		end := min(off+benchChunk, len(c.words))
		blk, err := Encode(nil, c.words[off:end], c.width, c.chunkCtx(off, end-off), c.nctx, level)
		if err != nil {
			tb.Fatal(err)
		}
		blocks = append(blocks, blk)
	}
	return blocks
}

func totalLen(blocks [][]byte) int {
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	return n
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range loadBenchCases() {
		for _, level := range []int{1, 6, 7, 8, 9} {
			b.Run(fmt.Sprintf("%s/level%d", c.name, level), func(b *testing.B) {
				b.SetBytes(int64(len(c.words)))
				var coded int
				m := startCPU(b)
				for i := 0; i < b.N; i++ {
					coded = 0
					for off := 0; off < len(c.words); off += benchChunk {
						end := min(off+benchChunk, len(c.words))
						blk, err := Encode(nil, c.words[off:end], c.width, c.chunkCtx(off, end-off), c.nctx, level)
						if err != nil {
							b.Fatal(err)
						}
						coded += len(blk)
					}
				}
				m.stop(b, len(c.words))
				b.ReportMetric(float64(len(c.words))/float64(coded), "ratio")
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range loadBenchCases() {
		b.Run(c.name, func(b *testing.B) {
			blocks := encodeChunks(b, c, DefaultLevel)
			dst := make([]byte, len(c.words))
			b.SetBytes(int64(len(c.words)))
			m := startCPU(b)
			for range b.N {
				for i, blk := range blocks {
					off := i * benchChunk
					end := min(off+benchChunk, len(c.words))
					if err := Decode(dst[off:end], blk, c.width, c.chunkCtx(off, end-off), c.nctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			m.stop(b, len(c.words))
			b.ReportMetric(float64(len(c.words))/float64(totalLen(blocks)), "ratio")
		})
	}
}

// BenchmarkBaselineZstd3 is the reference point: zstd SpeedDefault of the
// same bytes, unsplit, chunk by chunk.
func BenchmarkBaselineZstd3(b *testing.B) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
		zstd.WithAllLitEntropyCompression(true))
	if err != nil {
		b.Fatal(err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	for _, c := range loadBenchCases() {
		if c.ctx != nil {
			continue
		}
		var frames [][]byte
		for off := 0; off < len(c.words); off += benchChunk {
			end := min(off+benchChunk, len(c.words))
			frames = append(frames, enc.EncodeAll(c.words[off:end], nil))
		}
		ratio := float64(len(c.words)) / float64(totalLen(frames))
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(c.words)))
			var buf []byte
			m := startCPU(b)
			for range b.N {
				for off := 0; off < len(c.words); off += benchChunk {
					end := min(off+benchChunk, len(c.words))
					buf = enc.EncodeAll(c.words[off:end], buf[:0])
				}
			}
			m.stop(b, len(c.words))
			b.ReportMetric(ratio, "ratio")
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(c.words)))
			buf := make([]byte, 0, benchChunk)
			m := startCPU(b)
			for range b.N {
				for _, f := range frames {
					if buf, err = dec.DecodeAll(f, buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
			}
			m.stop(b, len(c.words))
			b.ReportMetric(ratio, "ratio")
		})
	}
}
