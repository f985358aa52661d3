package delta

import (
	"encoding/binary"
	"fmt"
	"math"

	"deltafs/delta/planes"
)

// auto (docs/FORMAT.md §4.1): per chunk the cheapest of XOR with the
// reference, ordered difference with the reference, or the tensor alone,
// coded as byte planes with context classes from the reference exponent.

// The auto chunk methods.
const (
	autoXOR    = 0
	autoDiff   = 1
	autoAlone  = 2
	autoStored = 3
)

const (
	autoNCtx       = 16
	autoHeaderSize = 3    // u8 nctx, u16 ctx_base
	autoSample     = 8192 // words sampled for the candidate estimate
)

type autoCodec struct{}

func (autoCodec) params() []byte { return nil }

func (autoCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	l := e.l
	method := uint8(autoAlone)
	if e.r != nil {
		method = pickCandidate(e.t, e.r, l)
	}
	usesRef := method != autoAlone
	xb := getBuf(len(e.t))
	defer putBuf(xb)
	x := *xb
	var ref []byte
	switch method {
	case autoXOR:
		xorWords(x, e.t, e.r)
		ref = e.r
	case autoDiff:
		diffWords(x, e.t, e.r, l)
		ref = e.r
	default:
		x = e.t // planes.Encode only reads its source
	}
	ob := getBuf(autoHeaderSize + len(x) + len(x)/8 + 1024)
	defer putBuf(ob)
	out := (*ob)[:autoHeaderSize]
	out[0], out[1], out[2] = 0, 0, 0
	var ctx []byte
	nctx := 0
	if ref != nil && l.float {
		base := ctxBase(ref, l)
		cb := getBuf(len(x) / l.width)
		defer putBuf(cb)
		ctx = *cb
		contextClasses(ctx, ref, l, base)
		nctx = autoNCtx
		out[0] = byte(nctx)
		binary.LittleEndian.PutUint16(out[1:], base)
	}
	out, err := planes.Encode(out, x, l.width, ctx, nctx, e.level)
	if err != nil {
		return nil, 0, false, fmt.Errorf("planes: %w", err)
	}
	if len(out) >= len(x)+autoHeaderSize {
		stored := make([]byte, autoHeaderSize, autoHeaderSize+len(e.t))
		return append(stored, e.t...), autoStored, false, nil
	}
	return append([]byte(nil), out...), method, usesRef, nil
}

func (autoCodec) decodeChunk(d *chunkDec) error {
	l := d.l
	if len(d.payload) < autoHeaderSize {
		return fmt.Errorf("auto payload of %d bytes", len(d.payload))
	}
	nctx := int(d.payload[0])
	base := binary.LittleEndian.Uint16(d.payload[1:])
	block := d.payload[autoHeaderSize:]
	if d.method == autoStored {
		if nctx != 0 || base != 0 || len(block) != len(d.dst) {
			return fmt.Errorf("stored chunk of %d bytes, expected %d", len(block), len(d.dst))
		}
		copy(d.dst, block)
		return nil
	}
	var ctx []byte
	switch {
	case nctx == 0 && base == 0:
	case nctx == autoNCtx && d.method != autoAlone && l.float && len(d.r) == len(d.dst):
		cb := getBuf(d.words())
		defer putBuf(cb)
		ctx = *cb
		contextClasses(ctx, d.r, l, base)
	default:
		return fmt.Errorf("invalid context parameters nctx=%d base=%d", nctx, base)
	}
	if err := planes.Decode(d.dst, block, l.width, ctx, nctx); err != nil {
		return fmt.Errorf("planes: %w", err)
	}
	switch d.method {
	case autoXOR:
		xorWords(d.dst, d.dst, d.r)
	case autoDiff:
		undiffWords(d.dst, d.dst, d.r, l)
	}
	return nil
}

