package delta

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"deltafs/npy"
)

// wordLayout describes how a dtype's data is viewed as little-endian words
// (docs/FORMAT.md §4).
type wordLayout struct {
	width     int  // W: bytes per word
	perElem   int  // words per element (2 for complex)
	float     bool // words are IEEE floats (ordered map, exponent field)
	expBits   int  // exponent field width E (0 for integers)
	mantBits  int  // mantissa field width M
	bigEndian bool // data section is big-endian: swap per word
	bf16      bool // f32 data coded as its upper 16-bit halves
}

// dtypeString formats a dtype like numpy's descr.
func dtypeString(d npy.DType) string {
	return fmt.Sprintf("%c%c%d", d.Order, d.Kind, d.Size)
}

// layoutFor returns the word layout of a dtype.
func layoutFor(d npy.DType, bf16 bool) wordLayout {
	l := wordLayout{width: d.Size, perElem: 1, bigEndian: d.Order == '>' && d.Size > 1}
	switch d.Kind {
	case 'c':
		l.width, l.perElem, l.float = d.Size/2, 2, true
	case 'f':
		l.float = true
	}
	if bf16 {
		l.width, l.bf16 = 2, true
	}
	if l.float {
		switch {
		case l.bf16:
			l.expBits = 8
		case l.width == 2:
			l.expBits = 5
		case l.width == 4:
			l.expBits = 8
		default:
			l.expBits = 11
		}
	}
	l.mantBits = 8*l.width - 1 - l.expBits
	return l
}

// asBF16Words returns l, the layout of 16-bit unsigned words, with its
// words viewed as bfloat16 (float, 8 exponent and 7 mantissa bits): how
// a bf16 tensor the store keeps as `u2` is coded (docs/FORMAT.md §4,
// bf16_words).
func (l wordLayout) asBF16Words() wordLayout {
	l.float, l.expBits, l.mantBits = true, 8, 7
	return l
}

// canBeBF16Words reports whether a dtype may carry the bf16_words flag.
func canBeBF16Words(d npy.DType) bool { return d.Kind == 'u' && d.Size == 2 }

// signBit returns the top bit of a word.
func (l wordLayout) signBit() uint64 { return 1 << (8*l.width - 1) }

// mask returns the all-ones word.
func (l wordLayout) mask() uint64 { return ^uint64(0) >> (64 - 8*l.width) }

// rawPerWord is the number of data-section bytes behind one word.
func (l wordLayout) rawPerWord() int {
	if l.bf16 {
		return 4
	}
	return l.width
}

// native reports whether the data section bytes already are the words.
func (l wordLayout) native() bool { return !l.bigEndian && !l.bf16 }

// toWords converts data-section bytes into little-endian words in dst
// (len(src)/rawPerWord × width bytes).
func (l wordLayout) toWords(dst, src []byte) {
	switch {
	case l.bf16 && l.bigEndian:
		for i, j := 0, 0; i+4 <= len(src); i, j = i+4, j+2 {
			dst[j], dst[j+1] = src[i+1], src[i]
		}
	case l.bf16:
		upperHalves(dst, src)
	case l.bigEndian:
		swapWords(dst, src, l.width)
	default:
		copy(dst, src)
	}
}

// upperHalves extracts the upper 16 bits of little-endian float32s.
func upperHalves(dst, src []byte) {
	i, j := 0, 0
	for ; i+16 <= len(src) && j+8 <= len(dst); i, j = i+16, j+8 {
		a, b := binary.LittleEndian.Uint64(src[i:]), binary.LittleEndian.Uint64(src[i+8:])
		binary.LittleEndian.PutUint64(dst[j:], a>>16&0xffff|a>>48<<16|(b>>16&0xffff)<<32|b>>48<<48)
	}
	for ; i+4 <= len(src); i, j = i+4, j+2 {
		dst[j], dst[j+1] = src[i+2], src[i+3]
	}
}

// widenHalves is the inverse of upperHalves: zero low halves.
func widenHalves(dst, src []byte) {
	i, j := 0, 0
	for ; j+8 <= len(src) && i+16 <= len(dst); i, j = i+16, j+8 {
		v := binary.LittleEndian.Uint64(src[j:])
		binary.LittleEndian.PutUint64(dst[i:], (v&0xffff)<<16|(v>>16&0xffff)<<48)
		binary.LittleEndian.PutUint64(dst[i+8:], (v>>32&0xffff)<<16|(v>>48)<<48)
	}
	for ; j+2 <= len(src); i, j = i+4, j+2 {
		dst[i], dst[i+1], dst[i+2], dst[i+3] = 0, 0, src[j], src[j+1]
	}
}

// fromWords converts little-endian words back into data-section bytes.
func (l wordLayout) fromWords(dst, src []byte) {
	switch {
	case l.bf16 && l.bigEndian:
		for i, j := 0, 0; j+2 <= len(src); i, j = i+4, j+2 {
			dst[i], dst[i+1], dst[i+2], dst[i+3] = src[j+1], src[j], 0, 0
		}
	case l.bf16:
		widenHalves(dst, src)
	case l.bigEndian:
		swapWords(dst, src, l.width)
	default:
		copy(dst, src)
	}
}

// swapWords reverses the bytes of every w-byte word (dst may equal src).
func swapWords(dst, src []byte, w int) {
	switch w {
	case 2:
		for i := 0; i+2 <= len(src); i += 2 {
			binary.LittleEndian.PutUint16(dst[i:], bits.ReverseBytes16(binary.LittleEndian.Uint16(src[i:])))
		}
	case 4:
		for i := 0; i+4 <= len(src); i += 4 {
			binary.LittleEndian.PutUint32(dst[i:], bits.ReverseBytes32(binary.LittleEndian.Uint32(src[i:])))
		}
	case 8:
		for i := 0; i+8 <= len(src); i += 8 {
			binary.LittleEndian.PutUint64(dst[i:], bits.ReverseBytes64(binary.LittleEndian.Uint64(src[i:])))
		}
	default:
		copy(dst, src)
	}
}

// isBF16Halves reports whether every float32 in data has zero low 16 bits.
func isBF16Halves(data []byte, bigEndian bool) bool {
	if !bigEndian {
		return npy.IsBF16Representable(data)
	}
	lo := 2
	for i := 0; i+4 <= len(data); i += 4 {
		if data[i+lo]|data[i+lo+1] != 0 {
			return false
		}
	}
	return true
}

// getWord reads word i of little-endian words b.
func getWord(b []byte, w, i int) uint64 {
	switch w {
	case 1:
		return uint64(b[i])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b[2*i:]))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b[4*i:]))
	default:
		return binary.LittleEndian.Uint64(b[8*i:])
	}
}

// putWord writes word i of little-endian words b.
func putWord(b []byte, w, i int, v uint64) {
	switch w {
	case 1:
		b[i] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	default:
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
}

// toPlanes transposes n w-byte words into w planes (plane k = byte k).
func toPlanes(dst, src []byte, w int) {
	n := len(src) / w
	for k := 0; k < w; k++ {
		p := dst[k*n : (k+1)*n]
		for i := range p {
			p[i] = src[i*w+k]
		}
	}
}

// fromPlanes is the inverse of toPlanes.
func fromPlanes(dst, src []byte, w int) {
	n := len(dst) / w
	for k := 0; k < w; k++ {
		p := src[k*n : (k+1)*n]
		for i, v := range p {
			dst[i*w+k] = v
		}
	}
}
