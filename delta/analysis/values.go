package analysis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"deltafs/delta"
)

// ErrUnsupported means the tensor's dtype cannot be analysed this way.
var ErrUnsupported = errors.New("analysis: unsupported dtype")

// ErrMismatch means target and reference differ in dtype or size.
var ErrMismatch = errors.New("analysis: target and reference differ")

// ErrCorrupt means encoded input failed validation.
var ErrCorrupt = errors.New("analysis: corrupt input")

// elemView reads a tensor's data as little-endian words and float64 values.
type elemView struct {
	data  []byte
	width int  // bytes per word (a complex element is two words)
	big   bool // data is big-endian
	kind  byte // 'f' float (complex too), 'i' signed, 'u' unsigned, 'b' bool
}

// newView validates t's dtype and data length.
func newView(t delta.Tensor) (elemView, error) {
	d := t.DType
	v := elemView{data: t.Data, width: d.Size, big: d.Order == '>' && d.Size > 1, kind: d.Kind}
	switch d.Kind {
	case 'f':
		if d.Size != 2 && d.Size != 4 && d.Size != 8 {
			return v, fmt.Errorf("%w: float of %d bytes", ErrUnsupported, d.Size)
		}
	case 'c':
		if d.Size != 8 && d.Size != 16 {
			return v, fmt.Errorf("%w: complex of %d bytes", ErrUnsupported, d.Size)
		}
		v.width, v.kind = d.Size/2, 'f'
	case 'i', 'u':
		if d.Size != 1 && d.Size != 2 && d.Size != 4 && d.Size != 8 {
			return v, fmt.Errorf("%w: integer of %d bytes", ErrUnsupported, d.Size)
		}
	case 'b':
		if d.Size != 1 {
			return v, fmt.Errorf("%w: bool of %d bytes", ErrUnsupported, d.Size)
		}
	default:
		return v, fmt.Errorf("%w: kind %q", ErrUnsupported, d.Kind)
	}
	if len(t.Data)%v.width != 0 {
		return v, fmt.Errorf("%w: %d data bytes are not whole %d-byte words", ErrUnsupported, len(t.Data), v.width)
	}
	return v, nil
}

// len returns the number of words.
func (v elemView) len() int { return len(v.data) / v.width }

// word returns word i as an unsigned integer (host value, byte order
// resolved).
func (v elemView) word(i int) uint64 {
	b := v.data[i*v.width : i*v.width+v.width]
	switch v.width {
	case 1:
		return uint64(b[0])
	case 2:
		if v.big {
			return uint64(binary.BigEndian.Uint16(b))
		}
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		if v.big {
			return uint64(binary.BigEndian.Uint32(b))
		}
		return uint64(binary.LittleEndian.Uint32(b))
	default:
		if v.big {
			return binary.BigEndian.Uint64(b)
		}
		return binary.LittleEndian.Uint64(b)
	}
}

// value returns word i as a float64: exact for every float and for integers
// up to 2^53 in magnitude (larger ones round to nearest).
func (v elemView) value(i int) float64 {
	return wordValue(v.word(i), v.width, v.kind)
}

// wordValue converts a word of the given width and kind to float64.
func wordValue(w uint64, width int, kind byte) float64 {
	switch kind {
	case 'f':
		switch width {
		case 2:
			return halfToFloat64(uint16(w))
		case 4:
			return float64(math.Float32frombits(uint32(w)))
		default:
			return math.Float64frombits(w)
		}
	case 'i':
		shift := uint(64 - 8*width)
		return float64(int64(w<<shift) >> shift)
	default: // 'u', 'b'
		return float64(w)
	}
}

// halfToFloat64 converts IEEE binary16 bits exactly (NaN payload bits are
// kept in the top of the float64 mantissa).
func halfToFloat64(h uint16) float64 {
	sign := uint64(h>>15) << 63
	exp := int(h>>10) & 0x1f
	mant := uint64(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float64frombits(sign | 0x7ff<<52 | mant<<42)
	case exp == 0:
		if mant == 0 {
			return math.Float64frombits(sign)
		}
		// subnormal: mant × 2^-24
		f := math.Ldexp(float64(mant), -24)
		if sign != 0 {
			f = -f
		}
		return f
	default:
		return math.Float64frombits(sign | uint64(exp-15+1023)<<52 | mant<<42)
	}
}

// ordered maps a word to an unsigned integer whose order matches the
// numeric order (floats: sign-magnitude to offset; signed ints: flip the
// sign bit), so differences of nearby values are small.
func ordered(w uint64, width int, kind byte) uint64 {
	bits := uint(8 * width)
	sign := uint64(1) << (bits - 1)
	mask := ^uint64(0) >> (64 - bits)
	switch kind {
	case 'f':
		if w&sign != 0 {
			return ^w & mask
		}
		return w | sign
	case 'i':
		return w ^ sign
	}
	return w
}

// sameShapeSize checks target and reference are comparable element by
// element.
func sameShapeSize(t, r delta.Tensor) error {
	sameOrder := t.DType.Size == 1 || t.DType.Order == r.DType.Order
	if t.DType.Kind != r.DType.Kind || t.DType.Size != r.DType.Size || !sameOrder {
		return fmt.Errorf("%w: dtype %c%d vs %c%d", ErrMismatch, t.DType.Kind, t.DType.Size, r.DType.Kind, r.DType.Size)
	}
	if len(t.Data) != len(r.Data) {
		return fmt.Errorf("%w: %d vs %d data bytes", ErrMismatch, len(t.Data), len(r.Data))
	}
	return nil
}