// ctxBase picks the exponent of class 1 so that the 15 largest finite
// exponents of the reference get a class each.
func ctxBase(r []byte, l wordLayout) uint16 {
	var seen [2048]bool // exponents present; 11 exponent bits at most
	n := len(r) / l.width
	switch {
	case l.width == 2 && l.expBits == 5:
		for i := 0; i < n; i++ {
			seen[binary.LittleEndian.Uint16(r[2*i:])>>10&0x1f] = true
		}
	case l.width == 2:
		for i := 0; i < n; i++ {
			seen[binary.LittleEndian.Uint16(r[2*i:])>>7&0xff] = true
		}
	case l.width == 4:
		for i := 0; i < n; i++ {
			seen[binary.LittleEndian.Uint32(r[4*i:])>>23&0xff] = true
		}
	default:
		for i := 0; i < n; i++ {
			seen[binary.LittleEndian.Uint64(r[8*i:])>>52&0x7ff] = true
		}
	}
	maxE := 0
	for e := 1<<l.expBits - 2; e > 0; e-- { // all-ones (inf/NaN) excluded
		if seen[e] {
			maxE = e
			break
		}
	}
	if maxE < autoNCtx-2 {
		return 0
	}
	return uint16(maxE - (autoNCtx - 2))
}

// contextClasses sets ctx[i] from the exponent of reference word i.
func contextClasses(ctx, r []byte, l wordLayout, base uint16) {
	var table [2048]byte // exponent → class; 11 exponent bits at most
	for e := range 1 << l.expBits {
		if e >= int(base) {
			table[e] = byte(min(autoNCtx-1, e-int(base)+1))
		}
	}
	switch {
	case l.width == 2 && l.expBits == 5:
		r = r[:2*len(ctx)]
		for i := range ctx {
			ctx[i] = table[binary.LittleEndian.Uint16(r[2*i:])>>10&0x1f]
		}
	case l.width == 2:
		r = r[:2*len(ctx)]
		for i := range ctx {
			ctx[i] = table[binary.LittleEndian.Uint16(r[2*i:])>>7&0xff]
		}
	case l.width == 4:
		r = r[:4*len(ctx)]
		for i := range ctx {
			ctx[i] = table[binary.LittleEndian.Uint32(r[4*i:])>>23&0xff]
		}
	default:
		r = r[:8*len(ctx)]
		for i := range ctx {
			ctx[i] = table[binary.LittleEndian.Uint64(r[8*i:])>>52&0x7ff]
		}
	}
}

// pickCandidate estimates, from byte histograms of a sample of the words,
// which transform codes smallest: XOR, ordered difference or alone.
func pickCandidate(t, r []byte, l wordLayout) uint8 {
	w := l.width
	n := len(t) / w
	stride := max(1, n/autoSample)
	var hist [3][8][256]uint32
	sign := l.signBit()
	samples := 0
	for i := 0; i < n; i += stride {
		tv, rv := getWord(t, w, i), getWord(r, w, i)
		xv := tv ^ rv
		dv := ord64(tv, sign, l.float) - ord64(rv, sign, l.float)
		for k := 0; k < w; k++ {
			sh := 8 * k
			hist[0][k][byte(xv>>sh)]++
			hist[1][k][byte(dv>>sh)]++
			hist[2][k][byte(tv>>sh)]++
		}
		samples++
	}
	best, bestBits := uint8(autoXOR), math.Inf(1)
	for c, m := range []uint8{autoXOR, autoDiff, autoAlone} {
		bitsSum := 0.0
		for k := 0; k < w; k++ {
			bitsSum += entropyBits(&hist[c][k], samples)
		}
		if bitsSum < bestBits*0.995 || (m == autoXOR && bitsSum < bestBits) {
			best, bestBits = m, bitsSum
		}
	}
	return best
}

// entropyBits returns the order-0 entropy of a histogram, in bits total.
func entropyBits(h *[256]uint32, n int) float64 {
	if n == 0 {
		return 0
	}
	total := float64(n)
	s := 0.0
	for _, c := range h {
		if c != 0 {
			f := float64(c)
			s -= f * math.Log2(f/total)
		}
	}
	return s
}
