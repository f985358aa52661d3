package planes

import (
	"encoding/binary"
	"math/bits"
)

// The sparse method stores a segment dominated by one byte value v as the
// positions and values of the other bytes: payload = v, uvarint k (number
// of exceptions), uvarint g (length of the gap stream), the gap stream as a
// nested segment of g bytes, the k exception values as a nested segment of k
// bytes. Gap bytes count the v bytes skipped before each exception; a gap
// byte of 255 means "255 more, no exception yet". Nested segments use the
// methods raw, const, huff0-1x and huff0-4x only. Decoding is a fill of v
// plus one store per exception, much faster than FSE on the same data.

// maxGapLen bounds the gap stream of an L-byte segment: one byte per
// exception plus one 255-escape per 255 skipped bytes.
func maxGapLen(l int) int { return l + l/255 + 1 }

// sparseSplit fills e.gaps and e.vals for seg with fill byte v. It scans 32
// bytes at a time: blocks holding only v are skipped whole, and the
// exceptions of the others are located by the trailing zeros of each 8-byte
// word XOR v; the last len(seg)%32 bytes are checked one by one.
func (e *encoder) sparseSplit(seg []byte, v byte) {
	gaps, vals := e.gaps[:0], e.vals[:0]
	next := 0 // position after the last exception
	v8 := uint64(v) * 0x0101010101010101
	i := 0
	for ; i+32 <= len(seg); i += 32 {
		w := seg[i : i+32]
		x0 := binary.LittleEndian.Uint64(w) ^ v8
		x1 := binary.LittleEndian.Uint64(w[8:]) ^ v8
		x2 := binary.LittleEndian.Uint64(w[16:]) ^ v8
		x3 := binary.LittleEndian.Uint64(w[24:]) ^ v8
		if x0|x1|x2|x3 == 0 {
			continue
		}
		for j, x := range [4]uint64{x0, x1, x2, x3} {
			for x != 0 {
				k := bits.TrailingZeros64(x) / 8
				p := i + 8*j + k
				gaps, vals = sparseAppend(gaps, vals, p-next, seg[p])
				next = p + 1
				x &^= 0xff << (8 * k)
			}
		}
	}
	for ; i < len(seg); i++ {
		if seg[i] != v {
			gaps, vals = sparseAppend(gaps, vals, i-next, seg[i])
			next = i + 1
		}
	}
	e.gaps, e.vals = gaps, vals
}

// sparseAppend appends the gap bytes of an exception b preceded by run fill
// bytes, and b itself.
func sparseAppend(gaps, vals []byte, run int, b byte) ([]byte, []byte) {
	for ; run >= 255; run -= 255 {
		gaps = append(gaps, 255)
	}
	return append(gaps, byte(run)), append(vals, b)
}

// sparseCode returns the sparse payload of seg in e.sbuf.
func (e *encoder) sparseCode(seg []byte, v byte) []byte {
	e.sparseSplit(seg, v)
	out := append(e.sbuf[:0], v)
	out = binary.AppendUvarint(out, uint64(len(e.vals)))
	out = binary.AppendUvarint(out, uint64(len(e.gaps)))
	out = e.encodeNested(out, e.gaps)
	out = e.encodeNested(out, e.vals)
	e.sbuf = out
	return out
}

// encodeNested appends a nested segment: raw, const or huff0.
func (e *encoder) encodeNested(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	st := &e.nestedStats
	st.measure(data)
	if st.distinct == 1 {
		return append(dst, byte(methodConst), data[0])
	}
	if st.entropyPays(len(data)) {
		if p, m := huffmanWith(&e.nestedHuff, data); p != nil && 1+uvarintLen(uint64(len(p)))+len(p) < 1+len(data) {
			dst = append(dst, byte(m))
			dst = binary.AppendUvarint(dst, uint64(len(p)))
			return append(dst, p...)
		}
	}
	dst = append(dst, byte(methodRaw))
	return append(dst, data...)
}

// decodeSparse fills seg from a sparse payload.
func (d *decoder) decodeSparse(seg, payload []byte) error {
	if len(payload) < 1 {
		return segError("empty sparse payload")
	}
	v := payload[0]
	in := payload[1:]
	k, n1 := binary.Uvarint(in)
	if n1 <= 0 || k > uint64(len(seg)) {
		return segError("bad sparse exception count")
	}
	in = in[n1:]
	g, n2 := binary.Uvarint(in)
	if n2 <= 0 || g > uint64(maxGapLen(len(seg))) || g < k {
		return segError("bad sparse gap length")
	}
	in = in[n2:]
	if cap(d.gaps) < int(g) {
		d.gaps = make([]byte, maxGapLen(1<<maxSegLog))
	}
	if cap(d.vals) < int(k) {
		d.vals = make([]byte, 1<<maxSegLog)
	}
	gaps, vals := d.gaps[:g:g], d.vals[:k:k]
	used, err := d.decodeNested(gaps, in)
	if err != nil {
		return err
	}
	in = in[used:]
	used, err = d.decodeNested(vals, in)
	if err != nil {
		return err
	}
	if used != len(in) {
		return segError("trailing bytes in sparse payload")
	}
	fill(seg, v)
	pos, vi := 0, 0
	for _, gap := range gaps {
		pos += int(gap)
		if gap == 255 {
			continue
		}
		if pos >= len(seg) || vi >= len(vals) {
			return segError("sparse exception beyond the segment")
		}
		seg[pos] = vals[vi]
		vi++
		pos++
	}
	if vi != len(vals) {
		return segError("sparse exceptions without positions")
	}
	return nil
}

// decodeNested decodes a nested segment (raw, const or huff0).
func (d *decoder) decodeNested(dst, in []byte) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	if len(in) < 1 {
		return 0, segError("truncated nested segment")
	}
	switch method(in[0]) {
	case methodRaw, methodConst, methodHuff1X, methodHuff4X:
		return d.decodeSegment(dst, in)
	}
	return 0, segError("method " + method(in[0]).String() + " not allowed in a nested segment")
}
