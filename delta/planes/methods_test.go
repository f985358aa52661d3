package planes

import (
	"math/rand/v2"
	"testing"
)

// TestMethodChoice builds inputs for which one method is clearly best and
// checks the encoder picks it and the block round-trips, so every method's
// encoder and decoder is exercised.
type methodSample struct {
	name  string
	data  []byte
	level int
	want  method
}

// methodSamples returns inputs for which one method is clearly best.
func methodSamples() []methodSample {
	r := rand.New(rand.NewPCG(21, 22))
	gen := func(n int, f func(i int) byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = f(i)
		}
		return b
	}
	motif := gen(300, func(int) byte { return byte(r.Uint32()) })
	// skewed: 70 % zeros, where FSE gains a little over huff0.
	skewed := func() []byte {
		return gen(50000, func(int) byte {
			if r.IntN(10) < 7 {
				return 0
			}
			return byte(1 + r.IntN(4))
		})
	}
	return []methodSample{
		{"const", gen(5000, func(int) byte { return 7 }), 6, methodConst},
		{"raw", gen(5000, func(int) byte { return byte(r.Uint32()) }), 6, methodRaw},
		{"huff0-1x", gen(2000, func(int) byte { return byte(r.IntN(16)) }), 6, methodHuff1X},
		{"huff0-4x", gen(50000, func(int) byte { return byte(r.IntN(16)) }), 6, methodHuff4X},
		{"sparse", gen(50000, func(int) byte {
			if r.IntN(50) == 0 {
				return byte(r.Uint32())
			}
			return 0
		}), 6, methodSparse},
		{"fse", skewed(), 7, methodFSE},
		// Below level 7 FSE only where it saves much: bytes of 78 %, 21 %
		// and 1 % (a fine-tune's high plane) are too few for sparse, and
		// huff0 spends 1.2 bits on each where FSE spends 0.8 ...
		{"fse-level-6", gen(50000, func(int) byte {
			switch k := r.IntN(100); {
			case k < 78:
				return 0
			case k < 99:
				return 1
			}
			return byte(2 + r.IntN(4))
		}), 6, methodFSE},
		// ... but where it saves a little, huff0 (faster to decode) stays.
		{"huff0-near-fse", skewed(), 6, methodHuff4X},
		// Long-range repeats are only looked for at level >= 8 ...
		{"zstd-matches", gen(50000, func(i int) byte { return motif[i%len(motif)] }), 8, methodZstd},
		// ... runs (adjacent repeats) at every level from 2.
		{"zstd-runs", runs(r, 50000), 6, methodZstd},
	}
}

// TestMethodChoice checks the encoder picks the clearly best method and the
// block round-trips, so every method's encoder and decoder is exercised.
func TestMethodChoice(t *testing.T) {
	for _, tc := range methodSamples() {
		t.Run(tc.name, func(t *testing.T) {
			block := roundTrip(t, tc.data, 1, nil, 0, tc.level)
			segs := inspectBlock(t, block, len(tc.data), 1, nil, 0)
			for _, s := range segs {
				if s.m != tc.want {
					t.Errorf("segment coded as %v, want %v (%d -> %d bytes)", s.m, tc.want, s.raw, s.stored)
				}
			}
		})
	}
}

// runs returns n bytes in runs of 5..40 copies of random values.
func runs(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+40)
	for len(b) < n {
		v := byte(r.Uint32())
		for k := 5 + r.IntN(36); k > 0; k-- {
			b = append(b, v)
		}
	}
	return b[:n]
}
