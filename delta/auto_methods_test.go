package delta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"deltafs/delta/planes"
)

// Tests of the auto kernels (ctxclass.go, auto_kernels.go, swar.go): every
// method on every dtype and length, bit-exact with special values, equal to
// the original per-word model, and safe against wrong references and
// corrupt class counts.

var kernelLengths = []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 64, 255, 1001, 1024, 4099}

// floatDtypeCases are the dtype cases with float words (context classes apply).
func floatDtypeCases() []dtypeCase {
	var out []dtypeCase
	for _, dc := range dtypeCases {
		if dc.dt.Kind == 'f' || dc.dt.Kind == 'c' {
			out = append(out, dc)
		}
	}
	return out
}

// chunkForms returns the target and reference of a chunk in the form the
// auto codec takes them, and the shape.
func chunkForms(dc dtypeCase, td, rd []byte) (wordLayout, kernelShape, []byte, []byte) {
	l := layoutFor(dc.dt, dc.bf16)
	c := autoCodec{}
	_, tw := chunkWords(c, l, td)
	_, rw := chunkWords(c, l, rd)
	return l, kernelShape{w: l.width, halves: rawHalves(c, l)}, tw, rw
}

func TestAutoMethodsWithClasses(t *testing.T) {
	for _, dc := range floatDtypeCases() {
		for _, m := range []uint8{autoXOR, autoDiff, autoZigzag} {
			for _, n := range kernelLengths {
				t.Run(fmt.Sprintf("%s/m%d/n%d", dc.name, m, n), func(t *testing.T) {
					td, rd := genPair(dc, n, uint64(n)*3+uint64(m))
					l, s, tw, rw := chunkForms(dc, td, rd)
					e := &chunkEnc{l: l, t: tw, r: rw, level: 3, halves: s.halves}
					payload, err := encodeWithClasses(make([]byte, autoHeaderSize), e, s, m)
					if err != nil {
						t.Fatal(err)
					}
					got := make([]byte, len(tw))
					d := &chunkDec{l: l, payload: payload, method: m, r: rw, dst: got, halves: s.halves}
					if err := (autoCodec{}).decodeChunk(d); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, tw) {
						t.Fatal("words differ after the round trip")
					}
				})
			}
		}
	}
}

// TestAutoForcedMethodsChunks runs every method through the chunk path the
// encoder uses (self-check included) and decodes it back.
func TestAutoForcedMethodsChunks(t *testing.T) {
	for _, dc := range dtypeCases {
		l := layoutFor(dc.dt, dc.bf16)
		for _, m := range []uint8{autoXOR, autoDiff, autoZigzag, autoAlone} {
			for _, n := range []int{1, 9, 1001, 4099} {
				td, rd := genPair(dc, n, uint64(n)+uint64(m))
				c := autoCodec{force: m + 1}
				e, payload, err := encodeOneChunk(c, l, td, rd, 0, 3, nil, false)
				if err != nil {
					t.Fatalf("%s m%d n%d: %v", dc.name, m, n, err)
				}
				if e.method != m && e.method != autoStored {
					t.Fatalf("%s m%d n%d: chunk method %d", dc.name, m, n, e.method)
				}
				var r []byte
				if e.flags&chunkUsesReference != 0 {
					_, r = chunkWords(c, l, rd)
				}
				got := make([]byte, len(td))
				if err := decodeWords(c, l, payload, e.method, r, 0, got); err != nil {
					t.Fatalf("%s m%d n%d: %v", dc.name, m, n, err)
				}
				if !bytes.Equal(got, td) {
					t.Fatalf("%s m%d n%d: round trip differs", dc.name, m, n)
				}
			}
		}
	}
}

// TestAutoKernelsMatchModel checks that chunks of every method with classes
// are byte for byte what the original per-word code (the model below)
// wrote, so objects of both encoders decode with either (zigzag: the
// per-word transform of transform.go, its class counts before the block).
func TestAutoKernelsMatchModel(t *testing.T) {
	for _, dc := range floatDtypeCases() {
		for _, m := range []uint8{autoXOR, autoDiff, autoZigzag} {
			for _, n := range []int{5, 1001, 4099} {
				td, rd := genPair(dc, n, uint64(n)+11)
				l, s, tw, rw := chunkForms(dc, td, rd)
				e := &chunkEnc{l: l, t: tw, r: rw, level: 3, halves: s.halves}
				got, err := encodeWithClasses(make([]byte, autoHeaderSize), e, s, m)
				if err != nil {
					t.Fatal(err)
				}
				// The model works on words.
				if s.halves {
					tw, rw = wordsOf(td, l), wordsOf(rd, l)
				}
				x := make([]byte, len(tw))
				switch m {
				case autoXOR:
					xorWords(x, tw, rw)
				case autoDiff:
					diffWords(x, tw, rw, l)
				default:
					zigzagWords(x, tw, rw, l)
				}
				ctx := make([]byte, len(tw)/l.width)
				base := refCtxBase(rw, l)
				refContextClasses(ctx, rw, l, base)
				want := []byte{autoNCtx, 0, 0}
				binary.LittleEndian.PutUint16(want[1:], base)
				if m == autoZigzag { // the class counts precede the block
					var counts [autoNCtx]int
					for _, c := range ctx {
						counts[c]++
					}
					for _, c := range counts {
						want = binary.AppendUvarint(want, uint64(c))
					}
				}
				want, err = planes.Encode(want, x, l.width, ctx, autoNCtx, 3)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s m%d n%d: kernel payload differs from the model's", dc.name, m, n)
				}
			}
		}
	}
}

