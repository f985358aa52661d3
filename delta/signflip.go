package delta

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// Method zigzag_signs (docs/FORMAT.md §4.2): the zigzag method of 16-bit
// float words with the ordered differences negated where a rank-1 sign
// pattern predicts them negative. The differences of a fine-tune's weight
// matrix have such a pattern: the sign of row i times the sign of column j
// predicts 62–86 % of their signs on trained weights (BENCHMARKS.md), so the
// negated differences are mostly positive and their zigzag codes, low bit
// included, are skewed: fewer bits a word after entropy coding.
//
// The pattern is fitted per chunk over the chunk's own frame: word k of the
// chunk sits at row (phase+k)/cols and column (phase+k)%cols, so a chunk
// decodes on its own and the decoder needs no shape. Negating is its own
// inverse (modulo 2^16), so flipDiffs16 is both the encoder's transform of
// the target and the decoder's fix-up; the AVX-512 gather negates inside
// the kernel instead.

// signPowerPasses and signFitPasses are the passes of the fit: power
// iterations, then at most that many alternating sign passes.
var (
	signPowerPasses = 4
	signFitPasses   = 1
)

// signMinWords is the smallest chunk, in words, tried with sign flips: the
// side bits and the fit do not pay on fewer; signMinRows is the fewest
// full rows.
const (
	signMinWords = 4096
	signMinRows  = 8
)

// signSampleWords bounds the words of the full rows the column signs are
// fitted on.
const signSampleWords = 1 << 15

// autoSignFlips lets benchmarks switch the sign-flip candidate off to
// measure method zigzag on the same data in the same run.
var autoSignFlips = true

// signPattern is the side information of method zigzag_signs: a bit per
// column and per row, set where the sign is negative.
type signPattern struct {
	cols    int    // words per row
	phase   int    // column of the chunk's first word
	colBits []byte // ⌈cols/8⌉ bytes, then 9 bytes of zero padding
	rowBits []byte // ⌈rows/8⌉ bytes
}

// rowWords returns the row length of a tensor in elements: its innermost
// dimension in memory (the last, or the first for Fortran order), or 0
// for tensors of fewer than two dimensions.
func rowWords(shape []int64, fortran bool) int64 {
	switch {
	case len(shape) < 2:
		return 0
	case fortran:
		return shape[0]
	}
	return shape[len(shape)-1]
}

// signRows returns the rows n words starting at column phase touch.
func signRows(cols, phase, n int) int { return (phase+n-1)/cols + 1 }

// bit reports bit i of b (LSB first).
func bit(b []byte, i int) bool { return b[i>>3]>>(i&7)&1 != 0 }

// setBit sets bit i of b.
func setBit(b []byte, i int) { b[i>>3] |= 1 << (i & 7) }

// appendSigns appends the sign section: cols and phase as uvarints, then
// the column bits and the row bits.
func (sp *signPattern) appendSigns(out []byte) []byte {
	out = binary.AppendUvarint(out, uint64(sp.cols))
	out = binary.AppendUvarint(out, uint64(sp.phase))
	out = append(out, sp.colBits[:(sp.cols+7)/8]...)
	return append(out, sp.rowBits...)
}

// parseSigns reads the sign section of a chunk of n words from the start
// of b and returns the pattern and the rest of b.
func parseSigns(b []byte, n int) (signPattern, []byte, error) {
	cols, k := binary.Uvarint(b)
	if k <= 0 || cols == 0 || cols > uint64(8*len(b)) {
		return signPattern{}, nil, fmt.Errorf("sign section: invalid cols")
	}
	b = b[k:]
	phase, k := binary.Uvarint(b)
	if k <= 0 || phase >= cols {
		return signPattern{}, nil, fmt.Errorf("sign section: phase invalid or not below cols %d", cols)
	}
	b = b[k:]
	sp := signPattern{cols: int(cols), phase: int(phase)}
	cb, rb := (sp.cols+7)/8, (signRows(sp.cols, sp.phase, n)+7)/8
	if len(b) < cb+rb {
		return signPattern{}, nil, fmt.Errorf("sign section: %d bytes left for %d bytes of signs", len(b), cb+rb)
	}
	sp.colBits = append(make([]byte, 0, cb+9), b[:cb]...)[:cb+9]
	sp.rowBits = b[cb : cb+rb]
	return sp, b[cb+rb:], nil
}

