// Package npy parses and formats the header of numpy's .npy files
// (format versions 1.0, 2.0 and 3.0) and describes their dtypes.
//
// CONTRACT STUB: the signatures below are the agreed API; bodies are being
// implemented.
package npy

import (
	"errors"
	"io"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrNotNPY means the input does not start with the .npy magic.
	ErrNotNPY = errors.New("npy: not an .npy file")
	// ErrTruncated means the input ended inside the header.
	ErrTruncated = errors.New("npy: truncated header")
	// ErrMalformed means the header is present but invalid or lying.
	ErrMalformed = errors.New("npy: malformed header")
	// ErrUnsupportedDType means the descr names a dtype deltafs does not handle.
	ErrUnsupportedDType = errors.New("npy: unsupported dtype")
)

// DType is a numpy scalar dtype: kind, item size and byte order.
type DType struct {
	Kind  byte // 'b' bool, 'i' signed int, 'u' unsigned int, 'f' float, 'c' complex
	Size  int  // bytes per element: 1, 2, 4, 8 or 16
	Order byte // '<' little, '>' big, '|' not applicable (1-byte types)
}

// ParseDescr parses a numpy descr string such as "<f4", ">i8", "|b1", "=f2".
func ParseDescr(s string) (DType, error) { return DType{}, errors.New("unimplemented") }

// Descr returns the descr string exactly as numpy writes it ("<f4", "|u1", "|b1").
func (d DType) Descr() string { return "" }

// Header is the parsed header of an .npy file.
type Header struct {
	Major, Minor byte    // format version: 1.0, 2.0 or 3.0
	DType        DType   // element type
	Fortran      bool    // fortran_order
	Shape        []int64 // dimensions; empty for a 0-d array
}

// NumElements returns the product of Shape, checked for overflow.
func (h Header) NumElements() (int64, error) { return 0, errors.New("unimplemented") }

// DataSize returns NumElements*DType.Size, checked for overflow.
func (h Header) DataSize() (int64, error) { return 0, errors.New("unimplemented") }

// ParseHeader parses the header at the start of b and returns it with the
// offset of the data section. It returns ErrTruncated when b ends early.
func ParseHeader(b []byte) (Header, int, error) { return Header{}, 0, errors.New("unimplemented") }

// ReadHeader reads exactly the header bytes from r and parses them; it
// returns the raw header bytes too, so callers can keep non-canonical ones.
func ReadHeader(r io.Reader) (Header, []byte, error) {
	return Header{}, nil, errors.New("unimplemented")
}

// FormatHeader returns the canonical header numpy would write for h: version
// 1.0 unless the header needs 2.0, data aligned to 64 bytes. h.Major/Minor
// are ignored.
func FormatHeader(h Header) ([]byte, error) { return nil, errors.New("unimplemented") }
