package planes

import (
	"deltafs/internal/synth"
)

// benchPair returns a synthetic base matrix and its fine-tune from the
// project's generator (internal/synth, default fine-tune parameters): bf16
// as 2-byte words, f32 as 4-byte words, little-endian.
func benchPair(rows, cols int, bf16 bool) (base, tune []byte, describe string) {
	p := synth.Float32
	if bf16 {
		p = synth.BFloat16
	}
	ft := synth.DefaultFineTune(2)
	b, t, err := synth.Pair("bench", rows, cols, p, 1, ft)
	if err != nil {
		panic(err)
	}
	if bf16 { // bf16 arrives as float32 with zero low halves: keep the upper halves
		return upperHalves(b.Data), upperHalves(t.Data), ft.Describe()
	}
	return b.Data, t.Data, ft.Describe()
}

// upperHalves returns the upper 16 bits of each little-endian float32.
func upperHalves(f32 []byte) []byte {
	out := make([]byte, len(f32)/2)
	for i := 0; i < len(f32)/4; i++ {
		out[2*i], out[2*i+1] = f32[4*i+2], f32[4*i+3]
	}
	return out
}

// xorWords returns a ^ b.
func xorWords(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// orderedDiff returns, per word, ordered(t) - ordered(r) where ordered maps
// sign-magnitude floats to integers preserving order; a width-byte result.
func orderedDiff(t, r []byte, width int) []byte {
	out := make([]byte, len(t))
	bits := uint(8 * width)
	for i := 0; i < len(t); i += width {
		d := ordered(loadWord(t[i:], width), bits) - ordered(loadWord(r[i:], width), bits)
		storeWord(out[i:], d, width)
	}
	return out
}

func ordered(x uint64, bits uint) uint64 {
	sign := uint64(1) << (bits - 1)
	if x&sign != 0 {
		return ^x & (sign<<1 - 1)
	}
	return x | sign
}

func loadWord(b []byte, width int) uint64 {
	var x uint64
	for k := 0; k < width; k++ {
		x |= uint64(b[k]) << (8 * k)
	}
	return x
}

func storeWord(b []byte, x uint64, width int) {
	for k := 0; k < width; k++ {
		b[k] = byte(x >> (8 * k))
	}
}

// expCtx returns per-word classes from the reference's exponent: the
// exponent field (expBits wide, starting at bit expShift) clamped to
// [center-nctx/2, center+nctx/2) and shifted to [0, nctx).
func expCtx(ref []byte, width int, expShift uint, nctx int, center int) []uint8 {
	n := len(ref) / width
	ctx := make([]uint8, n)
	for i := 0; i < n; i++ {
		e := int(loadWord(ref[i*width:], width)>>expShift) & 0xff
		c := e - center + nctx/2
		c = max(0, min(nctx-1, c))
		ctx[i] = uint8(c)
	}
	return ctx
}

// zigzagDiff is orderedDiff with the difference zigzag-mapped (0, -1, 1,
// -2, … → 0, 1, 2, 3, …) so small differences of either sign have zero high
// bytes.
func zigzagDiff(t, r []byte, width int) []byte {
	out := orderedDiff(t, r, width)
	bits := uint(8 * width)
	for i := 0; i < len(out); i += width {
		d := loadWord(out[i:], width)
		sd := int64(d<<(64-bits)) >> (64 - bits) // sign-extend
		storeWord(out[i:], uint64(sd<<1)^uint64(sd>>63), width)
	}
	return out
}