// TestZigzagCountsChecked decodes zigzag chunks against a wrong reference
// and with altered class counts: always an error, never a panic.
func TestZigzagCountsChecked(t *testing.T) {
	for _, dc := range floatDtypeCases() {
		for _, n := range []int{7, 1001} {
			td, rd := genPair(dc, n, uint64(n)+5)
			l, s, tw, rw := chunkForms(dc, td, rd)
			e := &chunkEnc{l: l, t: tw, r: rw, level: 3, halves: s.halves}
			payload, err := encodeWithClasses(make([]byte, autoHeaderSize), e, s, autoZigzag)
			if err != nil {
				t.Fatal(err)
			}
			decode := func(p, r []byte) error {
				return (autoCodec{}).decodeChunk(&chunkDec{l: l, payload: p, method: autoZigzag, r: r, dst: make([]byte, len(tw)), halves: s.halves})
			}
			// A reference whose exponents differ: flip an exponent bit of
			// about a third of the bytes.
			wrong := bytes.Clone(rw)
			rng := rand.New(rand.NewPCG(uint64(n), 9))
			for i := range wrong {
				if rng.IntN(3) == 0 {
					wrong[i] ^= 0x40
				}
			}
			if err := decode(payload, wrong); err == nil {
				// Possible only if the classes happen to agree; then the
				// words differ and the chunk CRC catches it.
				t.Logf("%s n%d: wrong reference decoded (classes agree)", dc.name, n)
			}
			// Move one word from the first non-empty class to another.
			counts := make([]int, autoNCtx)
			rest, err := readClassCounts(counts, payload[autoHeaderSize:], n*l.perElem)
			if err != nil {
				t.Fatal(err)
			}
			for c := range counts {
				if counts[c] > 0 {
					counts[c]--
					counts[(c+1)%autoNCtx]++
					break
				}
			}
			bad := append([]byte(nil), payload[:autoHeaderSize]...)
			for _, c := range counts {
				bad = binary.AppendUvarint(bad, uint64(c))
			}
			bad = append(bad, rest...)
			if err := decode(bad, rw); err == nil {
				t.Fatalf("%s n%d: altered class counts decoded without error", dc.name, n)
			}
			// Counts that do not sum to n.
			short := append(append([]byte(nil), payload[:autoHeaderSize]...), make([]byte, autoNCtx)...)
			short = append(short, rest...)
			if err := decode(short, rw); err == nil {
				t.Fatalf("%s n%d: zero class counts decoded without error", dc.name, n)
			}
		}
	}
}

