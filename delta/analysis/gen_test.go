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
