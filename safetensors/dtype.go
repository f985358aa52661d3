package safetensors

import (
	"fmt"
	"slices"
)

// DType is a safetensors element type, named as in the header ("BF16").
type DType string

// The dtypes of the format that this package handles.
const (
	Bool    DType = "BOOL"
	U8      DType = "U8"
	I8      DType = "I8"
	I16     DType = "I16"
	U16     DType = "U16"
	F16     DType = "F16"
	BF16    DType = "BF16"
	I32     DType = "I32"
	U32     DType = "U32"
	F32     DType = "F32"
	F64     DType = "F64"
	I64     DType = "I64"
	U64     DType = "U64"
	F8E4M3  DType = "F8_E4M3"
	F8E5M2  DType = "F8_E5M2"
	unknown DType = ""
)

// dtypeSizes is the item size in bytes of every known dtype.
var dtypeSizes = map[DType]int{
	Bool: 1, U8: 1, I8: 1, F8E4M3: 1, F8E5M2: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	I64: 8, U64: 8, F64: 8,
}

// DTypes returns every known dtype, sorted by name.
func DTypes() []DType {
	out := make([]DType, 0, len(dtypeSizes))
	for d := range dtypeSizes {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// Size returns the item size in bytes, or 0 for an unknown dtype.
func (d DType) Size() int { return dtypeSizes[d] }

// Known reports whether the dtype is one this package handles.
func (d DType) Known() bool { return d.Size() > 0 }

// ParseDType returns the dtype named s, or an error wrapping ErrUnknownDType.
func ParseDType(s string) (DType, error) {
	d := DType(s)
	if !d.Known() {
		return unknown, fmt.Errorf("%w: %q", ErrUnknownDType, s)
	}
	return d, nil
}
