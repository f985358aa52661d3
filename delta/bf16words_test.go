package delta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"deltafs/internal/synth"
	"deltafs/npy"
)

// TestLooksBF16Words: bfloat16 weights (with ±0 and a few specials) are
// recognised in either byte order; integer data are not.
func TestLooksBF16Words(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := func(f func(i int) uint16) []byte {
		b := make([]byte, 2*4096)
		for i := range 4096 {
			binary.LittleEndian.PutUint16(b[2*i:], f(i))
		}
		return b
	}
	td, _ := genPair(dtypeCases[len(dtypeCases)-2], 4096, 3)
	tbe, _ := genPair(dtypeCases[len(dtypeCases)-1], 4096, 3)
	for _, tc := range []struct {
		name string
		b    []byte
		big  bool
		want bool
	}{
		{"bf16 weights", td, false, true},
		{"bf16 weights, big-endian", tbe, true, true},
		{"bf16 weights read in the wrong order", tbe, false, false},
		{"zeros", make([]byte, 64), false, true},
		{"counts", words(func(i int) uint16 { return uint16(i % 2000) }), false, false},
		{"random", words(func(int) uint16 { return uint16(rng.Uint32()) }), false, false},
		{"token ids", words(func(int) uint16 { return uint16(rng.IntN(50257)) }), false, false},
		{"empty", nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := looksBF16Words(tc.b, tc.big); got != tc.want {
				t.Fatalf("looksBF16Words = %v", got)
			}
		})
	}
}

// TestBF16Words: u2 data holding bfloat16 fine-tune words are coded as
// bfloat16 (format version 2, flag set) when that is smaller, decode
// bit-exact whole and chunk by chunk, and never come out larger than the
// same words coded as integers (as `i2`, which never gets the view); u2
// integers keep version 1.
func TestBF16Words(t *testing.T) {
	for _, tc := range []struct {
		dc     dtypeCase
		n      int
		chunk  int
		bf16   bool
		layout uint16
	}{
		{dtypeCases[len(dtypeCases)-2], 1 << 16, 1 << 16, true, formatVersion + 1},     // chunked, two chunks
		{dtypeCases[len(dtypeCases)-1], 1 << 16, 1 << 15, true, formatVersion + 1},     // big-endian
		{dtypeCases[len(dtypeCases)-2], 1000, DefaultChunkSize, false, compactVersion}, // too small to gain
		{dtypeCases[9], 1 << 16, 1 << 16, false, formatVersion},                        // u2 integers
	} {
		t.Run(fmt.Sprintf("%s/%d/%d", tc.dc.name, tc.n, tc.chunk), func(t *testing.T) {
			td, rd := genPair(tc.dc, tc.n, 5)
			shape := []int64{int64(tc.n)}
			cfg := DefaultConfig()
			cfg.ChunkSize = tc.chunk
			obj := encodeT(t, Tensor{DType: tc.dc.dt, Shape: shape, Data: td}, &Tensor{DType: tc.dc.dt, Shape: shape, Data: rd}, cfg)
			o := openT(t, obj)
			if v := o.Header().FormatVersion; v != tc.layout {
				t.Fatalf("version %d, want %d", v, tc.layout)
			}
			if o.layout.float != tc.bf16 {
				t.Fatalf("words viewed as floats: %v", o.layout.float)
			}
			got, err := o.DecodeAll(rd)
			if err != nil || !bytes.Equal(got, td) {
				t.Fatalf("DecodeAll: %v", err)
			}
			checkChunks(t, o, rd, td)
			if tc.dc.name == "u2" {
				return
			}
			i2 := npy.DType{Kind: 'i', Size: 2, Order: tc.dc.dt.Order}
			ints := encodeT(t, Tensor{DType: i2, Shape: shape, Data: td}, &Tensor{DType: i2, Shape: shape, Data: rd}, cfg)
			if len(obj) > len(ints) || tc.bf16 && len(obj) == len(ints) {
				t.Fatalf("as bfloat16 %d bytes, as integers %d", len(obj), len(ints))
			}
			t.Logf("as bfloat16 %d bytes, as integers %d (%.3f×)", len(obj), len(ints), float64(len(ints))/float64(len(obj)))
		})
	}
}

