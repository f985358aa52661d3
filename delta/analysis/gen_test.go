package analysis

import (
	"encoding/binary"
	"math"
	"math/rand/v2"

	"deltafs/delta"
	"deltafs/npy"
)

// tensorOf encodes values into a tensor of dtype d (bf16: float32 dtype
// with values rounded to bfloat16).
func tensorOf(d npy.DType, bf16 bool, values []float64) delta.Tensor {
	v := elemView{width: d.Size, big: d.Order == '>' && d.Size > 1, kind: d.Kind}
	if d.Kind == 'c' {
		v.width, v.kind = d.Size/2, 'f'
	}
	data := make([]byte, len(values)*v.width)
	for i, x := range values {
		var w uint64
		switch v.kind {
		case 'f':
			w = floatWord(x, v.width)
			if bf16 {
				w = uint64(bf16Round(float32(x)))
			}
		default:
			w = uint64(int64(x))
		}
		v.putWord(data, i, w)
	}
	elems := int64(len(values) * v.width / d.Size)
	return delta.Tensor{DType: d, Shape: []int64{elems}, Data: data}
}

// bf16Round rounds f to bfloat16 (nearest even) and returns it as float32
// bits with zero low half.
func bf16Round(f float32) uint32 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return (b | 0x400000) &^ 0xffff
	}
	b += 0x7fff + (b>>16)&1
	return b &^ 0xffff
}

// finetuneValues returns base ~ N(0, 0.02) and tune = base + rank-4 update
// (1% of the base std) with 1e-3 relative noise, as float64.
func finetuneValues(rows, cols int, seed uint64) (base, tune []float64) {
	r := rand.New(rand.NewPCG(seed, 77))
	const rank = 4
	s := math.Sqrt(0.01 * 0.02 / math.Sqrt(rank))
	u := make([]float64, rows*rank)
	v := make([]float64, rank*cols)
	for i := range u {
		u[i] = r.NormFloat64() * s
	}
	for i := range v {
		v[i] = r.NormFloat64() * s
	}
	base = make([]float64, rows*cols)
	tune = make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			b := r.NormFloat64() * 0.02
			upd := 0.0
			for k := 0; k < rank; k++ {
				upd += u[i*rank+k] * v[k*cols+j]
			}
			base[i*cols+j] = b
			tune[i*cols+j] = (b + upd) * (1 + 1e-3*r.NormFloat64())
		}
	}
	return base, tune
}

// le32 returns the little-endian bytes of float32 values.
func le32(vals ...float32) []byte {
	out := make([]byte, 4*len(vals))
	for i, f := range vals {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
	}
	return out
}

// float64ToHalf rounds f to the nearest binary16 (ties to even). NaN stays
// NaN; out-of-range values become infinities.
func float64ToHalf(f float64) uint16 {
	b := math.Float64bits(f)
	sign := uint16(b>>48) & 0x8000
	if math.IsNaN(f) {
		return sign | 0x7e00 | uint16(b>>42)&0x1ff
	}
	a := math.Abs(f)
	if a >= 65520 { // rounds to infinity
		return sign | 0x7c00
	}
	if a < math.Ldexp(1, -14) { // subnormal range: multiples of 2^-24
		m := math.RoundToEven(a * (1 << 24))
		return sign | uint16(m)
	}
	e := math.Ilogb(a) // -14..15
	m := math.RoundToEven(math.Ldexp(a, 10-e))
	if m >= 2048 {
		m /= 2
		e++
	}
	if e > 15 {
		return sign | 0x7c00
	}
	return sign | uint16(e+15)<<10 | uint16(m)&0x3ff
}

// putWord stores w as word i of data in the view's byte order.
func (v elemView) putWord(data []byte, i int, w uint64) {
	b := data[i*v.width : i*v.width+v.width]
	switch v.width {
	case 1:
		b[0] = byte(w)
	case 2:
		if v.big {
			binary.BigEndian.PutUint16(b, uint16(w))
		} else {
			binary.LittleEndian.PutUint16(b, uint16(w))
		}
	case 4:
		if v.big {
			binary.BigEndian.PutUint32(b, uint32(w))
		} else {
			binary.LittleEndian.PutUint32(b, uint32(w))
		}
	default:
		if v.big {
			binary.BigEndian.PutUint64(b, w)
		} else {
			binary.LittleEndian.PutUint64(b, w)
		}
	}
}

// floatWord rounds f to the view's float width (nearest, ties to even).
func floatWord(f float64, width int) uint64 {
	switch width {
	case 2:
		return uint64(float64ToHalf(f))
	case 4:
		return uint64(math.Float32bits(float32(f)))
	default:
		return math.Float64bits(f)
	}
}