// maskBytes is the size of the word mask of n words: whole 64-bit words and
// one spare for the writes that straddle.
func maskBytes(n int) int { return (n/64 + 2) * 8 }

// fillMask sets bit k of m (LSB first, m zeroed here) for every word k of
// the chunk's n words whose difference is negated: column bit ⊕ row bit.
func (sp *signPattern) fillMask(m []byte, n int) {
	m = m[:maskBytes(n)]
	clear(m)
	col := sp.phase
	for pos, row := 0, 0; pos < n; row++ {
		seg := min(sp.cols-col, n-pos)
		inv := uint64(0)
		if bit(sp.rowBits, row) {
			inv = ^inv
		}
		for o := 0; o < seg; o += 64 {
			v := bits64(sp.colBits, col+o) ^ inv
			if left := seg - o; left < 64 {
				v &= 1<<left - 1
			}
			orBits(m, pos+o, v)
		}
		pos += seg
		col = 0
	}
}

// bits64 returns the 64 bits of b from bit at on (b padded past them).
func bits64(b []byte, at int) uint64 {
	i, sh := at>>3, uint(at&7)
	v := binary.LittleEndian.Uint64(b[i:]) >> sh
	if sh != 0 {
		v |= uint64(b[i+8]) << (64 - sh)
	}
	return v
}

// orBits ors v into m at bit at (one spare word past the last bit).
func orBits(m []byte, at int, v uint64) {
	i, sh := at>>6*8, uint(at&63)
	binary.LittleEndian.PutUint64(m[i:], binary.LittleEndian.Uint64(m[i:])|v<<sh)
	if sh != 0 {
		binary.LittleEndian.PutUint64(m[i+8:], binary.LittleEndian.Uint64(m[i+8:])|v>>(64-sh))
	}
}

// laneMask16 expands four mask bits to the 16-bit lanes of a pack.
var laneMask16 = func() (t [16]uint64) {
	for v := range t {
		for k := range 4 {
			if v>>k&1 != 0 {
				t[v] |= 0xffff << (16 * k)
			}
		}
	}
	return t
}()

// flipPack16 negates the ordered difference of the lanes of t selected by
// lm against r: unord(2·ord(r) − ord(t)), modulo 2^16 per lane.
func flipPack16(t, r, lm uint64) uint64 {
	or := ordPack16(r)
	f := unordPack16(subPack16(addPack16(or, or), ordPack16(t)))
	return t&^lm | f&lm
}

// flipDiffs16 writes to dst the 16-bit words of t with the ordered
// difference against r negated where the word's bit of the chunk's mask m
// is set (dst may be t); word i of t is word first+i of the chunk.
func flipDiffs16(dst, t, r, m []byte, first int) {
	t, r = t[:len(dst)], r[:len(dst)]
	i := 0
	for ; i+8 <= len(dst) && (first+i/2)&3 == 0; i += 8 {
		k := first + i/2
		// Branch-free: the masks of a weak pattern are as good as random.
		lm := laneMask16[m[k>>3]>>(k&7)&15]
		binary.LittleEndian.PutUint64(dst[i:], flipPack16(binary.LittleEndian.Uint64(t[i:]), binary.LittleEndian.Uint64(r[i:]), lm))
	}
	for ; i+2 <= len(dst); i += 2 {
		v := uint64(binary.LittleEndian.Uint16(t[i:]))
		if bit(m, first+i/2) {
			v = flipPack16(v, uint64(binary.LittleEndian.Uint16(r[i:])), 0xffff)
		}
		binary.LittleEndian.PutUint16(dst[i:], uint16(v))
	}
}