// checkChunks decodes every chunk of o on its own and compares it with want.
func checkChunks(t *testing.T, o *Object, ref, want []byte) {
	t.Helper()
	for i := range o.Header().NumChunks {
		off, n := o.ChunkRange(i)
		var r []byte
		if o.ChunkUsesReference(i) {
			r = ref[off : off+n]
		}
		dst := make([]byte, n)
		if err := o.DecodeChunk(i, r, dst); err != nil || !bytes.Equal(dst, want[off:off+n]) {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
}

// TestBF16WordsFlagChecked: the flag is corrupt on another dtype, with
// another strategy, or in a version-1 object (the header CRC made to
// match, so the flag check itself answers).
func TestBF16WordsFlagChecked(t *testing.T) {
	dc := dtypeCases[len(dtypeCases)-2]
	td, rd := genPair(dc, 1<<16, 5)
	shape := []int64{1 << 16}
	cfg := DefaultConfig()
	cfg.ChunkSize = 1 << 16
	obj := encodeT(t, Tensor{DType: dc.dt, Shape: shape, Data: td}, &Tensor{DType: dc.dt, Shape: shape, Data: rd}, cfg)
	if uint8(hdrFlags.get(obj))&flagBF16Words == 0 {
		t.Fatal("flag not set")
	}
	hlen := int(headerSize(1, 0, 2))
	for _, tc := range []struct {
		name string
		edit func(b []byte)
	}{
		{"version 1", func(b []byte) { hdrFormatVersion.put(b, formatVersion) }},
		{"signed words", func(b []byte) { hdrDTypeKind.put(b, 'i') }},
		{"another strategy", func(b []byte) { hdrStrategyID.put(b, uint64(XorFloat32.id())) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Clone(obj)
			tc.edit(bad)
			binary.LittleEndian.PutUint32(bad[hlen-headerCRCSize:], crc32c(bad[:hlen-headerCRCSize]))
			if _, err := Open(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// BenchmarkBF16Words codes the synthetic bf16 fine-tune (16 MiB of
// float32 holding bfloat16, internal/synth) as the store keeps a
// safetensors BF16 tensor: its 16-bit words as `u2`, which auto codes as
// bfloat16 words. The baseline, in the same run, is the same words as
// `i2`, coded as integers (what `u2` got before). MB/s count the 2-byte
// words, per CPU second.
func BenchmarkBF16Words(b *testing.B) {
	base, tuned, err := synth.PairOfSize(benchTensorBytes, synth.BFloat16, 1, synth.DefaultFineTune(7))
	if err != nil {
		b.Fatal(err)
	}
	tw, rw := upperWords(tuned.Data, false), upperWords(base.Data, false)
	for _, dt := range []npy.DType{npy.Uint16, {Kind: 'i', Size: 2, Order: '<'}} {
		name := "u2-bf16words"
		if dt.Kind == 'i' {
			name = "i2-integers"
		}
		shape := []int64{int64(len(tw) / 2)}
		t, ref := Tensor{DType: dt, Shape: shape, Data: tw}, &Tensor{DType: dt, Shape: shape, Data: rw}
		cfg := DefaultConfig()
		cfg.Concurrency = 1
		var obj []byte
		b.Run(name+"/encode", func(b *testing.B) {
			loop(b, int64(len(tw)), func() {
				if obj, err = Encode(t, ref, cfg); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(len(tw))/float64(len(obj)), "ratio")
		})
		b.Run(name+"/decode", func(b *testing.B) {
			o, err := Open(bytes.NewReader(obj), int64(len(obj)))
			if err != nil {
				b.Fatal(err)
			}
			benchDecodeChunks(b, o, rw, tw)
			b.ReportMetric(float64(len(tw))/float64(len(obj)), "ratio")
		})
	}
}

// benchDecodeChunks times decoding o chunk by chunk against ref (per CPU
// second, see loop) and checks the result is want.
func benchDecodeChunks(b *testing.B, o *Object, ref, want []byte) {
	out := make([]byte, len(want))
	loop(b, int64(len(want)), func() {
		for i := range o.hdr.NumChunks {
			off, n := o.ChunkRange(i)
			if err := o.DecodeChunk(i, ref[off:off+n], out[off:off+n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	if !bytes.Equal(out, want) {
		b.Fatal("decode differs")
	}
}
