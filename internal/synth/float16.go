package synth

import "math"

// Float32ToFloat16 converts f to IEEE 754 binary16 bits with
// round-to-nearest-even, as numpy's astype(np.float16) does: values beyond
// the range become infinities, tiny values become subnormals or signed
// zeros, and a NaN keeps its sign and the top 10 bits of its payload (0x7c01
// when those are all zero, so it stays a NaN).
func Float32ToFloat16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int(bits>>23) & 0xff
	mant := bits & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		h := uint16(0x7c00 | mant>>13)
		if h == 0x7c00 {
			h++
		}
		return sign | h
	}
	e := exp - 127 + 15 // biased binary16 exponent
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e <= 0:
		// Subnormal (or zero) in binary16. Values below half the smallest
		// subnormal (2^-25) round to zero.
		if e < -10 {
			return sign
		}
		mant |= 0x800000 // the implicit leading bit
		shift := uint(14 - e)
		m := mant >> shift
		rem, half := mant&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > half || (rem == half && m&1 == 1) {
			m++ // may carry into the smallest normal, which is the right encoding
		}
		return sign | uint16(m)
	}
	h := uint32(e)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to infinity: right as well
	}
	return sign | uint16(h)
}

// Float16ToFloat32 widens IEEE 754 binary16 bits to float32 exactly (NaN
// payloads are kept in the top mantissa bits).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		// Subnormal: normalise the mantissa.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToBFloat16 returns the bfloat16 bits nearest to f (round to
// nearest, ties to even, on the upper 16 bits). Overflow gives infinity; a
// NaN keeps its sign and upper payload and is made quiet, so it stays a NaN.
func Float32ToBFloat16(f float32) uint16 {
	bits := math.Float32bits(f)
	if bits&0x7fffffff > 0x7f800000 {
		return uint16(bits>>16) | 0x0040
	}
	bits += 0x7fff + (bits>>16)&1
	return uint16(bits >> 16)
}

// BFloat16ToFloat32 widens bfloat16 bits to float32 exactly: they become
// the upper half, the lower half is zero.
func BFloat16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }
