package analysis

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"deltafs/delta"
	"deltafs/delta/planes"
)

// Sparse run-length format (version 1), integers uvarint unless stated:
//
//	byte    version (1)
//	byte    element size E (1, 2, 4, 8 or 16)
//	uvarint N, the number of elements
//	uvarint R, the length of the run stream (R ≤ 3N + 2)
//	uvarint K, the number of literal elements (K ≤ N)
//	uvarint B, the length of the run block
//	B bytes the run block: the run stream coded by delta/planes (width 1)
//	rest    the literal block: the K·E literal bytes coded by delta/planes
//	        (width min(E, 8))
//
// The run stream is a sequence of pairs (uvarint Z, uvarint L): Z
// all-zero elements, then L literal elements taken in order from the
// literals. A pair with Z = L = 0, pairs overrunning N or leaving literals
// unused, and bytes left over are invalid. Literal bytes are copied bit for
// bit, so any value (NaN payloads, -0.0, subnormals) survives; the planes
// stage entropy-codes both streams (byte planes of the literals, so e.g.
// the zero low halves of bfloat16-in-float32 data cost nearly nothing).

const sparseVersion = 1

// sparseLevel is the planes effort used for both streams.
const sparseLevel = 6

// CompressSparse run-length codes data, a sequence of elemSize-byte
// elements: runs of all-zero elements become a count; the others are kept
// byte for byte (then entropy-coded as byte planes). It suits sparse deltas
// (XOR deltas of mostly frozen weights, or deltas where most entries are
// exactly zero). Lossless.
func CompressSparse(data []byte, elemSize int) ([]byte, error) {
	if !validElemSize(elemSize) {
		return nil, fmt.Errorf("analysis: element size %d not 1, 2, 4, 8 or 16", elemSize)
	}
	if len(data)%elemSize != 0 {
		return nil, fmt.Errorf("analysis: %d bytes are not whole %d-byte elements", len(data), elemSize)
	}
	n := len(data) / elemSize
	isZero := func(i int) bool {
		for _, b := range data[i*elemSize : (i+1)*elemSize] {
			if b != 0 {
				return false
			}
		}
		return true
	}
	var runs, lits []byte
	for i := 0; i < n; {
		z := i
		for z < n && isZero(z) {
			z++
		}
		l := z
		for l < n && !isZero(l) {
			l++
		}
		runs = binary.AppendUvarint(runs, uint64(z-i))
		runs = binary.AppendUvarint(runs, uint64(l-z))
		lits = append(lits, data[z*elemSize:l*elemSize]...)
		i = l
	}
	runBlock, err := planes.Encode(nil, runs, 1, nil, 0, sparseLevel)
	if err != nil {
		return nil, fmt.Errorf("analysis: coding runs: %w", err)
	}
	out := []byte{sparseVersion, byte(elemSize)}
	out = binary.AppendUvarint(out, uint64(n))
	out = binary.AppendUvarint(out, uint64(len(runs)))
	out = binary.AppendUvarint(out, uint64(len(lits)/elemSize))
	out = binary.AppendUvarint(out, uint64(len(runBlock)))
	out = append(out, runBlock...)
	out, err = planes.Encode(out, lits, min(elemSize, 8), nil, 0, sparseLevel)
	if err != nil {
		return nil, fmt.Errorf("analysis: coding literals: %w", err)
	}
	return out, nil
}