// signMinGain is the least estimated saving, in bits a word, for which
// auto codes a chunk with sign flips. The decode cost of the flips is a
// fixed time a word (the mask bit and a masked subtraction in the gather),
// so the saving that pays for it is a fixed number of bits a word too:
// 1/64 bit is 0.1 % of the raw word and about 0.2 % of the bytes of a
// fine-tune coded at 7 bits a word. The trained fine-tunes' projections
// save 0.02–0.4 bit a word; a synthetic rank-8 update's weak pattern,
// 0.01–0.02 (BENCHMARKS.md).
const signMinGain = 1.0 / 64

// signPays reports whether an estimated saving of gain bits on a chunk of
// n words is worth the sign flips.
func signPays(gain float64, n int) bool { return gain >= signMinGain*float64(n) }

// fitSigns fits the rank-1 sign pattern of the ordered differences of the
// n 16-bit float words t − r (chunk frame: cols words a row, the first
// word at column phase; at least one full row) and returns it with the
// estimated bits it saves: the entropy of the predicted signs below one
// bit each, minus the side bits. The columns are fitted on a sample of
// full rows, the rows on every word: one pass over the chunk. When quick,
// that pass is skipped (and the pattern not returned) if the columns'
// saving on held-out rows, each row taking its better sign, shows that the
// chunk's would not pay (signPays).
func fitSigns(t, r []byte, cols, phase int, quick bool) (signPattern, float64) {
	colS := fitColumns(t, r, cols, phase)
	n := len(t) / 2
	side := float64(8 * ((signRows(cols, phase, n)+7)/8 + (cols+7)/8 + 2*binary.MaxVarintLen32))
	if quick {
		if perWord, ok := heldOutSaving(t, r, cols, phase, colS); ok && !signPays(perWord*float64(n)-side, n) {
			return signPattern{}, perWord*float64(n) - side
		}
	}
	rowS, agree, nz := fitRows(t, r, cols, phase, colS)
	sp := signPattern{cols: cols, phase: phase, colBits: make([]byte, (cols+7)/8+9), rowBits: make([]byte, (len(rowS)+7)/8)}
	for j, s := range colS {
		if s < 0 {
			setBit(sp.colBits, j)
		}
	}
	for i, s := range rowS {
		if s < 0 {
			setBit(sp.rowBits, i)
		}
	}
	if nz == 0 {
		return sp, -side
	}
	p := float64(agree) / float64(nz)
	return sp, float64(nz)*(1-binaryEntropy(p)) - side
}

// wordSign returns the sign of the ordered difference of word k.
func wordSign(t, r []byte, k int) int8 {
	d := int16(ordPack16(uint64(binary.LittleEndian.Uint16(t[2*k:]))) - ordPack16(uint64(binary.LittleEndian.Uint16(r[2*k:]))))
	switch {
	case d > 0:
		return 1
	case d < 0:
		return -1
	}
	return 0
}

// fullRows returns the chunk-frame index of the first full row and the
// number of full rows of n words.
func fullRows(cols, phase, n int) (first, count int) {
	if phase != 0 {
		first = 1
	}
	return first, max(0, (phase+n)/cols-first)
}

// fitColumns fits the column signs (±1) on up to signSampleWords words of
// evenly spaced full rows: power iteration on their sign matrix (its
// leading singular vectors; a start from the columns' majority signs alone
// stays at chance when the row signs are balanced), then alternating sign
// passes, each raising the agreement, until the rows stop changing.
func fitColumns(t, r []byte, cols, phase int) []float32 {
	first, full := fullRows(cols, phase, len(t)/2)
	m := sampleRows(cols, full)
	sg := make([]float32, m*cols)
	for s := range m {
		start := 2 * ((first+s*full/m)*cols - phase)
		rowSigns(sg[s*cols:(s+1)*cols], t[start:start+2*cols], r[start:start+2*cols])
	}
	rowS, colS := make([]float32, m), make([]float32, cols)
	for j := range colS {
		colS[j] = 1
	}
	// Only the row weights are normalized: with them at most 1, the column
	// sums stay below m and the row sums below m·cols.
	for range signPowerPasses {
		sumSigns(sg, cols, rowS, colS, rowS, nil)
		normalize(rowS)
		sumSigns(sg, cols, rowS, colS, nil, colS)
	}
	signsOf(colS)
	signsOf(rowS)
	for range signFitPasses {
		sumSigns(sg, cols, rowS, colS, rowS, nil)
		if !signsOf(rowS) {
			break
		}
		sumSigns(sg, cols, rowS, colS, nil, colS)
		signsOf(colS)
	}
	return colS
}

