package delta

import "encoding/binary"

// bf16 words (docs/FORMAT.md §4, format version 2): the store keeps a
// safetensors BF16 tensor as `u2`, the 16-bit words as they are, so the
// object's dtype no longer says they are floats. Coded as plain integers
// they get neither the ordered difference of floats nor context classes
// from the reference's exponent, which on real fine-tunes cost about a
// sixth of the delta's size. auto codes `u2` data as bfloat16 words when a
// sample of it (and of the reference) looks like bfloat16 weights and
// codes smaller so.

// bf16WordsSample is how many bytes of the tensor (and of its reference)
// decide whether u2 data are bfloat16 words.
const bf16WordsSample = 64 << 10

// Weights in bfloat16 are ±0 or have magnitudes between about 2^-40 and
// 2^24: an exponent field in [bf16ExpLo, bf16ExpHi]. Integer data rarely
// look so: small counts and indices have exponent fields below 64, random
// words spread over all 256 values.
const (
	bf16ExpLo = 127 - 40
	bf16ExpHi = 127 + 24
	// bf16WordsShare is the share of sampled words that must look like
	// bfloat16 weights.
	bf16WordsShare = 0.9
)

// guessBF16Words decides whether u2 data are coded as bfloat16 words:
// for auto with a reference (alone, the view codes the same bytes), when
// the first bf16WordsSample bytes of the tensor and of its reference look
// like bfloat16 weights and code smaller so than as integers. The trial
// costs one extra encoding of at most bf16WordsSample bytes; either way
// the object is lossless.
func (e *streamEnc) guessBF16Words(s Strategy, raw int64) (bool, error) {
	if s != Auto || e.ref == nil || !canBeBF16Words(e.t.DType) || raw == 0 {
		return false, nil
	}
	n := min(raw, bf16WordsSample, int64(e.cfg.ChunkSize)/2*2)
	big := e.t.DType.Order == '>'
	var data [2][]byte
	for i, src := range e.sources() {
		b, release, err := readRange(src, 0, n)
		if err != nil {
			return false, err
		}
		defer release()
		if !looksBF16Words(b, big) {
			return false, nil
		}
		data[i] = b
	}
	ints := layoutFor(e.t.DType, false)
	c := autoCodec{cols: rowWords(e.t.Shape, e.t.Fortran)} // as the tensor will be coded
	asInts, err := trialSize(c, ints, data[0], data[1], e.cfg.CompressionLevel)
	if err != nil {
		return false, err
	}
	asBF16, err := trialSize(c, ints.asBF16Words(), data[0], data[1], e.cfg.CompressionLevel)
	if err != nil {
		return false, err
	}
	return asBF16 < asInts, nil
}

// trialSize returns the size of c's payload of the data section t
// against r with layout l.
func trialSize(c autoCodec, l wordLayout, t, r []byte, level int) (int, error) {
	tb, tw := pooledWords(t, l)
	defer putBuf(tb)
	rb, rw := pooledWords(r, l)
	defer putBuf(rb)
	p, _, _, err := c.encodeChunk(&chunkEnc{l: l, t: tw, r: rw, level: level})
	return len(p), err
}

// looksBF16Words reports whether at least bf16WordsShare of the 16-bit
// words in b are ±0 or have an exponent field in [bf16ExpLo, bf16ExpHi].
func looksBF16Words(b []byte, bigEndian bool) bool {
	n := len(b) / 2
	if n == 0 {
		return false
	}
	like := 0
	for i := 0; i < n; i++ {
		v := binary.LittleEndian.Uint16(b[2*i:])
		if bigEndian {
			v = binary.BigEndian.Uint16(b[2*i:])
		}
		e := v >> 7 & 0xff
		if v&0x7fff == 0 || e >= bf16ExpLo && e <= bf16ExpHi {
			like++
		}
	}
	return float64(like) >= bf16WordsShare*float64(n)
}
