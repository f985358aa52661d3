package delta

import (
	"encoding/binary"
	"math"
)

// Float element access for the lossy strategies: float16, float32 and
// float64 words to float64 and back with round-to-nearest-even.

// f16ToF64 converts IEEE binary16 bits to float64 exactly.
func f16ToF64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return sign * math.Ldexp(m, -24)
	case 31:
		if m != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1024+m, e-25)
}

// roundShift returns m >> sh rounded to nearest, ties to even (sh ≥ 1).
func roundShift(m uint64, sh uint) uint64 {
	if sh >= 64 {
		return 0
	}
	q := m >> sh
	rem := m & (1<<sh - 1)
	half := uint64(1) << (sh - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// f64ToF16 converts a float64 to the nearest binary16 (ties to even).
func f64ToF16(v float64) uint16 {
	b := math.Float64bits(v)
	s := uint16(b>>48) & 0x8000
	a := b &^ (1 << 63)
	switch {
	case a > 0x7ff0000000000000:
		return s | 0x7e00
	case a == 0x7ff0000000000000:
		return s | 0x7c00
	case a < 1<<52:
		return s // float64 subnormals are far below half a binary16 ulp
	}
	e := int(a>>52) - 1023
	if e > 15 {
		return s | 0x7c00
	}
	m := a&(1<<52-1) | 1<<52
	if e < -14 {
		return s | uint16(roundShift(m, uint(28-e)))
	}
	bits := uint64(e+14)<<10 + roundShift(m, 42)
	if bits >= 0x7c00 {
		return s | 0x7c00
	}
	return s | uint16(bits)
}

// floatAt returns float word i of little-endian words b (widths 2, 4, 8).
func floatAt(b []byte, w, i int) float64 {
	switch w {
	case 2:
		return f16ToF64(binary.LittleEndian.Uint16(b[2*i:]))
	case 4:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	default:
		return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
}

// refFloatAt is floatAt with a nil reference meaning +0.
func refFloatAt(r []byte, w, i int) float64 {
	if r == nil {
		return 0
	}
	return floatAt(r, w, i)
}

// putFloat stores v rounded to the word's float format.
func putFloat(b []byte, w, i int, v float64) {
	switch w {
	case 2:
		binary.LittleEndian.PutUint16(b[2*i:], f64ToF16(v))
	case 4:
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)))
	default:
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