// DecompressSparse reverses CompressSparse. The output may not exceed
// maxSize bytes, and no allocation exceeds about four times that (a hostile
// header cannot force more); malformed input yields an error wrapping
// ErrCorrupt.
func DecompressSparse(enc []byte, maxSize int) ([]byte, error) {
	if len(enc) < 2 {
		return nil, fmt.Errorf("%w: sparse input of %d bytes", ErrCorrupt, len(enc))
	}
	if enc[0] != sparseVersion {
		return nil, fmt.Errorf("%w: sparse version %d", ErrCorrupt, enc[0])
	}
	e := int(enc[1])
	if !validElemSize(e) {
		return nil, fmt.Errorf("%w: element size %d", ErrCorrupt, e)
	}
	p := 2
	var hdr [4]uint64 // N, R, K, B
	for i := range hdr {
		v, err := readUvarint(enc, &p)
		if err != nil {
			return nil, err
		}
		hdr[i] = v
	}
	n, r, k, b := hdr[0], hdr[1], hdr[2], hdr[3]
	hi, size := bits.Mul64(n, uint64(e))
	if hi != 0 || size > uint64(maxSize) {
		return nil, fmt.Errorf("%w: %d elements of %d bytes exceed the %d-byte limit", ErrCorrupt, n, e, maxSize)
	}
	// Each varint is at most 1 + its value bytes long and the values sum
	// to N, with at most N pairs: a valid run stream has R ≤ 3N + 2.
	if k > n || r > 3*n+2 || b > uint64(len(enc)-p) {
		return nil, fmt.Errorf("%w: header (N %d, R %d, K %d, B %d) inconsistent", ErrCorrupt, n, r, k, b)
	}
	runs := make([]byte, r)
	if err := planes.Decode(runs, enc[p:p+int(b)], 1, nil, 0); err != nil {
		return nil, fmt.Errorf("%w: runs: %w", ErrCorrupt, err)
	}
	lits := make([]byte, int(k)*e)
	if err := planes.Decode(lits, enc[p+int(b):], min(e, 8), nil, 0); err != nil {
		return nil, fmt.Errorf("%w: literals: %w", ErrCorrupt, err)
	}
	out := make([]byte, size)
	var i, used uint64
	q := 0
	for i < n {
		z, err := readUvarint(runs, &q)
		if err != nil {
			return nil, err
		}
		l, err := readUvarint(runs, &q)
		if err != nil {
			return nil, err
		}
		if z == 0 && l == 0 {
			return nil, fmt.Errorf("%w: empty run at element %d", ErrCorrupt, i)
		}
		if z > n-i || l > n-i-z || l > k-used {
			return nil, fmt.Errorf("%w: run past element %d or literal %d", ErrCorrupt, n, k)
		}
		i += z
		copy(out[int(i)*e:], lits[int(used)*e:int(used+l)*e])
		i += l
		used += l
	}
	if q != len(runs) || used != k {
		return nil, fmt.Errorf("%w: %d run bytes and %d literals left over", ErrCorrupt, len(runs)-q, k-used)
	}
	return out, nil
}

// SparseDelta codes target against ref losslessly: the XOR of their bit
// patterns, run-length coded (equal elements cost nothing but their run).
func SparseDelta(target, ref delta.Tensor) ([]byte, error) {
	if err := sameShapeSize(target, ref); err != nil {
		return nil, err
	}
	x := make([]byte, len(target.Data))
	for i := range x {
		x[i] = target.Data[i] ^ ref.Data[i]
	}
	return CompressSparse(x, target.DType.Size)
}

// ApplySparseDelta rebuilds the target's data from SparseDelta's output and
// the reference; the result has exactly len(ref.Data) bytes.
func ApplySparseDelta(enc []byte, ref delta.Tensor) ([]byte, error) {
	x, err := DecompressSparse(enc, len(ref.Data))
	if err != nil {
		return nil, err
	}
	if len(x) != len(ref.Data) {
		return nil, fmt.Errorf("%w: delta of %d bytes for a %d-byte reference", ErrCorrupt, len(x), len(ref.Data))
	}
	if len(enc) >= 2 && int(enc[1]) != ref.DType.Size {
		return nil, fmt.Errorf("%w: element size %d, reference has %d", ErrCorrupt, enc[1], ref.DType.Size)
	}
	for i := range x {
		x[i] ^= ref.Data[i]
	}
	return x, nil
}

func validElemSize(e int) bool { return e == 1 || e == 2 || e == 4 || e == 8 || e == 16 }

// readUvarint reads a uvarint at *p.
func readUvarint(b []byte, p *int) (uint64, error) {
	v, n := binary.Uvarint(b[*p:])
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad varint at offset %d", ErrCorrupt, *p)
	}
	*p += n
	return v, nil
}
