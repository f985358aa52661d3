package npy

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// DType is a numpy scalar dtype: kind, item size and byte order.
type DType struct {
	Kind  byte // 'b' bool, 'i' signed int, 'u' unsigned int, 'f' float, 'c' complex
	Size  int  // bytes per element: 1, 2, 4, 8 or 16
	Order byte // '<' little, '>' big, '|' not applicable (1-byte types)
}

// NativeOrder is the byte order of the running machine as a descr prefix,
// '<' or '>'. Native descriptors ('=f4', 'f4') are normalised to it.
var NativeOrder = nativeOrder()

func nativeOrder() byte {
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	if probe[0] == 1 {
		return '<'
	}
	return '>'
}

// Little-endian dtypes as numpy writes them on a little-endian machine.
var (
	Bool       = DType{Kind: 'b', Size: 1, Order: '|'}
	Int8       = DType{Kind: 'i', Size: 1, Order: '|'}
	Int16      = DType{Kind: 'i', Size: 2, Order: '<'}
	Int32      = DType{Kind: 'i', Size: 4, Order: '<'}
	Int64      = DType{Kind: 'i', Size: 8, Order: '<'}
	Uint8      = DType{Kind: 'u', Size: 1, Order: '|'}
	Uint16     = DType{Kind: 'u', Size: 2, Order: '<'}
	Uint32     = DType{Kind: 'u', Size: 4, Order: '<'}
	Uint64     = DType{Kind: 'u', Size: 8, Order: '<'}
	Float16    = DType{Kind: 'f', Size: 2, Order: '<'}
	Float32    = DType{Kind: 'f', Size: 4, Order: '<'}
	Float64    = DType{Kind: 'f', Size: 8, Order: '<'}
	Complex64  = DType{Kind: 'c', Size: 8, Order: '<'}
	Complex128 = DType{Kind: 'c', Size: 16, Order: '<'}
)

// typeChars maps numpy's one-letter type codes (as in np.dtype('f')) to a
// kind and size. 'l' and 'L' are the 64-bit C long of the LP64 platforms
// deltafs runs on.
var typeChars = map[string]DType{
	"?": {Kind: 'b', Size: 1}, "b": {Kind: 'i', Size: 1}, "B": {Kind: 'u', Size: 1},
	"h": {Kind: 'i', Size: 2}, "H": {Kind: 'u', Size: 2},
	"i": {Kind: 'i', Size: 4}, "I": {Kind: 'u', Size: 4},
	"l": {Kind: 'i', Size: 8}, "L": {Kind: 'u', Size: 8},
	"q": {Kind: 'i', Size: 8}, "Q": {Kind: 'u', Size: 8},
	"p": {Kind: 'i', Size: 8}, "P": {Kind: 'u', Size: 8},
	"e": {Kind: 'f', Size: 2}, "f": {Kind: 'f', Size: 4}, "d": {Kind: 'f', Size: 8},
	"F": {Kind: 'c', Size: 8}, "D": {Kind: 'c', Size: 16},
}

// typeNames maps numpy's dtype names (as in np.dtype('float32')); they take
// no byte-order prefix.
var typeNames = map[string]DType{
	"bool": {Kind: 'b', Size: 1}, "bool_": {Kind: 'b', Size: 1},
	"int8": {Kind: 'i', Size: 1}, "int16": {Kind: 'i', Size: 2},
	"int32": {Kind: 'i', Size: 4}, "int64": {Kind: 'i', Size: 8},
	"uint8": {Kind: 'u', Size: 1}, "uint16": {Kind: 'u', Size: 2},
	"uint32": {Kind: 'u', Size: 4}, "uint64": {Kind: 'u', Size: 8},
	"float16": {Kind: 'f', Size: 2}, "float32": {Kind: 'f', Size: 4},
	"float64": {Kind: 'f', Size: 8}, "half": {Kind: 'f', Size: 2},
	"single": {Kind: 'f', Size: 4}, "double": {Kind: 'f', Size: 8},
	"complex64": {Kind: 'c', Size: 8}, "complex128": {Kind: 'c', Size: 16},
}

// supportedSize reports whether kind and size form a dtype deltafs handles.
func supportedSize(kind byte, size int) bool {
	switch kind {
	case 'b':
		return size == 1
	case 'i', 'u':
		return size == 1 || size == 2 || size == 4 || size == 8
	case 'f':
		return size == 2 || size == 4 || size == 8
	case 'c':
		return size == 8 || size == 16
	}
	return false
}

