package npy

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Format constants from numpy's lib/format.py.
const (
	// Align is numpy's ARRAY_ALIGN: the data section starts at a multiple of it.
	Align = 64
	// MaxDims is the largest number of dimensions accepted (numpy 2's limit).
	MaxDims = 64
	// MaxHeaderSize bounds the header length field a reader will honour, so a
	// hostile length cannot force a huge allocation. numpy's own headers for
	// the dtypes handled here stay far below it.
	MaxHeaderSize = 1 << 20

	magicPrefix = "\x93NUMPY"
	// growthAxisMaxDigits is numpy's GROWTH_AXIS_MAX_DIGITS: spare spaces so
	// the growth axis can be rewritten in place.
	growthAxisMaxDigits = 21
)

// Header is the parsed header of an .npy file.
type Header struct {
	Major, Minor byte    // format version: 1.0, 2.0 or 3.0
	DType        DType   // element type
	Fortran      bool    // fortran_order
	Shape        []int64 // dimensions; empty for a 0-d array
}

// NumElements returns the product of Shape, checked for overflow. A 0-d
// array has one element. Negative dimensions are an error, and so is a shape
// whose non-zero dimensions multiply past int64 even when another dimension
// is zero (such a header is lying about something).
func (h Header) NumElements() (int64, error) {
	n, _, err := h.sizes()
	return n, err
}

// DataSize returns NumElements*DType.Size, checked for overflow.
func (h Header) DataSize() (int64, error) {
	_, size, err := h.sizes()
	return size, err
}

// sizes validates the shape and returns the element count and byte size.
func (h Header) sizes() (elems, bytes int64, err error) {
	if len(h.Shape) > MaxDims {
		return 0, 0, fmt.Errorf("%w: %d dimensions (at most %d)", ErrMalformed, len(h.Shape), MaxDims)
	}
	itemSize := int64(h.DType.Size)
	if itemSize <= 0 {
		return 0, 0, fmt.Errorf("%w: item size %d", ErrUnsupportedDType, itemSize)
	}
	elems = 1
	bound := int64(1) // product of the non-zero dimensions, for the overflow check
	for i, d := range h.Shape {
		if d < 0 {
			return 0, 0, fmt.Errorf("%w: dimension %d is negative (%d)", ErrMalformed, i, d)
		}
		elems *= d
		if d == 0 {
			continue
		}
		if bound > math.MaxInt64/d {
			return 0, 0, fmt.Errorf("%w: shape %v overflows 64-bit sizes", ErrMalformed, h.Shape)
		}
		bound *= d
	}
	if bound > math.MaxInt64/itemSize {
		return 0, 0, fmt.Errorf("%w: shape %v of %d-byte elements overflows 64-bit sizes", ErrMalformed, h.Shape, itemSize)
	}
	return elems, elems * itemSize, nil
}

// Validate checks the dtype and shape; FormatHeader and ParseHeader accept
// exactly the headers that pass it.
func (h Header) Validate() error {
	if err := h.DType.Validate(); err != nil {
		return err
	}
	_, _, err := h.sizes()
	return err
}

// dictText returns the header dict exactly as numpy's _write_array_header
// renders it, including the spare growth-axis spaces.
func (h Header) dictText() []byte {
	b := make([]byte, 0, 96+22*len(h.Shape))
	b = append(b, "{'descr': '"...)
	b = append(b, h.DType.Descr()...)
	b = append(b, "', 'fortran_order': "...)
	if h.Fortran {
		b = append(b, "True"...)
	} else {
		b = append(b, "False"...)
	}
	b = append(b, ", 'shape': ("...)
	for i, d := range h.Shape {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, d, 10)
	}
	if len(h.Shape) == 1 {
		b = append(b, ',')
	}
	b = append(b, "), }"...)
	if len(h.Shape) > 0 {
		growth := h.Shape[0]
		if h.Fortran {
			growth = h.Shape[len(h.Shape)-1]
		}
		for n := len(strconv.FormatInt(growth, 10)); n < growthAxisMaxDigits; n++ {
			b = append(b, ' ')
		}
	}
	return b
}

// FormatHeader returns the canonical header numpy would write for h: version
// 1.0 unless the header needs 2.0, data aligned to 64 bytes. h.Major/Minor
// are ignored.
func FormatHeader(h Header) ([]byte, error) {
	b, err := FormatHeaderVersion(h, 1, 0)
	if err == nil {
		return b, nil
	}
	if err != errTooLongForV1 {
		return nil, err
	}
	return FormatHeaderVersion(h, 2, 0)
}

var errTooLongForV1 = fmt.Errorf("%w: header too long for format 1.0", ErrMalformed)

// FormatHeaderVersion is FormatHeader with an explicit format version (1.0,
// 2.0 or 3.0), as numpy's write_array(..., version=...) writes it. Only ASCII
// is ever written, so 3.0 differs from 2.0 in the version bytes alone.
func FormatHeaderVersion(h Header, major, minor byte) ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	lenSize, err := lengthFieldSize(major, minor)
	if err != nil {
		return nil, err
	}
	dict := h.dictText()
	prefix := len(magicPrefix) + 2 + lenSize
	hlen := len(dict) + 1 // + the final newline
	padlen := Align - (prefix+hlen)%Align
	total := prefix + hlen + padlen
	if lenSize == 2 && total-prefix > math.MaxUint16 {
		return nil, errTooLongForV1
	}
	out := make([]byte, 0, total)
	out = append(out, magicPrefix...)
	out = append(out, major, minor)
	if lenSize == 2 {
		out = binary.LittleEndian.AppendUint16(out, uint16(total-prefix))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(total-prefix))
	}
	out = append(out, dict...)
	for range padlen {
		out = append(out, ' ')
	}
	out = append(out, '\n')
	return out, nil
}

// lengthFieldSize returns the size of the header length field of a version.
func lengthFieldSize(major, minor byte) (int, error) {
	switch {
	case major == 1 && minor == 0:
		return 2, nil
	case (major == 2 || major == 3) && minor == 0:
		return 4, nil
	}
	return 0, fmt.Errorf("%w: unsupported format version %d.%d (want 1.0, 2.0 or 3.0)", ErrMalformed, major, minor)
}
