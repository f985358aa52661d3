package planes

import (
	"math"
	"sync"
)

// segStats summarises one segment for the method choice.
type segStats struct {
	hist     [256]uint32
	distinct int // symbols that occur
	maxCount int // count of the most frequent symbol
	// repeats of repeatPairs sampled adjacent pairs hold equal bytes.
	repeats, repeatPairs int
}

// measure fills s for seg (non-empty).
func (s *segStats) measure(seg []byte) {
	// Four sub-histograms break the store-to-load dependency on runs of
	// equal bytes. Repeats are sampled on one adjacent pair per four bytes.
	var h [4][256]uint32
	i, r := 0, 0
	for ; i+4 <= len(seg); i += 4 {
		a, b := seg[i], seg[i+1]
		h[0][a]++
		h[1][b]++
		h[2][seg[i+2]]++
		h[3][seg[i+3]]++
		if a == b {
			r++
		}
	}
	for ; i < len(seg); i++ {
		h[0][seg[i]]++
	}
	s.distinct, s.maxCount = 0, 0
	for b := range s.hist {
		c := h[0][b] + h[1][b] + h[2][b] + h[3][b]
		s.hist[b] = c
		if c != 0 {
			s.distinct++
			if int(c) > s.maxCount {
				s.maxCount = int(c)
			}
		}
	}
	s.repeats, s.repeatPairs = r, len(seg)/4
}

// shannonBytes is the order-0 entropy bound of the segment, in bytes.
func (s *segStats) shannonBytes(n int) float64 {
	if n == 0 {
		return 0
	}
	total := float64(n)
	bits := 0.0
	for _, c := range s.hist {
		if c != 0 {
			f := float64(c)
			bits -= f * math.Log2(f/total)
		}
	}
	return bits / 8
}

// entropyPays reports whether order-0 entropy coding can gain on the
// segment: its Shannon bound plus 64 bytes (about a huff0 table) is below
// 97 % of its n bytes. The answer is exactly that of
// shannonBytes(n)+64 < 0.97n (the encoder's output depends on it), but it is
// read from fastShannonBytes, which differs from shannonBytes by rounding
// only (far below 1e-3 bytes), unless that is within a byte of the limit.
func (s *segStats) entropyPays(n int) bool {
	limit := float64(n) * 0.97
	est := s.fastShannonBytes(n) + 64
	if est < limit-1 {
		return true
	}
	if est > limit+1 {
		return false
	}
	return s.shannonBytes(n)+64 < limit
}

// fastShannonBytes is shannonBytes as (n·log2 n − Σ c·log2 c) / 8, with
// c·log2 c from a table for the common small counts.
func (s *segStats) fastShannonBytes(n int) float64 {
	tab := xlog2Table()
	sum := 0.0
	for _, c := range s.hist {
		if c < uint32(len(tab)) {
			sum += tab[c]
		} else {
			f := float64(c)
			sum += f * math.Log2(f)
		}
	}
	total := float64(n)
	return (total*math.Log2(total) - sum) / 8
}

// xlog2Table holds c·log2 c for small c (0 for c = 0).
var xlog2Table = sync.OnceValue(func() *[4096]float64 {
	var t [4096]float64
	for c := 1; c < len(t); c++ {
		f := float64(c)
		t[c] = f * math.Log2(f)
	}
	return &t
})

// excessRepeats is how much more often a byte repeats its predecessor than an
// independent source with the same histogram would: a hint that an LZ coder
// (zstd) can exploit runs or matches that an order-0 coder cannot.
func (s *segStats) excessRepeats(n int) float64 {
	if s.repeatPairs < 16 {
		return 0
	}
	total := float64(n)
	expect := 0.0
	for _, c := range s.hist {
		if c != 0 {
			p := float64(c) / total
			expect += p * p
		}
	}
	return float64(s.repeats)/float64(s.repeatPairs) - expect
}

// mode returns the most frequent byte.
func (s *segStats) mode() byte {
	best := 0
	for b, c := range s.hist {
		if c > s.hist[best] {
			best = b
		}
	}
	return byte(best)
}
