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
	// autoZigzagSigns is zigzag with the differences negated by a rank-1
	// sign pattern (signflip.go), for 16-bit float words.
	autoZigzagSigns = 5
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
	// cols is the tensor's row length in words (its innermost dimension in
	// memory; 0 for tensors of fewer than two dimensions): the frame of the
	// sign patterns of method zigzag_signs.
	cols int64
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
	var sp *signPattern
	switch {
	case method == autoZigzagSigns: // forced
		fit, _ := fitSigns(a.frame(e, n, false))
		sp = &fit
	case method == autoZigzag && a.signable(e, s, n):
		// Like the candidate choice, by estimate, and only where the
		// estimate pays for the flips' decode cost (signPays).
		if fit, gain := fitSigns(a.frame(e, n, true)); signPays(gain, n) {
			sp, method = &fit, autoZigzagSigns
		}
	}
	var err error
	if sp != nil {
		out, err = encodeSigned(out, e, s, sp)
	} else {
		out, err = encodeMethod(out, e, s, method)
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

// encodeMethod appends the chunk's block coded by method: float words with
// a reference split by context classes (small chunks without them when
// smaller), the others without classes.
func encodeMethod(out []byte, e *chunkEnc, s kernelShape, method uint8) ([]byte, error) {
	if method == autoAlone || !e.l.float {
		return encodeWithoutClasses(out, e, s, method)
	}
	out, err := encodeWithClasses(out, e, s, method)
	if err == nil && len(e.t)/s.raw() <= autoSmallChunk {
		out, err = smallerWithoutClasses(out, e, s, method)
	}
	return out, err
}

// signable reports whether a chunk of n words is tried with method
// zigzag_signs: 16-bit float words of a tensor of two or more dimensions,
// enough of them to pay for the side bits.
func (a autoCodec) signable(e *chunkEnc, s kernelShape, n int) bool {
	if !autoSignFlips || a.cols <= 0 || !e.l.float || s.w != 2 || s.halves || n < signMinWords {
		return false
	}
	_, full := fullRows(int(min(a.cols, int64(n))), int(e.first%a.cols), n)
	return full >= signMinRows
}

// frame returns the arguments of fitSigns: the chunk's words, the row
// length and the first word's column of its sign pattern (the tensor's
// rows, or one row when the codec has none), and quick.
func (a autoCodec) frame(e *chunkEnc, n int, quick bool) (t, r []byte, cols, phase int, q bool) {
	if a.cols <= 0 {
		return e.t, e.r, max(n, 1), 0, quick
	}
	return e.t, e.r, int(a.cols), int(e.first % a.cols), quick
}

// encodeSigned appends, after out's auto header, the sign section of sp and
// the zigzag block of the target with its differences negated by sp, and
// fills the header.
func encodeSigned(out []byte, e *chunkEnc, s kernelShape, sp *signPattern) ([]byte, error) {
	n := len(e.t) / 2
	mb := getBuf(maskBytes(n))
	defer putBuf(mb)
	sp.fillMask(*mb, n)
	flipped := *e
	flipped.sgn = *mb // negated in the scatter (or a flipped copy)
	hb := getBuf(len(e.t) + 1024)
	defer putBuf(hb)
	block, err := encodeMethod(append((*hb)[:0], 0, 0, 0), &flipped, s, autoZigzag)
	if err != nil {
		return nil, err
	}
	*hb = block
	out = append(out[:0], block[:autoHeaderSize]...)
	out = sp.appendSigns(out)
	return append(out, block[autoHeaderSize:]...), nil
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
	p.splitPlanes(*pb, e.t, e.r, s, method, e.sgn)
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
	if e.sgn != nil {
		fb := getBuf(len(t))
		defer putBuf(fb)
		flipDiffs16(*fb, t, r, e.sgn, 0)
		t = *fb
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
	case d.method == autoZigzagSigns:
		return decodeSigned(d, s, block, nctx, base)
	}
	return decodeBlock(d, s, block, nctx, base, nil)
}

// decodeBlock decodes a block with or without context classes; sgn, when
// set, is the word mask of the differences to negate (method
// zigzag_signs, decoded as zigzag).
func decodeBlock(d *chunkDec, s kernelShape, block []byte, nctx int, base uint16, sgn []byte) error {
	switch {
	case nctx == 0 && base == 0:
		return decodeWithoutClasses(d, s, block, sgn)
	case nctx == autoNCtx && d.method != autoAlone && d.l.float && len(d.r) == len(d.dst):
		return decodeWithClasses(d, s, block, base, sgn)
	}
	return fmt.Errorf("invalid context parameters nctx=%d base=%d", nctx, base)
}

// decodeSigned reads the sign section of a zigzag_signs chunk and decodes
// the rest of its block as zigzag, negating the differences the pattern
// selects.
func decodeSigned(d *chunkDec, s kernelShape, block []byte, nctx int, base uint16) error {
	if !d.l.float || s.w != 2 || s.halves || len(d.r) != len(d.dst) {
		return fmt.Errorf("method %d needs 16-bit float words and the reference", d.method)
	}
	n := len(d.dst) / 2
	sp, rest, err := parseSigns(block, n)
	if err != nil {
		return err
	}
	mb := getBuf(maskBytes(n))
	defer putBuf(mb)
	sp.fillMask(*mb, n)
	zig := *d
	zig.method = autoZigzag
	return decodeBlock(&zig, s, rest, nctx, base, *mb)
}

// decodeWithoutClasses decodes a block without context and inverts the
// chunk's transform (and, with sgn, negates the selected differences).
func decodeWithoutClasses(d *chunkDec, s kernelShape, block []byte, sgn []byte) error {
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
		if sgn != nil {
			flipDiffs16(dst, dst, r, sgn, 0)
		}
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
func decodeWithClasses(d *chunkDec, s kernelShape, block []byte, base uint16, sgn []byte) error {
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
	p.mergePlanes(d.dst, *pb, d.r, s, d.method, sgn)
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
