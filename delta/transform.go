package delta

import "encoding/binary"

// The two bit-exact word transforms of docs/FORMAT.md §4: XOR and the
// ordered difference. A nil reference means all-zero reference words.

// xorWords sets dst = a XOR b (b nil: dst = a). dst may alias a.
func xorWords(dst, a, b []byte) {
	if b == nil {
		copy(dst, a)
		return
	}
	i := 0
	for ; i+8 <= len(a); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(a[i:])^binary.LittleEndian.Uint64(b[i:]))
	}
	for ; i < len(a); i++ {
		dst[i] = a[i] ^ b[i]
	}
}

// ord maps a float bit pattern to an integer of the same order; identity
// for integers.
func ord64(v uint64, sign uint64, float bool) uint64 {
	if !float {
		return v
	}
	if v&sign != 0 {
		return ^v
	}
	return v | sign
}

func unord64(y uint64, sign uint64, float bool) uint64 {
	if !float {
		return y
	}
	if y&sign != 0 {
		return y &^ sign
	}
	return ^y
}

// diffWords sets dst = ord(t) - ord(r) per word (r nil: zero words).
func diffWords(dst, t, r []byte, l wordLayout) {
	f := l.float
	switch l.width {
	case 1:
		for i := range t {
			var rv uint8
			if r != nil {
				rv = r[i]
			}
			dst[i] = uint8(ord64(uint64(t[i]), 0x80, f) - ord64(uint64(rv), 0x80, f))
		}
	case 2:
		for i := 0; i+2 <= len(t); i += 2 {
			var rv uint16
			if r != nil {
				rv = binary.LittleEndian.Uint16(r[i:])
			}
			binary.LittleEndian.PutUint16(dst[i:], ord16(binary.LittleEndian.Uint16(t[i:]), f)-ord16(rv, f))
		}
	case 4:
		for i := 0; i+4 <= len(t); i += 4 {
			var rv uint32
			if r != nil {
				rv = binary.LittleEndian.Uint32(r[i:])
			}
			binary.LittleEndian.PutUint32(dst[i:], ord32(binary.LittleEndian.Uint32(t[i:]), f)-ord32(rv, f))
		}
	case 8:
		for i := 0; i+8 <= len(t); i += 8 {
			var rv uint64
			if r != nil {
				rv = binary.LittleEndian.Uint64(r[i:])
			}
			binary.LittleEndian.PutUint64(dst[i:], ord64(binary.LittleEndian.Uint64(t[i:]), 1<<63, f)-ord64(rv, 1<<63, f))
		}
	}
}

// undiffWords is the inverse of diffWords: dst = unord(d + ord(r)). dst may
// alias d.
func undiffWords(dst, d, r []byte, l wordLayout) {
	f := l.float
	switch l.width {
	case 1:
		for i := range d {
			var rv uint8
			if r != nil {
				rv = r[i]
			}
			dst[i] = uint8(unord64(uint64(uint8(uint64(d[i])+ord64(uint64(rv), 0x80, f))), 0x80, f))
		}
	case 2:
		for i := 0; i+2 <= len(d); i += 2 {
			var rv uint16
			if r != nil {
				rv = binary.LittleEndian.Uint16(r[i:])
			}
			binary.LittleEndian.PutUint16(dst[i:], unord16(binary.LittleEndian.Uint16(d[i:])+ord16(rv, f), f))
		}
	case 4:
		for i := 0; i+4 <= len(d); i += 4 {
			var rv uint32
			if r != nil {
				rv = binary.LittleEndian.Uint32(r[i:])
			}
			binary.LittleEndian.PutUint32(dst[i:], unord32(binary.LittleEndian.Uint32(d[i:])+ord32(rv, f), f))
		}
	case 8:
		for i := 0; i+8 <= len(d); i += 8 {
			var rv uint64
			if r != nil {
				rv = binary.LittleEndian.Uint64(r[i:])
			}
			binary.LittleEndian.PutUint64(dst[i:], unord64(binary.LittleEndian.Uint64(d[i:])+ord64(rv, 1<<63, f), 1<<63, f))
		}
	}
}

func ord16(v uint16, f bool) uint16 {
	if !f {
		return v
	}
	if v&0x8000 != 0 {
		return ^v
	}
	return v | 0x8000
}

func unord16(y uint16, f bool) uint16 {
	if !f {
		return y
	}
	if y&0x8000 != 0 {
		return y &^ 0x8000
	}
	return ^y
}

func ord32(v uint32, f bool) uint32 {
	if !f {
		return v
	}
	if v&0x80000000 != 0 {
		return ^v
	}
	return v | 0x80000000
}

func unord32(y uint32, f bool) uint32 {
	if !f {
		return y
	}
	if y&0x80000000 != 0 {
		return y &^ 0x80000000
	}
	return ^y
}

// Branchless ordered map of float64 words and the zigzag map of a
// difference (docs/FORMAT.md §4: the zigzag of the ordered difference d is
// (d << 1) ⊕ (d >> 8W−1), the shift arithmetic on the signed word); swar.go
// has the 16- and 32-bit forms.

func ordF64(v uint64) uint64   { return v ^ (uint64(int64(v)>>63) | 1<<63) }
func unordF64(y uint64) uint64 { return y ^ (uint64(int64(^y)>>63) | 1<<63) }
func zig64(d uint64) uint64    { return d<<1 ^ uint64(int64(d)>>63) }
func unzig64(z uint64) uint64  { return z>>1 ^ -(z & 1) }

// zigzagWords sets dst = zigzag(ord(t) − ord(r)) per word (r nil: zero
// words). dst may alias t.
func zigzagWords(dst, t, r []byte, l wordLayout) {
	diffWords(dst, t, r, l)
	w := l.width
	for i := 0; i+w <= len(dst); i += w {
		v := getWord(dst, w, i/w)
		sh := uint(64 - 8*w)
		putWord(dst, w, i/w, uint64(int64(v<<sh)>>sh)<<1^uint64(int64(v<<sh)>>63))
	}
}

// unzigzagWords is the inverse of zigzagWords: dst = unord(unzigzag(z) +
// ord(r)). dst may alias z.
func unzigzagWords(dst, z, r []byte, l wordLayout) {
	w := l.width
	for i := 0; i+w <= len(z); i += w {
		putWord(dst, w, i/w, unzig64(getWord(z, w, i/w)))
	}
	undiffWords(dst, dst, r, l)
}
