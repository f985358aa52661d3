package synth

import (
	"encoding/binary"
	"fmt"
	"math"

	"deltafs/npy"
)

// Precision is the storage type of generated weights.
type Precision string

// The precisions the generator writes. BFloat16 tensors are stored as
// float32 .npy data whose low 16 bits are zero (see package npy).
const (
	Float32  Precision = "float32"
	Float16  Precision = "float16"
	BFloat16 Precision = "bfloat16"
)

// ParsePrecision validates a precision name ("float32", "float16",
// "bfloat16"; "f32", "f16", "bf16" also accepted).
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "float32", "f32", "fp32":
		return Float32, nil
	case "float16", "f16", "fp16", "half":
		return Float16, nil
	case "bfloat16", "bf16":
		return BFloat16, nil
	}
	return "", fmt.Errorf("synth: unknown precision %q (want float32, float16 or bfloat16)", s)
}

// DType returns the .npy dtype the precision is stored as.
func (p Precision) DType() npy.DType {
	if p == Float16 {
		return npy.Float16
	}
	return npy.Float32
}

// ElemSize returns the bytes per stored element.
func (p Precision) ElemSize() int { return p.DType().Size }

// valid reports whether p is one of the known precisions.
func (p Precision) valid() bool { return p == Float32 || p == Float16 || p == BFloat16 }

// put rounds v to the precision (through float32, round-to-nearest-even at
// each step) and stores it little-endian at element i of data.
func (p Precision) put(data []byte, i int, v float64) {
	f := float32(v)
	switch p {
	case Float16:
		binary.LittleEndian.PutUint16(data[2*i:], Float32ToFloat16(f))
	case BFloat16:
		binary.LittleEndian.PutUint32(data[4*i:], uint32(Float32ToBFloat16(f))<<16)
	default:
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(f))
	}
}

// get reads element i of data as float64 (exactly).
func (p Precision) get(data []byte, i int) float64 {
	if p == Float16 {
		return float64(Float16ToFloat32(binary.LittleEndian.Uint16(data[2*i:])))
	}
	return float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
}
