package delta

import (
	"encoding/binary"
	"fmt"
	"math"

	"deltafs/delta/planes"
)

// auto (docs/FORMAT.md §4.1): per chunk the cheapest of XOR with the
// reference, the zigzag or plain ordered difference with the reference, or
// the tensor alone, coded as byte planes with context classes from the
// reference exponent. Float chunks with a reference go through the fused
// kernels of auto_kernels.go.

// The auto chunk methods.
const (
	autoXOR    = 0
	autoDiff   = 1
	autoAlone  = 2
	autoStored = 3
	autoZigzag = 4 // zigzag of the ordered difference
)

const (
	autoNCtx       = 16
	autoHeaderSize = 3       // u8 nctx, u16 ctx_base
	autoSample     = 4096    // words sampled for the candidate estimate
	autoSampleRun  = 64      // consecutive words per sampled run
	autoSmallChunk = 1 << 14 // words up to which a chunk is also coded without classes
)

type autoCodec struct {
	// force, when non-zero, replaces the candidate choice for chunks with a
	// reference by method force−1 (tests exercise every method with it).
	force uint8
}

func (autoCodec) params() []byte { return nil }

func (a autoCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	l := e.l
	s := kernelShape{w: l.width, halves: e.halves}
	method := uint8(autoAlone)
	switch {
	case e.r != nil && a.force != 0:
		method = a.force - 1
	case e.r != nil:
		method = pickCandidate(e.t, e.r, l, s)
	}
	usesRef := method != autoAlone
	n := len(e.t) / s.raw()
	ob := getBuf(autoHeaderSize + n*l.width + n*l.width/8 + 1024)
	defer putBuf(ob)
	out := (*ob)[:autoHeaderSize]
	out[0], out[1], out[2] = 0, 0, 0
	var err error
	if usesRef && l.float {
		out, err = encodeWithClasses(out, e, s, method)
		if err == nil && n <= autoSmallChunk {
			out, err = smallerWithoutClasses(out, e, s, method)
		}
	} else {
		out, err = encodeWithoutClasses(out, e, s, method)
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("planes: %w", err)
	}
	if len(out) >= n*l.width+autoHeaderSize {
		stored := make([]byte, autoHeaderSize+n*l.width)
		if s.halves {
			upperHalves(stored[autoHeaderSize:], e.t)
		} else {
			copy(stored[autoHeaderSize:], e.t)
		}
		return stored, autoStored, false, nil
	}
	return append([]byte(nil), out...), method, usesRef, nil
}

// encodeWithClasses appends the context parameters and the plane-coded
// block of float words transformed by method against the reference, split by
// the reference's exponent classes.
func encodeWithClasses(out []byte, e *chunkEnc, s kernelShape, method uint8) ([]byte, error) {
	p := getPlan()
	defer putPlan(p)
	p.histogram(e.r, e.l, s)
	base := p.base()
	p.setBase(base)
	pb := getBuf(p.n * s.w)
	defer putBuf(pb)
	p.splitPlanes(*pb, e.t, e.r, s, method)
	out[0] = autoNCtx
	binary.LittleEndian.PutUint16(out[1:], base)
	if method == autoZigzag {
		for _, c := range p.counts {
			out = binary.AppendUvarint(out, uint64(c))
		}
	}
	return planes.EncodeSorted(out, *pb, s.w, p.counts[:], e.level)
}

// smallerWithoutClasses returns payload (a small chunk coded with context
// classes) or, when smaller, the same chunk coded without classes (nctx = 0:
// a single class): the sixteen classes' streams of a small chunk are too
// short to pay for their own entropy tables.
func smallerWithoutClasses(payload []byte, e *chunkEnc, s kernelShape, method uint8) ([]byte, error) {
	bp := getBuf(len(payload))
	defer putBuf(bp)
	head := append((*bp)[:0], 0, 0, 0)
	alt, err := encodeWithoutClasses(head, e, s, method)
	if err != nil || len(alt) >= len(payload) {
		return payload, err
	}
	*bp = alt // keep the (possibly grown) buffer pooled
	return append(payload[:0], alt...), nil
}

// encodeWithoutClasses appends the plane-coded block of the words
// transformed by method (alone: the words themselves), with no context.
func encodeWithoutClasses(out []byte, e *chunkEnc, s kernelShape, method uint8) ([]byte, error) {
	t, r := e.t, e.r
	if s.halves {
		tb, rb := halvesToWords(t), halvesToWords(r)
		defer putBuf(tb)
		defer putBuf(rb)
		t, r = bufBytes(tb), bufBytes(rb)
	}
	x := t // planes.Encode only reads its source
	if method != autoAlone {
		xb := getBuf(len(t))
		defer putBuf(xb)
		x = *xb
		switch method {
		case autoXOR:
			xorWords(x, t, r)
		case autoDiff:
			diffWords(x, t, r, e.l)
		default:
			zigzagWords(x, t, r, e.l)
		}
	}
	return planes.Encode(out, x, s.w, nil, 0, e.level)
}

// halvesToWords returns the upper halves of float32 data in a pooled buffer
// (nil for nil data).
func halvesToWords(data []byte) *[]byte {
	if data == nil {
		return nil
	}
	bp := getBuf(len(data) / 2)
	upperHalves(*bp, data)
	return bp
}

// bufBytes returns a pooled buffer's bytes (nil for nil).
func bufBytes(bp *[]byte) []byte {
	if bp == nil {
		return nil
	}
	return *bp
}

