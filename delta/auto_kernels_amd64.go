//go:build amd64 && !purego

package delta

import "golang.org/x/sys/cpu"

// AVX-512 kernels for method zigzag (auto_kernels_amd64.s), used where the
// CPU has AVX-512 F/BW/VL/VBMI/VBMI2. They take a chunk in blocks of 64
// words (the f16 gather 128): the classes of a block's words are computed
// from the reference arithmetically (the formula setTable tabulates,
// clamped to 0…15), then for each class present the gathers expand-load
// the class's next bytes of each plane into the lanes of its words,
// interleave the plane bytes into words and invert the zigzag transform
// lane-wise; the scatters transform the words, split them into plane
// bytes and compress each class's lanes to a masked store at its cursor.
// An expand-load reads only as many bytes as its mask has lanes, the bytes
// the pure-Go loops read, so the slack argument of auto_kernels.go holds
// unchanged; gatherZigFast checks it before the call. The pure-Go loops do
// the words after the last whole block, and everything on other CPUs.

// useAVX512 selects the AVX-512 kernels; tests switch it off to run the
// pure-Go loops on the same inputs.
var useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL &&
	cpu.X86.HasAVX512VBMI && cpu.X86.HasAVX512VBMI2 && cpu.X86.HasPOPCNT && cpu.X86.HasBMI1 && cpu.X86.HasBMI2

// avxTables holds the constant vectors of the kernels.
type avxTables struct {
	splat  [16][64]byte // splat[c]: every byte c, compared against the classes
	even   [64]byte     // bytes 0, 2, …, 126: the low bytes of 64 words in two vectors
	ilvA   [64]byte     // words 0…31 from a vector of low and one of high bytes
	ilvB   [64]byte     // words 32…63, likewise
	upper  [64]byte     // the upper halves of 32 float32 in two vectors
	sprA   [64]byte     // words 0…15 into the upper halves of float32, zero lower halves
	sprB   [64]byte     // words 16…31, likewise
	every4 [64]byte     // bytes 0, 4, …, 124 of two vectors (32 bytes, the rest unused)
	dwA    [64]byte     // dwords 0…15 from two vectors of 16-bit pairs
	dwB    [64]byte     // dwords 16…31, likewise
	odd    [64]byte     // bytes 1, 3, …, 127: the high bytes of 64 words in two vectors
	b01    [64]byte     // bytes 0 then 1 of 32 dwords in two vectors
	b23    [64]byte     // bytes 2 then 3, likewise
}

var avxTab = func() *avxTables {
	t := new(avxTables)
	for c := range t.splat {
		for i := range t.splat[c] {
			t.splat[c][i] = byte(c)
		}
	}
	for i := range 64 {
		t.even[i] = byte(2 * i)
		t.ilvA[i] = byte(i/2 + i%2*64)
		t.ilvB[i] = byte(32 + i/2 + i%2*64)
		t.upper[i] = byte(4*(i/2) + 2 + i%2)
		t.every4[i] = byte(4 * i % 128)
		t.odd[i] = byte(2*i + 1)
		t.b01[i] = byte(4*(i%32) + i/32)
		t.b23[i] = byte(4*(i%32) + 2 + i/32)
		j, k := i/4, i%4
		if k < 2 {
			t.sprA[i], t.sprB[i] = 64, 64
			t.dwA[i], t.dwB[i] = byte(2*j+k), byte(2*(j+16)+k)
		} else {
			t.sprA[i], t.sprB[i] = byte(2*j+k-2), byte(2*(j+16)+k-2)
			t.dwA[i], t.dwB[i] = byte(64+2*j+k-2), byte(64+2*(j+16)+k-2)
		}
	}
	return t
}()

// The kernels gather len(d)/(64·raw bytes) blocks (gatherZig16AVX512:
// len(d)/256 blocks of 128 words). Plane k starts at pk;
// cur holds the class cursors, mant is the mantissa bits of a word and bm1
// is ctx_base − 1, both as the word (or, for halves, its upper half) sees
// them.

// gatherZig16AVX512 also negates the differences of the words whose bit
// is set in the mask at sgn (method zigzag_signs), 16 bytes a block,
// advancing by sgnStep bytes a block (0 with the zero mask noSigns).
//
//go:noescape
func gatherZig16AVX512(d, r []byte, p0, p1 *byte, cur *[256]uint32, mant uint64, bm1 int64, tab *avxTables, sgn *byte, sgnStep int)

// noSigns is the mask of a block without sign flips.
var noSigns [16]byte

//go:noescape
func gatherZigHalvesAVX512(d, r []byte, p0, p1 *byte, cur *[256]uint32, mant uint64, bm1 int64, tab *avxTables)

// gatherZig32AVX512 reads plane k at p0 + k·stride.
//
//go:noescape
func gatherZig32AVX512(d, r []byte, p0 *byte, stride int, cur *[256]uint32, mant uint64, bm1 int64, tab *avxTables)

// avxCursors are the class cursors of the scatter kernels and where each
// class's range ends.
type avxCursors struct {
	cur, end [autoNCtx]uint32
}