// signOf maps a lane's non-zero bit (bit 0) and sign bit (bit 1) to its
// sign (a negative lane is non-zero).
var signOf = [4]float32{0, 1, 0, -1}

// rowSigns writes to sg the signs (±1, 0) of the ordered differences of
// the 16-bit words t − r, four at a time.
func rowSigns(sg []float32, t, r []byte) {
	const low15 = ^uint64(hi16)
	sg = sg[:len(t)/2]
	i := 0
	for ; i+8 <= len(t); i += 8 {
		d := subPack16(ordPack16(binary.LittleEndian.Uint64(t[i:])), ordPack16(binary.LittleEndian.Uint64(r[i:])))
		nonzero := ((d & low15) + low15 | d) & hi16
		v := nonzero>>15 | d&hi16>>14 // per lane: bit 0 non-zero, bit 1 negative
		out := sg[i/2 : i/2+4]
		out[0], out[1] = signOf[v&3], signOf[v>>16&3]
		out[2], out[3] = signOf[v>>32&3], signOf[v>>48&3]
	}
	for ; i+2 <= len(t); i += 2 {
		sg[i/2] = float32(wordSign(t, r, i/2))
	}
}

// sampleRows returns the number of evenly spaced full rows (of full) the
// columns are fitted on.
func sampleRows(cols, full int) int { return min(full, max(1, signSampleWords/cols)) }

// heldOutSaving returns the bits a word the column signs colS save on full
// rows the fit did not sample, one or two between each pair of sample rows
// (each row taking its better sign): an estimate free of the fit's
// overfitting to its sample; ok is false when there are no such rows
// (every full row sampled).
func heldOutSaving(t, r []byte, cols, phase int, colS []float32) (perWord float64, ok bool) {
	first, full := fullRows(cols, phase, len(t)/2)
	m := sampleRows(cols, full)
	step := full / m
	if step < 2 {
		return 0, false
	}
	k := min(2, step-1) // held-out rows a sample interval
	colNeg := colNegLanes(colS)
	var agree, nz int64
	for s := range m {
		for q := 1; q <= k; q++ {
			start := 2 * ((first+s*full/m+q*step/(k+1))*cols - phase)
			disagree, cnt := rowDisagree(t[start:start+2*cols], r[start:start+2*cols], colNeg)
			agree += max(disagree, cnt-disagree)
			nz += cnt
		}
	}
	if nz == 0 {
		return 0, true
	}
	return float64(nz) / float64(k*m*cols) * (1 - binaryEntropy(float64(agree)/float64(nz))), true
}

// colNegLanes returns the column signs colS (±1) as 16-bit lanes, 1 where
// the column is negative, padded for rowDisagree.
func colNegLanes(colS []float32) []byte {
	colNeg := make([]byte, 2*len(colS)+8)
	for j, c := range colS {
		if c < 0 {
			colNeg[2*j] = 1
		}
	}
	return colNeg
}

// fitRows gives each row of the chunk the sign that agrees best with the
// column signs colS (±1), and counts the non-zero differences and those
// the pattern then predicts. Four words at a time (packs of swar.go):
// the columns' negative bits as 16-bit lanes beside the differences'.
func fitRows(t, r []byte, cols, phase int, colS []float32) (rowS []float32, agree, nz int64) {
	n := len(t) / 2
	rowS = make([]float32, signRows(cols, phase, n))
	colNeg := colNegLanes(colS)
	col := phase
	for pos, row := 0, 0; pos < n; row++ {
		seg := min(cols-col, n-pos)
		disagree, cnt := rowDisagree(t[2*pos:2*(pos+seg)], r[2*pos:2*(pos+seg)], colNeg[2*col:])
		rowS[row] = 1
		if 2*disagree > cnt {
			rowS[row], disagree = -1, cnt-disagree
		}
		agree += cnt - disagree
		nz += cnt
		pos += seg
		col = 0
	}
	return rowS, agree, nz
}

