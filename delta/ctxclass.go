package delta

import (
	"encoding/binary"
	"sync"
)

// Context classes of auto (docs/FORMAT.md §4.1): each float word's class
// comes from the exponent of the reference word at the same position. A
// classPlan turns a chunk's reference into the class counts the planes
// coder needs and the cursors that split and merge the words in
// class-sorted order, without storing a class per word: the kernels look
// each class up again from the reference word they read anyway.

// maxSignExp bounds sign|exponent (the bits above the mantissa) of any
// float word: 1 + 11 bits for float64.
const maxSignExp = 1 << 12

// kernelShape says how a chunk's data holds its words.
type kernelShape struct {
	w      int  // word width W in bytes
	halves bool // bf16_halves: the data are little-endian float32 whose upper halves are the words
}

// raw is the number of data bytes per word.
func (s kernelShape) raw() int {
	if s.halves {
		return 4
	}
	return s.w
}

// classPlan is the class bookkeeping of one chunk. Classes are looked up
// by a table index: the raw reference word shifted right by a constant per
// word width (tabShift), which keeps sign|exponent and, for float16, a few
// mantissa bits the table ignores; constant shifts keep the kernels cheap.
type classPlan struct {
	hist    [4][maxSignExp]uint32 // words per table index, four sub-histograms
	table   [maxSignExp]uint8     // table index → class
	counts  [autoNCtx]int         // words per class
	cur     [256]uint32           // per class: next class-sorted position
	end     [autoNCtx]uint32      // per class: where its range ends
	n       int                   // words
	shift   uint                  // tabShift: raw word >> shift = table index
	span    int                   // table indices: 1 << (8·raw bytes − shift)
	expAt   uint                  // index >> expAt = sign|exponent
	expE    int                   // exponent bits E
	ctxBase uint16                // ctx_base the table was set for
}

// tabShift returns the constant shift from a raw word to its table index:
// 16-bit words keep their top 9 bits, 32-bit words (and float32 holding
// bf16 halves) their top 9 (sign and 8 exponent bits), 64-bit words their
// top 12.
func tabShift(rawWidth int) uint {
	switch rawWidth {
	case 2:
		return 7
	case 4:
		return 23
	}
	return 52
}

var planPool = sync.Pool{New: func() any { return new(classPlan) }}

func getPlan() *classPlan  { return planPool.Get().(*classPlan) }
func putPlan(p *classPlan) { planPool.Put(p) }

// init prepares p for a chunk of n float words of layout l held as shape s.
func (p *classPlan) init(l wordLayout, s kernelShape, n int) {
	rw := s.raw()
	p.n = n
	p.shift = tabShift(rw)
	mant := uint(l.mantBits)
	if s.halves {
		mant += 16
	}
	p.expAt = mant - p.shift
	p.expE = l.expBits
	p.span = 1 << (8*uint(rw) - p.shift)
}

// histogram initialises p for the reference words in r (float words of
// layout l, held as shape s) and counts their table indices.
func (p *classPlan) histogram(r []byte, l wordLayout, s kernelShape) {
	rw := s.raw()
	p.init(l, s, len(r)/rw)
	for k := range p.hist {
		clear(p.hist[k][:p.span])
	}
	h0, h1, h2, h3 := &p.hist[0], &p.hist[1], &p.hist[2], &p.hist[3]
	r = r[:p.n*rw]
	i := 0
	switch rw {
	case 2:
		for ; i+8 <= len(r); i += 8 {
			v := binary.LittleEndian.Uint64(r[i:])
			h0[v>>7&511]++
			h1[v>>23&511]++
			h2[v>>39&511]++
			h3[v>>55&511]++
		}
	case 4:
		for ; i+16 <= len(r); i += 16 {
			v, u := binary.LittleEndian.Uint64(r[i:]), binary.LittleEndian.Uint64(r[i+8:])
			h0[v>>23&511]++
			h1[v>>55&511]++
			h2[u>>23&511]++
			h3[u>>55&511]++
		}
	default:
		for ; i+32 <= len(r); i += 32 {
			h0[binary.LittleEndian.Uint64(r[i:])>>52]++
			h1[binary.LittleEndian.Uint64(r[i+8:])>>52]++
			h2[binary.LittleEndian.Uint64(r[i+16:])>>52]++
			h3[binary.LittleEndian.Uint64(r[i+24:])>>52]++
		}
	}
	for ; i < len(r); i += rw {
		h0[getWord(r[i:], rw, 0)>>p.shift&(maxSignExp-1)]++
	}
}

// base picks ctx_base so that the 15 largest finite exponents present in
// the histogram get a class each (the rule of docs/FORMAT.md §4.1).
func (p *classPlan) base() uint16 {
	expMask := 1<<p.expE - 1
	maxE := 0
	for v := range p.span {
		e := v >> p.expAt & expMask
		if e == expMask || e <= maxE { // all-ones (inf/NaN) excluded
			continue
		}
		if p.hist[0][v]|p.hist[1][v]|p.hist[2][v]|p.hist[3][v] != 0 {
			maxE = e
		}
	}
	if maxE < autoNCtx-2 {
		return 0
	}
	return uint16(maxE - (autoNCtx - 2))
}

// setBase fills the class table for ctx_base b and, from the histogram,
// the class counts and the cursors of the class-sorted order.
func (p *classPlan) setBase(b uint16) {
	p.setTable(b)
	clear(p.counts[:])
	for k := range p.hist {
		for v, cnt := range p.hist[k][:p.span] {
			p.counts[p.table[v]] += int(cnt)
		}
	}
	p.setCursors()
}

// setTable fills the class table for ctx_base b.
func (p *classPlan) setTable(b uint16) {
	p.ctxBase = b
	expMask := 1<<p.expE - 1
	for v := range p.span {
		e := v >> p.expAt & expMask
		c := 0
		if e >= int(b) {
			c = min(autoNCtx-1, e-int(b)+1)
		}
		p.table[v] = uint8(c)
	}
}

// setCursors starts every class's cursor where the class begins in the
// class-sorted order given by counts.
func (p *classPlan) setCursors() {
	off := uint32(0)
	for c, cnt := range p.counts {
		p.cur[c] = off
		off += uint32(cnt)
		p.end[c] = off
	}
}

// cursorsAtEnd reports whether every class's cursor reached its class's end:
// after a merge it holds exactly when the reference's classes have the
// counts the cursors were set from.
func (p *classPlan) cursorsAtEnd() bool {
	for c := range p.counts {
		if p.cur[c] != p.end[c] {
			return false
		}
	}
	return true
}
