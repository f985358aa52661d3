package delta

import (
	"fmt"
)

// The fixed lossless strategies (docs/FORMAT.md §4, ids 2–6).

// rawCodec is float32_raw: ordered differences stored as words.
type rawCodec struct{}

func (rawCodec) params() []byte { return nil }

func (rawCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	out := make([]byte, len(e.t))
	diffWords(out, e.t, e.r, e.l)
	return out, 0, e.r != nil, nil
}

func (rawCodec) decodeChunk(d *chunkDec) error {
	if len(d.payload) != len(d.dst) {
		return fmt.Errorf("payload of %d bytes, expected %d", len(d.payload), len(d.dst))
	}
	undiffWords(d.dst, d.payload, d.r, d.l)
	return nil
}

// compressedCodec is compressed: one zstd frame of the ordered differences.
type compressedCodec struct{}

func (compressedCodec) params() []byte { return nil }

func (compressedCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	tmp := make([]byte, len(e.t))
	diffWords(tmp, e.t, e.r, e.l)
	return zcompress(nil, tmp, e.level), 0, e.r != nil, nil
}

func (compressedCodec) decodeChunk(d *chunkDec) error {
	if err := zdecompressExact(d.dst, d.payload); err != nil {
		return err
	}
	undiffWords(d.dst, d.dst, d.r, d.l)
	return nil
}

// xorPlanesCodec is xor_float32: XOR words as W zstd-coded byte planes.
type xorPlanesCodec struct{}

func (xorPlanesCodec) params() []byte { return nil }

func (xorPlanesCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	w, n := e.l.width, len(e.t)/e.l.width
	x := make([]byte, len(e.t))
	xorWords(x, e.t, e.r)
	p := make([]byte, len(x))
	toPlanes(p, x, w)
	var out []byte
	for k := 0; k < w; k++ {
		out = appendSection(out, p[k*n:(k+1)*n], e.level)
	}
	return out, 0, e.r != nil, nil
}

func (xorPlanesCodec) decodeChunk(d *chunkDec) error {
	w, n := d.l.width, d.words()
	p := make([]byte, len(d.dst))
	rest := d.payload
	for k := 0; k < w; k++ {
		var frame []byte
		var err error
		if frame, rest, err = nextSection(rest); err != nil {
			return fmt.Errorf("plane %d: %w", k, err)
		}
		if err := zdecompressExact(p[k*n:(k+1)*n], frame); err != nil {
			return fmt.Errorf("plane %d: %w", k, err)
		}
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing payload bytes", len(rest))
	}
	fromPlanes(d.dst, p, w)
	xorWords(d.dst, d.dst, d.r)
	return nil
}

// xorHalvesCodec is xor_bfloat16: XOR words split into upper and lower
// halves (each as byte planes), one zstd frame per half.
type xorHalvesCodec struct{}

func (xorHalvesCodec) params() []byte { return nil }

// lowerBytes is ⌈W/2⌉, the bytes of the lower half.
func lowerBytes(w int) int { return (w + 1) / 2 }

func (xorHalvesCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	w, n := e.l.width, len(e.t)/e.l.width
	x := make([]byte, len(e.t))
	xorWords(x, e.t, e.r)
	p := make([]byte, len(x))
	toPlanes(p, x, w)
	split := lowerBytes(w) * n
	out := appendSection(nil, p[split:], e.level)
	out = appendSection(out, p[:split], e.level)
	return out, 0, e.r != nil, nil
}

func (xorHalvesCodec) decodeChunk(d *chunkDec) error {
	w, n := d.l.width, d.words()
	p := make([]byte, len(d.dst))
	split := lowerBytes(w) * n
	upper, rest, err := nextSection(d.payload)
	if err != nil {
		return fmt.Errorf("upper half: %w", err)
	}
	lower, rest, err := nextSection(rest)
	if err != nil {
		return fmt.Errorf("lower half: %w", err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing payload bytes", len(rest))
	}
	if err := zdecompressExact(p[split:], upper); err != nil {
		return fmt.Errorf("upper half: %w", err)
	}
	if err := zdecompressExact(p[:split], lower); err != nil {
		return fmt.Errorf("lower half: %w", err)
	}
	fromPlanes(d.dst, p, w)
	xorWords(d.dst, d.dst, d.r)
	return nil
}

// expMantCodec is exponent_mantissa: XOR words split into packed sign
// bits, exponent fields and mantissa fields, one zstd frame each.
type expMantCodec struct{}

func (expMantCodec) params() []byte { return nil }

// fieldBytes returns the bytes per exponent and per mantissa field.
func fieldBytes(l wordLayout) (eb, mb int) { return (l.expBits + 7) / 8, (l.mantBits + 7) / 8 }

func (expMantCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	l := e.l
	w, n := l.width, len(e.t)/l.width
	eb, mb := fieldBytes(l)
	x := make([]byte, len(e.t))
	xorWords(x, e.t, e.r)
	signs := make([]byte, (n+7)/8)
	exps := make([]byte, n*eb)
	mants := make([]byte, n*mb)
	emask := uint64(1)<<l.expBits - 1
	mmask := uint64(1)<<l.mantBits - 1
	for i := 0; i < n; i++ {
		v := getWord(x, w, i)
		signs[i>>3] |= byte(v>>(8*w-1)) << (i & 7)
		ev, mv := (v>>l.mantBits)&emask, v&mmask
		for k := 0; k < eb; k++ {
			exps[k*n+i] = byte(ev >> (8 * k))
		}
		for k := 0; k < mb; k++ {
			mants[k*n+i] = byte(mv >> (8 * k))
		}
	}
	out := appendSection(nil, signs, e.level)
	out = appendSection(out, exps, e.level)
	out = appendSection(out, mants, e.level)
	return out, 0, e.r != nil, nil
}

func (expMantCodec) decodeChunk(d *chunkDec) error {
	l := d.l
	w, n := l.width, d.words()
	eb, mb := fieldBytes(l)
	bufs := [3][]byte{make([]byte, (n+7)/8), make([]byte, n*eb), make([]byte, n*mb)}
	rest := d.payload
	for s, name := range []string{"signs", "exponents", "mantissas"} {
		var frame []byte
		var err error
		if frame, rest, err = nextSection(rest); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := zdecompressExact(bufs[s], frame); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing payload bytes", len(rest))
	}
	signs, exps, mants := bufs[0], bufs[1], bufs[2]
	emask := uint64(1)<<l.expBits - 1
	mmask := uint64(1)<<l.mantBits - 1
	for i := 0; i < n; i++ {
		var ev, mv uint64
		for k := 0; k < eb; k++ {
			ev |= uint64(exps[k*n+i]) << (8 * k)
		}
		for k := 0; k < mb; k++ {
			mv |= uint64(mants[k*n+i]) << (8 * k)
		}
		if ev&^emask != 0 || mv&^mmask != 0 {
			return fmt.Errorf("element %d: field out of range", i)
		}
		v := uint64(signs[i>>3]>>(i&7)&1)<<(8*w-1) | ev<<l.mantBits | mv
		putWord(d.dst, w, i, v)
	}
	xorWords(d.dst, d.dst, d.r)
	return nil
}