func (autoCodec) decodeChunk(d *chunkDec) error {
	l := d.l
	s := kernelShape{w: l.width, halves: d.halves}
	if len(d.payload) < autoHeaderSize {
		return fmt.Errorf("auto payload of %d bytes", len(d.payload))
	}
	nctx := int(d.payload[0])
	base := binary.LittleEndian.Uint16(d.payload[1:])
	block := d.payload[autoHeaderSize:]
	n := len(d.dst) / s.raw()
	switch {
	case d.method == autoStored:
		if nctx != 0 || base != 0 || len(block) != n*l.width {
			return fmt.Errorf("stored chunk of %d bytes, expected %d", len(block), n*l.width)
		}
		if s.halves {
			widenHalves(d.dst, block)
		} else {
			copy(d.dst, block)
		}
		return nil
	case nctx == 0 && base == 0:
		return decodeWithoutClasses(d, s, block)
	case nctx == autoNCtx && d.method != autoAlone && l.float && len(d.r) == len(d.dst):
		return decodeWithClasses(d, s, block, base)
	}
	return fmt.Errorf("invalid context parameters nctx=%d base=%d", nctx, base)
}

// decodeWithoutClasses decodes a block without context and inverts the
// chunk's transform.
func decodeWithoutClasses(d *chunkDec, s kernelShape, block []byte) error {
	dst, r := d.dst, d.r
	if s.halves {
		db := getBuf(len(d.dst) / 2)
		defer putBuf(db)
		rb := halvesToWords(r)
		defer putBuf(rb)
		dst, r = *db, bufBytes(rb)
	}
	if err := planes.Decode(dst, block, s.w, nil, 0); err != nil {
		return fmt.Errorf("planes: %w", err)
	}
	switch d.method {
	case autoXOR:
		xorWords(dst, dst, r)
	case autoDiff:
		undiffWords(dst, dst, r, d.l)
	case autoZigzag:
		unzigzagWords(dst, dst, r, d.l)
	}
	if s.halves {
		widenHalves(d.dst, dst)
	}
	return nil
}

// decodeWithClasses decodes a block split by the reference's exponent
// classes into class-sorted planes and gathers the words back, inverting the
// transform in the same pass. Method zigzag stores the class counts before
// the block, so the reference is read once; the others count the classes of
// the reference first.
func decodeWithClasses(d *chunkDec, s kernelShape, block []byte, base uint16) error {
	p := getPlan()
	defer putPlan(p)
	n := len(d.dst) / s.raw()
	if d.method == autoZigzag {
		p.init(d.l, s, n)
		rest, err := readClassCounts(p.counts[:], block, n)
		if err != nil {
			return err
		}
		block = rest
		p.setTable(base)
		p.setCursors()
	} else {
		p.histogram(d.r, d.l, s)
		p.setBase(base)
	}
	pb := getBuf((s.w + 1) * n)
	defer putBuf(pb)
	if err := planes.DecodeSorted((*pb)[:s.w*n], block, s.w, p.counts[:]); err != nil {
		return fmt.Errorf("planes: %w", err)
	}
	p.mergePlanes(d.dst, *pb, d.r, s, d.method)
	if !p.cursorsAtEnd() {
		return fmt.Errorf("the reference's exponent classes do not match the stored class counts")
	}
	return nil
}

// readClassCounts reads len(counts) uvarint class counts that must sum to
// n from the start of b and returns the rest of b.
func readClassCounts(counts []int, b []byte, n int) ([]byte, error) {
	left := n
	for c := range counts {
		v, k := binary.Uvarint(b)
		if k <= 0 || v > uint64(left) {
			return nil, fmt.Errorf("class %d count invalid or above the %d words left", c, left)
		}
		counts[c] = int(v)
		left -= int(v)
		b = b[k:]
	}
	if left != 0 {
		return nil, fmt.Errorf("class counts leave %d of %d words", left, n)
	}
	return b, nil
}

// pickCandidate estimates, from byte histograms of a sample of the words,
// which transform codes smallest: XOR, ordered difference, its zigzag, or
// the words alone. Ties go to the earlier candidate; a later one must win by
// 0.5 % (XOR is the cheapest transform, alone needs no reference). The
// sample is runs of autoSampleRun consecutive words spread evenly over the
// chunk: whole cache lines, read once.
func pickCandidate(t, r []byte, l wordLayout, s kernelShape) uint8 {
	w, rw := l.width, s.raw()
	n := len(t) / rw
	stride := max(autoSampleRun, n/(autoSample/autoSampleRun))
	candidates := [...]uint8{autoXOR, autoZigzag, autoDiff, autoAlone}
	var hist [len(candidates)][8][256]uint32
	sign := l.signBit()
	bitsW := uint(8 * w)
	samples := 0
	for run := 0; run < n; run += stride {
		for i := run; i < min(run+autoSampleRun, n); i++ {
			tv, rv := getWord(t, rw, i), getWord(r, rw, i)
			if s.halves {
				tv, rv = tv>>16, rv>>16
			}
			xv := tv ^ rv
			dv := ord64(tv, sign, l.float) - ord64(rv, sign, l.float)
			sd := int64(dv<<(64-bitsW)) >> (64 - bitsW) // sign-extended difference
			zv := uint64(sd<<1) ^ uint64(sd>>63)
			for k := 0; k < w; k++ {
				sh := 8 * k
				hist[0][k][byte(xv>>sh)]++
				hist[1][k][byte(zv>>sh)]++
				hist[2][k][byte(dv>>sh)]++
				hist[3][k][byte(tv>>sh)]++
			}
			samples++
		}
	}
	best, bestBits := uint8(autoXOR), math.Inf(1)
	for c, m := range candidates {
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
