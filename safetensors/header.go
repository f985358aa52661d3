package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"
)

// Format constants.
const (
	// LengthSize is the size of the little-endian header length that starts
	// every file.
	LengthSize = 8
	// MaxHeaderSize is the largest header length accepted, as in Hugging
	// Face's reader: a hostile length cannot force a huge allocation.
	MaxHeaderSize = 100_000_000
	// MetadataKey is the header key of the free-form string metadata.
	MetadataKey = "__metadata__"
	// HeaderAlign is the multiple Hugging Face's writer pads the header JSON
	// to, with spaces, so the data section starts 8-byte aligned.
	HeaderAlign = 8
)

// TensorInfo is one tensor of a header. Begin and End are its data offsets:
// relative to the start of the data section, End exclusive.
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int64
	Begin, End int64
}

// Size returns the tensor's size in bytes.
func (t TensorInfo) Size() int64 { return t.End - t.Begin }

// Header is a parsed and validated safetensors header.
type Header struct {
	// Raw is the header exactly as in the file: the 8-byte length, the JSON
	// and its padding. The data section starts at len(Raw).
	Raw []byte
	// Metadata is the __metadata__ object, nil when the header has none.
	Metadata map[string]string
	// Tensors are in the order of the header's JSON.
	Tensors []TensorInfo
}

// DataStart returns the file offset of the data section.
func (h *Header) DataStart() int64 { return int64(len(h.Raw)) }

// DataSize returns the size of the data section: the largest End.
func (h *Header) DataSize() int64 {
	var end int64
	for _, t := range h.Tensors {
		end = max(end, t.End)
	}
	return end
}

// FileSize returns the size of the whole file.
func (h *Header) FileSize() int64 { return h.DataStart() + h.DataSize() }

// Lookup returns the tensor with the given name.
func (h *Header) Lookup(name string) (TensorInfo, bool) {
	for _, t := range h.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// ByOffset returns the tensors in the order of their data: a validated
// header's tensors, so ordered, tile the data section without gaps.
func (h *Header) ByOffset() []TensorInfo {
	out := slices.Clone(h.Tensors)
	slices.SortStableFunc(out, func(a, b TensorInfo) int {
		if a.Begin != b.Begin {
			return cmpInt64(a.Begin, b.Begin)
		}
		return cmpInt64(a.End, b.End)
	})
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// headerLength decodes and bounds the 8-byte length prefix.
func headerLength(prefix []byte, fileSize int64) (int64, error) {
	if len(prefix) < LengthSize || fileSize < LengthSize {
		return 0, fmt.Errorf("%w: %d bytes, the length alone takes %d", ErrTruncated, max(fileSize, 0), LengthSize)
	}
	n := binary.LittleEndian.Uint64(prefix)
	if n > MaxHeaderSize {
		return 0, fmt.Errorf("%w: %d bytes (at most %d)", ErrHeaderTooLarge, n, MaxHeaderSize)
	}
	if int64(n) > fileSize-LengthSize {
		return 0, fmt.Errorf("%w: header of %d bytes past the end of a %d-byte file", ErrTruncated, n, fileSize)
	}
	return int64(n), nil
}

// ParseHeader parses and validates the header at the start of b, a file of
// fileSize bytes (b holds at least the header; it may hold the whole file).
// The returned Raw aliases b.
func ParseHeader(b []byte, fileSize int64) (*Header, error) {
	n, err := headerLength(b, fileSize)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) < LengthSize+n {
		return nil, fmt.Errorf("%w: header of %d bytes, %d given", ErrTruncated, n, len(b)-LengthSize)
	}
	return parse(b[:LengthSize+n], fileSize)
}

// ReadHeader reads, parses and validates the header of the size-byte file
// behind r. It reads the header only, never the tensor data.
func ReadHeader(r io.ReaderAt, size int64) (*Header, error) {
	var prefix [LengthSize]byte
	if size >= LengthSize {
		if err := readFull(r, prefix[:], 0); err != nil {
			return nil, fmt.Errorf("safetensors: reading the header length: %w", err)
		}
	}
	n, err := headerLength(prefix[:], size)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, LengthSize+n)
	copy(raw, prefix[:])
	if err := readFull(r, raw[LengthSize:], LengthSize); err != nil {
		return nil, fmt.Errorf("safetensors: reading the %d-byte header: %w", n, err)
	}
	return parse(raw, size)
}