// refCtxBase is the original (per-word) ctx_base rule, kept as the model
// the kernels are checked against: it picks the exponent of class 1 so that the 15 largest finite
// exponents of the reference get a class each.
func refCtxBase(r []byte, l wordLayout) uint16 {
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

// refContextClasses is the original per-word class assignment: it sets ctx[i] from the exponent of reference word i.
func refContextClasses(ctx, r []byte, l wordLayout, base uint16) {
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

// withExponent returns a copy of the reference words rw (shape s, layout
// l) with every word's exponent field set to e: all words in one class.
func withExponent(rw []byte, l wordLayout, s kernelShape, e uint64) []byte {
	out := bytes.Clone(rw)
	at := uint(l.mantBits)
	if s.halves {
		at += 16
	}
	field := uint64(1)<<l.expBits - 1
	for i := range len(out) / s.raw() {
		v := getWord(out, s.raw(), i)
		putWord(out, s.raw(), i, v&^(field<<at)|e<<at)
	}
	return out
}

// TestZigzagSingleClass round-trips zigzag chunks whose reference words all
// fall in one class (the lowest, a middle one, the highest), at lengths
// that leave no, some and only words outside the pack loops.
func TestZigzagSingleClass(t *testing.T) {
	for _, dc := range floatDtypeCases() {
		for _, n := range kernelLengths {
			td, rd := genPair(dc, n, uint64(n)+17)
			l, s, tw, rw := chunkForms(dc, td, rd)
			maxE := uint64(1)<<l.expBits - 2 // largest finite exponent
			for _, e := range []uint64{0, maxE / 2, maxE} {
				ref := withExponent(rw, l, s, e)
				enc := &chunkEnc{l: l, t: tw, r: ref, level: 3, halves: s.halves}
				payload, err := encodeWithClasses(make([]byte, autoHeaderSize), enc, s, autoZigzag)
				if err != nil {
					t.Fatal(err)
				}
				counts := make([]int, autoNCtx)
				if _, err := readClassCounts(counts, payload[autoHeaderSize:], len(tw)/s.raw()); err != nil {
					t.Fatal(err)
				}
				if nz := len(counts) - countZero(counts); nz != 1 {
					t.Fatalf("%s n%d e%d: %d classes used, want 1", dc.name, n, e, nz)
				}
				got := make([]byte, len(tw))
				d := &chunkDec{l: l, payload: payload, method: autoZigzag, r: ref, dst: got, halves: s.halves}
				if err := (autoCodec{}).decodeChunk(d); err != nil {
					t.Fatalf("%s n%d e%d: %v", dc.name, n, e, err)
				}
				if !bytes.Equal(got, tw) {
					t.Fatalf("%s n%d e%d: words differ after the round trip", dc.name, n, e)
				}
			}
		}
	}
}

// countZero returns the number of empty classes.
func countZero(counts []int) int {
	z := 0
	for _, c := range counts {
		if c == 0 {
			z++
		}
	}
	return z
}

// TestZigzagWrongClassesBounded decodes zigzag chunks against a reference
// whose words all fall in another class than the stored counts say: every
// cursor runs past its class (up to the whole slack), which must end in an
// error, never a read outside the buffer or a panic.
func TestZigzagWrongClassesBounded(t *testing.T) {
	for _, dc := range floatDtypeCases() {
		for _, n := range kernelLengths {
			td, rd := genPair(dc, n, uint64(n)+23)
			l, s, tw, rw := chunkForms(dc, td, rd)
			maxE := uint64(1)<<l.expBits - 2
			low, high := withExponent(rw, l, s, 0), withExponent(rw, l, s, maxE)
			for _, pair := range [][2][]byte{{low, high}, {high, low}} {
				enc := &chunkEnc{l: l, t: tw, r: pair[0], level: 3, halves: s.halves}
				payload, err := encodeWithClasses(make([]byte, autoHeaderSize), enc, s, autoZigzag)
				if err != nil {
					t.Fatal(err)
				}
				d := &chunkDec{l: l, payload: payload, method: autoZigzag, r: pair[1], dst: make([]byte, len(tw)), halves: s.halves}
				if err := (autoCodec{}).decodeChunk(d); err == nil {
					t.Fatalf("%s n%d: a reference of another class decoded without error", dc.name, n)
				}
			}
		}
	}
}

// TestAutoSmallChunkWithoutClasses checks that a small float chunk with a
// reference is coded without context classes (nctx = 0) when that is
// smaller, never larger than with classes, that it decodes back, and that
// a chunk above autoSmallChunk words keeps its classes.
func TestAutoSmallChunkWithoutClasses(t *testing.T) {
	withoutSeen := false
	for _, dc := range floatDtypeCases() {
		for _, n := range []int{16, 64, 128, 1001, autoSmallChunk + 1} {
			t.Run(fmt.Sprintf("%s/n%d", dc.name, n), func(t *testing.T) {
				td, rd := genPair(dc, n, uint64(n)*7)
				l, s, tw, rw := chunkForms(dc, td, rd)
				e := &chunkEnc{l: l, t: tw, r: rw, level: 6, halves: s.halves}
				payload, m, usesRef, err := (autoCodec{}).encodeChunk(e)
				if err != nil {
					t.Fatal(err)
				}
				if m == autoStored || m == autoAlone {
					return // no classes either way
				}
				withClasses, err := encodeWithClasses(make([]byte, autoHeaderSize), e, s, m)
				if err != nil {
					t.Fatal(err)
				}
				switch nctx := payload[0]; {
				case len(payload) > len(withClasses):
					t.Errorf("%d bytes, %d with classes", len(payload), len(withClasses))
				case nctx == 0 && len(tw)/s.raw() > autoSmallChunk:
					t.Errorf("a chunk of %d words coded without classes", len(tw)/s.raw())
				case nctx == 0:
					withoutSeen = true
				}
				got := make([]byte, len(tw))
				d := &chunkDec{l: l, payload: payload, method: m, r: rw, dst: got, halves: s.halves}
				if !usesRef {
					t.Fatalf("method %d without the reference", m)
				}
				if err := (autoCodec{}).decodeChunk(d); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tw) {
					t.Fatal("words differ after the round trip")
				}
			})
		}
	}
	if !withoutSeen {
		t.Error("no small chunk was coded without classes")
	}
}