// The scatter kernels split len(t)/(64·raw bytes) blocks and return the
// bytes of t done: fewer only if a class would run past its end.

// scatterZig16AVX512 negates the differences of the words whose bit is set
// in the mask at sgn before their zigzag, 8 bytes a block, advancing by
// sgnStep bytes a block (0 with noSigns).
//
//go:noescape
func scatterZig16AVX512(t, r []byte, p0, p1 *byte, cur *avxCursors, mant uint64, bm1 int64, tab *avxTables, sgn *byte, sgnStep int) (done int)

//go:noescape
func scatterZigHalvesAVX512(t, r []byte, p0, p1 *byte, cur *avxCursors, mant uint64, bm1 int64, tab *avxTables) (done int)

//go:noescape
func scatterZig32AVX512(t, r []byte, p0 *byte, stride int, cur *avxCursors, mant uint64, bm1 int64, tab *avxTables) (done int)

// gatherZigFast gathers the leading whole blocks of dst (method zigzag)
// with the AVX-512 kernels when they are enabled, and returns the bytes
// of dst done. pl is the planes buffer of mergePlanes.
func (p *classPlan) gatherZigFast(dst, pl, r []byte, s kernelShape, sgn []byte) int {
	if !useAVX512 || sgn != nil && (s.w != 2 || s.halves) {
		return 0
	}
	rw := s.raw()
	block := avxBlock * rw
	if s.w == 2 && !s.halves {
		block *= 2 // gatherZig16AVX512 takes 128 words a step
	}
	done := len(dst) / block * block
	words := done / rw
	n := p.n
	if words == 0 || len(pl) < (s.w+1)*n || len(r) < done {
		return 0
	}
	// Every cursor starts within the n words and moves by at most the
	// words gathered, so it stays below 2n: the bytes of plane k read lie
	// in pl[k·n : (k+2)·n]. Checked here, cheaply, since the assembly
	// has no bounds checks.
	for c := range autoNCtx {
		if uint64(p.cur[c])+uint64(words) > 2*uint64(n) {
			return 0
		}
	}
	mant := p.shift + p.expAt // mantissa bits of the raw word
	b := min(int64(p.ctxBase), int64(1)<<p.expE) - 1
	switch {
	case s.halves:
		gatherZigHalvesAVX512(dst[:done], r[:done], &pl[0], &pl[n], &p.cur, uint64(mant-16), b, avxTab)
	case s.w == 2 && sgn != nil:
		if len(sgn) < done/16 {
			return 0
		}
		gatherZig16AVX512(dst[:done], r[:done], &pl[0], &pl[n], &p.cur, uint64(mant), b, avxTab, &sgn[0], 16)
	case s.w == 2:
		gatherZig16AVX512(dst[:done], r[:done], &pl[0], &pl[n], &p.cur, uint64(mant), b, avxTab, &noSigns[0], 0)
	default:
		gatherZig32AVX512(dst[:done], r[:done], &pl[0], n, &p.cur, uint64(mant), b, avxTab)
	}
	return done
}

// scatterZigFast splits the leading whole blocks of t (method zigzag) into
// the planes pl (plane k at pl[k·n:(k+1)·n]) with the AVX-512 kernels when
// they are enabled, and returns the bytes of t done. The class counts come
// from the reference's own histogram, so no class overruns its range; the
// kernels still check every store against its class's end, since they have
// no bounds checks, and stop before one that would overrun. The pure-Go
// loops, bounds-checked, then take over from there (the planes are then
// wrong, as they would be with the pure-Go loops alone).
func (p *classPlan) scatterZigFast(pl, t, r []byte, s kernelShape, sgn []byte) int {
	if !useAVX512 || sgn != nil && (s.w != 2 || s.halves) {
		return 0
	}
	rw := s.raw()
	done := len(t) / (avxBlock * rw) * (avxBlock * rw)
	n := p.n
	if done == 0 || len(pl) < s.w*n || len(r) < done {
		return 0
	}
	var c avxCursors
	copy(c.cur[:], p.cur[:autoNCtx])
	c.end = p.end
	mant := p.shift + p.expAt
	b := min(int64(p.ctxBase), int64(1)<<p.expE) - 1
	switch {
	case s.halves:
		done = scatterZigHalvesAVX512(t[:done], r[:done], &pl[0], &pl[n], &c, uint64(mant-16), b, avxTab)
	case s.w == 2 && sgn != nil:
		if len(sgn) < done/16 {
			return 0
		}
		done = scatterZig16AVX512(t[:done], r[:done], &pl[0], &pl[n], &c, uint64(mant), b, avxTab, &sgn[0], 8)
	case s.w == 2:
		done = scatterZig16AVX512(t[:done], r[:done], &pl[0], &pl[n], &c, uint64(mant), b, avxTab, &noSigns[0], 0)
	default:
		done = scatterZig32AVX512(t[:done], r[:done], &pl[0], n, &c, uint64(mant), b, avxTab)
	}
	copy(p.cur[:autoNCtx], c.cur[:])
	return done
}