// ParseDescr parses a numpy descr string such as "<f4", ">i8", "|b1", "=f2".
// It also accepts numpy's one-letter codes ("f", "<d", "?") and dtype names
// ("float32"). Native orders are normalised to NativeOrder and one-byte types
// to '|'; see the package documentation. Descriptors of dtypes deltafs does
// not handle (strings, objects, datetimes, long double, unknown text) yield
// ErrUnsupportedDType.
func ParseDescr(s string) (DType, error) {
	if d, ok := typeNames[s]; ok {
		return d.normalised(NativeOrder), nil
	}
	body, order := s, byte(0)
	if len(body) > 0 && isOrderPrefix(body[0]) {
		order, body = body[0], body[1:]
	}
	d, ok := typeChars[body]
	if !ok {
		var err error
		if d, err = parseKindSize(s, body); err != nil {
			return DType{}, err
		}
	}
	switch order {
	case 0, '=', '|':
		order = NativeOrder
	}
	return d.normalised(order), nil
}

func isOrderPrefix(c byte) bool { return c == '<' || c == '>' || c == '=' || c == '|' }

// parseKindSize parses the kind letter and decimal item size of a descr body
// such as "f4" or "c16".
func parseKindSize(descr, body string) (DType, error) {
	if len(body) < 2 || len(body) > 4 {
		return DType{}, fmt.Errorf("%w: descr %q is not a scalar numeric dtype", ErrUnsupportedDType, descr)
	}
	size, err := strconv.Atoi(body[1:])
	if err != nil || body[1] == '0' || body[1] == '+' || body[1] == '-' {
		return DType{}, fmt.Errorf("%w: descr %q is not a scalar numeric dtype", ErrUnsupportedDType, descr)
	}
	if !supportedSize(body[0], size) {
		return DType{}, fmt.Errorf("%w: descr %q (kind %q, %d bytes) is not bool, int, uint, float16/32/64 or complex64/128",
			ErrUnsupportedDType, descr, body[0], size)
	}
	return DType{Kind: body[0], Size: size}, nil
}

// normalised returns d with a concrete byte order: '|' for one-byte types,
// else order.
func (d DType) normalised(order byte) DType {
	if d.Size == 1 {
		d.Order = '|'
	} else {
		d.Order = order
	}
	return d
}

// Validate reports whether d is a dtype deltafs handles, with its byte order
// in the normalised form ParseDescr returns.
func (d DType) Validate() error {
	if !supportedSize(d.Kind, d.Size) {
		return fmt.Errorf("%w: kind %q with %d bytes per element", ErrUnsupportedDType, d.Kind, d.Size)
	}
	switch {
	case d.Size == 1 && d.Order != '|':
		return fmt.Errorf("%w: one-byte dtype with byte order %q (want '|')", ErrUnsupportedDType, d.Order)
	case d.Size > 1 && d.Order != '<' && d.Order != '>':
		return fmt.Errorf("%w: %d-byte dtype with byte order %q (want '<' or '>')", ErrUnsupportedDType, d.Size, d.Order)
	}
	return nil
}

// Descr returns the descr string exactly as numpy writes it ("<f4", "|u1", "|b1").
func (d DType) Descr() string {
	return string(d.Order) + string(d.Kind) + strconv.Itoa(d.Size)
}

// String returns the descr, for messages, or a description of an invalid
// dtype.
func (d DType) String() string {
	if d.Validate() != nil {
		return fmt.Sprintf("invalid dtype (kind %q, size %d, order %q)", d.Kind, d.Size, d.Order)
	}
	return d.Descr()
}

// IsLittleEndian reports whether multi-byte elements are stored
// little-endian; one-byte types count as little-endian.
func (d DType) IsLittleEndian() bool { return d.Order != '>' }

// ByteOrder returns the encoding/binary order of the elements (little-endian
// for one-byte types).
func (d DType) ByteOrder() binary.ByteOrder {
	if d.Order == '>' {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// WithOrder returns d in the given byte order ('<' or '>'); one-byte types
// keep '|'.
func (d DType) WithOrder(order byte) DType { return d.normalised(order) }