// readFull fills p from off; an io.EOF that comes with a full p is no error.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// parse validates raw (length prefix + JSON) against a file of fileSize.
func parse(raw []byte, fileSize int64) (*Header, error) {
	js := raw[LengthSize:]
	if !utf8.Valid(js) {
		return nil, fmt.Errorf("%w: header is not UTF-8", ErrInvalidJSON)
	}
	h, err := decodeHeaderJSON(js)
	if err != nil {
		return nil, err
	}
	h.Raw = raw
	if err := checkOffsets(h.Tensors, fileSize-int64(len(raw))); err != nil {
		return nil, err
	}
	if err := checkSizes(h.Tensors); err != nil {
		return nil, err
	}
	for _, t := range h.Tensors {
		if !t.DType.Known() {
			return nil, fmt.Errorf("%w: tensor %q has dtype %q", ErrUnknownDType, t.Name, string(t.DType))
		}
	}
	return h, nil
}

// checkOffsets checks that the tensors' data tile [0, dataSize) exactly.
func checkOffsets(tensors []TensorInfo, dataSize int64) error {
	for _, t := range tensors {
		if t.Begin > t.End {
			return fmt.Errorf("%w: tensor %q ends at %d before it begins at %d", ErrBadOffsets, t.Name, t.End, t.Begin)
		}
		if t.End > dataSize {
			return fmt.Errorf("%w: tensor %q ends at %d, past the %d bytes of data", ErrBadOffsets, t.Name, t.End, dataSize)
		}
	}
	h := Header{Tensors: tensors}
	var end int64
	var prev string
	for _, t := range h.ByOffset() {
		switch {
		case t.Begin < end:
			return fmt.Errorf("%w: tensor %q at [%d, %d) overlaps %q", ErrBadOffsets, t.Name, t.Begin, t.End, prev)
		case t.Begin > end:
			return fmt.Errorf("%w: gap of %d bytes before tensor %q at %d", ErrBadOffsets, t.Begin-end, t.Name, t.Begin)
		}
		end, prev = t.End, t.Name
	}
	if end != dataSize {
		return fmt.Errorf("%w: tensors end at %d but the data section has %d bytes", ErrBadOffsets, end, dataSize)
	}
	return nil
}

// checkSizes checks every known-dtype tensor's byte size against its offsets.
func checkSizes(tensors []TensorInfo) error {
	for _, t := range tensors {
		if !t.DType.Known() {
			continue
		}
		size, err := ByteSize(t.DType, t.Shape)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if size != t.Size() {
			return fmt.Errorf("%w: tensor %q of %s %v is %d bytes but its offsets span %d", ErrSizeMismatch, t.Name, t.DType, t.Shape, size, t.Size())
		}
	}
	return nil
}

// ByteSize returns the size in bytes of a tensor of the given dtype and
// shape. A negative dimension, or dimensions whose non-zero product times
// the item size overflows int64, is an error wrapping ErrBadShape (even
// when another dimension is zero: such a shape is lying about something).
func ByteSize(d DType, shape []int64) (int64, error) {
	if !d.Known() {
		return 0, fmt.Errorf("%w: %q", ErrUnknownDType, string(d))
	}
	elems, bound := int64(1), int64(d.Size())
	for _, dim := range shape {
		if dim < 0 {
			return 0, fmt.Errorf("%w: negative dimension %d in %v", ErrBadShape, dim, shape)
		}
		if dim == 0 {
			elems = 0
			continue
		}
		if bound > math.MaxInt64/dim {
			return 0, fmt.Errorf("%w: %v of %s overflows int64 bytes", ErrBadShape, shape, d)
		}
		bound *= dim
		elems *= dim
	}
	return elems * int64(d.Size()), nil
}
