package planes

import (
	"math"
	"math/rand/v2"
)

// Test data generators. Each returns n words of width bytes.

type dataKind struct {
	name string
	gen  func(r *rand.Rand, n, width int) []byte
}

var dataKinds = []dataKind{
	{"constant", func(r *rand.Rand, n, width int) []byte {
		w := make([]byte, width)
		for k := range w {
			w[k] = byte(r.Uint32())
		}
		out := make([]byte, n*width)
		for i := 0; i < n; i++ {
			copy(out[i*width:], w)
		}
		return out
	}},
	{"random", func(r *rand.Rand, n, width int) []byte {
		out := make([]byte, n*width)
		for i := range out {
			out[i] = byte(r.Uint32())
		}
		return out
	}},
	{"lowentropy", func(r *rand.Rand, n, width int) []byte {
		// Small signed values: geometric-like magnitudes, sign-extended, so
		// the low plane varies and the high planes are 0x00 or 0xff.
		out := make([]byte, n*width)
		for i := 0; i < n; i++ {
			v := int64(r.NormFloat64() * 6)
			for k := 0; k < width; k++ {
				out[i*width+k] = byte(uint64(v) >> (8 * k))
			}
		}
		return out
	}},
	{"sparse", func(r *rand.Rand, n, width int) []byte {
		out := make([]byte, n*width)
		for i := 0; i < n; i++ {
			if r.IntN(20) == 0 {
				for k := 0; k < width; k++ {
					out[i*width+k] = byte(r.Uint32())
				}
			}
		}
		return out
	}},
	{"floats", func(r *rand.Rand, n, width int) []byte {
		// Bits of N(0, 0.02) float32 values, truncated or padded to width.
		out := make([]byte, n*width)
		for i := 0; i < n; i++ {
			b := math.Float32bits(float32(r.NormFloat64() * 0.02))
			for k := 0; k < width; k++ {
				out[i*width+k] = byte(uint64(b) << 32 >> (8 * (8 - width + k)) >> 0)
			}
		}
		return out
	}},
}

// genCtx makes n context classes in [0, nctx) correlated with nothing.
func genCtx(r *rand.Rand, n, nctx int) []uint8 {
	if nctx <= 1 {
		return nil
	}
	c := make([]uint8, n)
	for i := range c {
		c[i] = uint8(r.IntN(nctx))
	}
	return c
}