// rowDisagree counts the non-zero ordered differences of the 16-bit words
// t − r and those whose sign differs from the column sign (colNeg: a
// 16-bit lane a word, 1 for negative, padded).
func rowDisagree(t, r, colNeg []byte) (disagree, nz int64) {
	const low15 = ^uint64(hi16)
	i := 0
	for ; i+8 <= len(t); i += 8 {
		d := subPack16(ordPack16(binary.LittleEndian.Uint64(t[i:])), ordPack16(binary.LittleEndian.Uint64(r[i:])))
		nonzero := ((d & low15) + low15 | d) & hi16
		cneg := binary.LittleEndian.Uint64(colNeg[i:]) << 15
		disagree += int64(bits.OnesCount64((d ^ cneg) & nonzero))
		nz += int64(bits.OnesCount64(nonzero))
	}
	for ; i+2 <= len(t); i += 2 {
		if s := wordSign(t, r, i/2); s != 0 {
			nz++
			if (s < 0) != (colNeg[i] != 0) {
				disagree++
			}
		}
	}
	return disagree, nz
}

// sumSigns sums, over a sample of full rows of cols signs each, the signs
// s_ij weighted by the column weights colW[j] into rowSum[i] (when rowSum
// is set) or by the row weights rowW[i] into colSum[j] (when colSum is
// set); the sum it fills may be the weights it does not read.
func sumSigns(sg []float32, cols int, rowW, colW, rowSum, colSum []float32) {
	rows := len(sg) / cols
	if rowSum != nil {
		for row := range rows {
			rowSum[row] = dot(sg[row*cols:(row+1)*cols], colW)
		}
		return
	}
	clear(colSum)
	row := 0
	for ; row+4 <= rows; row += 4 { // four rows a pass over colSum
		cs := colSum[:cols]
		s0, s1 := sg[row*cols:][:cols], sg[(row+1)*cols:][:cols]
		s2, s3 := sg[(row+2)*cols:][:cols], sg[(row+3)*cols:][:cols]
		w0, w1, w2, w3 := rowW[row], rowW[row+1], rowW[row+2], rowW[row+3]
		for j := range cs {
			cs[j] += s0[j]*w0 + s1[j]*w1 + s2[j]*w2 + s3[j]*w3
		}
	}
	for ; row < rows; row++ {
		cs, seg, rw := colSum[:cols], sg[row*cols:][:cols], rowW[row]
		for j := range cs {
			cs[j] += seg[j] * rw
		}
	}
}

// dot returns Σ a[j]·b[j] over a, in four independent sums (one chain of
// dependent adds runs at a quarter of the speed).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	j := 0
	for ; j+4 <= len(a); j += 4 {
		s0 += a[j] * b[j]
		s1 += a[j+1] * b[j+1]
		s2 += a[j+2] * b[j+2]
		s3 += a[j+3] * b[j+3]
	}
	for ; j < len(a); j++ {
		s0 += a[j] * b[j]
	}
	return s0 + s1 + s2 + s3
}

// normalize scales w so that its largest magnitude is 1.
func normalize(w []float32) {
	m := float32(0)
	for _, v := range w {
		m = max(m, v, -v)
	}
	if m == 0 {
		return
	}
	for i := range w {
		w[i] /= m
	}
}

// signsOf replaces each weight by its sign (+1 for zero) and reports
// whether any sign changed.
func signsOf(w []float32) bool {
	changed := false
	for i, v := range w {
		n := float32(1)
		if v < 0 {
			n = -1
		}
		changed = changed || n != w[i]
		w[i] = n
	}
	return changed
}

// binaryEntropy is H(p) in bits.
func binaryEntropy(p float64) float64 {
	if p <= 0 || p >= 1 {
		return 0
	}
	return -p*math.Log2(p) - (1-p)*math.Log2(1-p)
}
