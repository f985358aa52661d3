package delta

import (
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"

	"deltafs/npy"
)

// Test tensors: weight-like values with every special bit pattern mixed in.

type dtypeCase struct {
	name string
	dt   npy.DType
	bf16 bool // float32 holding bfloat16 values
	// bf16Words: u2 holding bfloat16 words (a safetensors BF16 tensor as
	// the store keeps it).
	bf16Words bool
}

var dtypeCases = []dtypeCase{
	{name: "f2", dt: npy.DType{Kind: 'f', Size: 2, Order: '<'}},
	{name: "bf16", dt: npy.DType{Kind: 'f', Size: 4, Order: '<'}, bf16: true},
	{name: "f4", dt: npy.DType{Kind: 'f', Size: 4, Order: '<'}},
	{name: "f8", dt: npy.DType{Kind: 'f', Size: 8, Order: '<'}},
	{name: "i1", dt: npy.DType{Kind: 'i', Size: 1, Order: '|'}},
	{name: "i2", dt: npy.DType{Kind: 'i', Size: 2, Order: '<'}},
	{name: "i4", dt: npy.DType{Kind: 'i', Size: 4, Order: '<'}},
	{name: "i8", dt: npy.DType{Kind: 'i', Size: 8, Order: '<'}},
	{name: "u1", dt: npy.DType{Kind: 'u', Size: 1, Order: '|'}},
	{name: "u2", dt: npy.DType{Kind: 'u', Size: 2, Order: '<'}},
	{name: "u4", dt: npy.DType{Kind: 'u', Size: 4, Order: '<'}},
	{name: "u8", dt: npy.DType{Kind: 'u', Size: 8, Order: '<'}},
	{name: "b1", dt: npy.DType{Kind: 'b', Size: 1, Order: '|'}},
	{name: "c8", dt: npy.DType{Kind: 'c', Size: 8, Order: '<'}},
	{name: "c16", dt: npy.DType{Kind: 'c', Size: 16, Order: '<'}},
	{name: ">f4", dt: npy.DType{Kind: 'f', Size: 4, Order: '>'}},
	{name: ">bf16", dt: npy.DType{Kind: 'f', Size: 4, Order: '>'}, bf16: true},
	{name: ">f2", dt: npy.DType{Kind: 'f', Size: 2, Order: '>'}},
	{name: ">i8", dt: npy.DType{Kind: 'i', Size: 8, Order: '>'}},
	{name: ">c16", dt: npy.DType{Kind: 'c', Size: 16, Order: '>'}},
	{name: "bf16u2", dt: npy.DType{Kind: 'u', Size: 2, Order: '<'}, bf16Words: true},
	{name: ">bf16u2", dt: npy.DType{Kind: 'u', Size: 2, Order: '>'}, bf16Words: true},
}

// specialBits returns float bit patterns every lossless coder must keep.
func specialBits(width int) []uint64 {
	switch width {
	case 2:
		return []uint64{0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe01, 0x0001, 0x83ff, 0x7bff, 0x3c00}
	case 4:
		return []uint64{0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc01234,
			0x7fa00000, 0x00000001, 0x807fffff, 0x7f7fffff, 0x3f800000}
	default:
		return []uint64{0, 1 << 63, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
			0x7ff0000000000001, 0xfff8dead0000beef, 1, 0x800fffffffffffff, 0x7fefffffffffffff}
	}
}

// genPair returns a reference and a fine-tuned target of n elements in the
// little-endian word form of dc, then converted to its byte order.
func genPair(dc dtypeCase, n int, seed uint64) (target, ref []byte) {
	if dc.bf16Words {
		f := dtypeCase{dt: npy.DType{Kind: 'f', Size: 4, Order: '<'}, bf16: true}
		t4, r4 := genPair(f, n, seed)
		return upperWords(t4, dc.dt.Order == '>'), upperWords(r4, dc.dt.Order == '>')
	}
	rng := rand.New(rand.NewPCG(seed, 42))
	size := dc.dt.Size
	target, ref = make([]byte, n*size), make([]byte, n*size)
	w, per := size, 1
	if dc.dt.Kind == 'c' {
		w, per = size/2, 2
	}
	float := dc.dt.Kind == 'f' || dc.dt.Kind == 'c'
	sp := specialBits(w)
	for i := 0; i < n*per; i++ {
		var rv, tv uint64
		switch {
		case dc.dt.Kind == 'b':
			rv, tv = uint64(rng.IntN(2)), uint64(rng.IntN(2))
		case !float:
			rv = rng.Uint64()
			tv = rv
			if rng.IntN(3) == 0 {
				tv = rv + uint64(rng.IntN(7)) - 3
			}
		default:
			x := rng.NormFloat64() * 0.02
			y := x + rng.NormFloat64()*0.0005
			switch w {
			case 2:
				rv, tv = uint64(f64ToF16(x)), uint64(f64ToF16(y))
			case 4:
				rv, tv = uint64(math.Float32bits(float32(x))), uint64(math.Float32bits(float32(y)))
				if dc.bf16 {
					rv, tv = rv&0xffff0000, tv&0xffff0000
				}
			default:
				rv, tv = math.Float64bits(x), math.Float64bits(y)
			}
			if rng.IntN(16) == 0 {
				tv = sp[rng.IntN(len(sp))]
			}
			if rng.IntN(32) == 0 {
				rv = sp[rng.IntN(len(sp))]
			}
			if dc.bf16 {
				rv, tv = rv&0xffff0000, tv&0xffff0000
			}
		}
		putOrdered(ref, w, i, rv, dc.dt.Order == '>')
		putOrdered(target, w, i, tv, dc.dt.Order == '>')
	}
	return target, ref
}

// putOrdered writes word i in the given byte order.
func putOrdered(b []byte, w, i int, v uint64, big bool) {
	if !big {
		putWord(b, w, i, v)
		return
	}
	switch w {
	case 1:
		b[i] = byte(v)
	case 2:
		binary.BigEndian.PutUint16(b[2*i:], uint16(v))
	case 4:
		binary.BigEndian.PutUint32(b[4*i:], uint32(v))
	default:
		binary.BigEndian.PutUint64(b[8*i:], v)
	}
}

// getOrdered reads word i in the given byte order.
func getOrdered(b []byte, w, i int, big bool) uint64 {
	v := getWord(b, w, i)
	if !big || w == 1 {
		return v
	}
	return bits.ReverseBytes64(v) >> (64 - 8*w)
}

// elems returns the element count of a shape.
func elems(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// upperWords returns the upper 16-bit halves of little-endian float32s as
// 16-bit words in the given byte order.
func upperWords(f4 []byte, big bool) []byte {
	out := make([]byte, len(f4)/2)
	for i := 0; i < len(out)/2; i++ {
		putOrdered(out, 2, i, uint64(binary.LittleEndian.Uint32(f4[4*i:])>>16), big)
	}
	return out
}
