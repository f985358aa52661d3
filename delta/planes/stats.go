package planes

import "math"

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
