package delta

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"deltafs/npy"
)

// fuzzRawLimit caps the tensors the fuzzers decode in full.
const fuzzRawLimit = 1 << 20

// addGoldenSeeds adds every golden object (and one per strategy made now).
func addGoldenSeeds(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(goldenDir, "*.dlto"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	_, objs, _, _ := smallObjects(f)
	for _, o := range objs {
		f.Add(o)
	}
}

// fuzzRef returns a deterministic reference for an object under test: the
// golden reference when the object is one, else a pattern.
func fuzzRef(h Header) []byte {
	if !h.HasReference || h.RawSize > fuzzRawLimit {
		return nil
	}
	r := make([]byte, h.RawSize)
	for i := range r {
		r[i] = byte(i * 7)
	}
	return r
}

func FuzzOpen(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, obj []byte) {
		o, err := Open(bytes.NewReader(obj), int64(len(obj)))
		if err != nil {
			return
		}
		h := o.Header()
		for i := 0; i < h.NumChunks; i++ {
			off, n := o.ChunkRange(i)
			if off < 0 || n <= 0 || off+n > h.RawSize || n > h.ChunkSize {
				t.Fatalf("chunk %d range [%d,+%d) outside raw size %d", i, off, n, h.RawSize)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, obj []byte) {
		o, err := Open(bytes.NewReader(obj), int64(len(obj)))
		if err != nil {
			return
		}
		h := o.Header()
		if h.RawSize > fuzzRawLimit {
			return
		}
		ref := fuzzRef(h)
		// Chunk by chunk: never a panic, and a success must match the
		// stored data checksum (DecodeChunk checks it itself).
		for i := 0; i < h.NumChunks; i++ {
			off, n := o.ChunkRange(i)
			var r []byte
			if o.ChunkUsesReference(i) {
				r = ref[off : off+n]
			}
			_ = o.DecodeChunk(i, r, make([]byte, n))
		}
		out, err := Decode(obj, ref, Config{StrictReconstruction: true})
		if err == nil && sha256.Sum256(out) != h.ContentHash {
			t.Fatal("strict decode returned bytes that do not match the content hash")
		}
	})
}

// FuzzRoundTrip encodes arbitrary bytes as every lossless strategy and
// dtype and checks the decode is bit-exact.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 0x80, 0x7f, 1, 0, 0xc0, 0xff}, []byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(0), uint8(2))
	f.Add(bytes.Repeat([]byte{0x3f}, 64), bytes.Repeat([]byte{0x40}, 64), uint8(3), uint8(5))
	f.Fuzz(func(t *testing.T, data, refSeed []byte, strategy, dtype uint8) {
		var lossless []Strategy
		for _, s := range Strategies() {
			if s.IsLossless() {
				lossless = append(lossless, s)
			}
		}
		s := lossless[int(strategy)%len(lossless)]
		dc := dtypeCases[int(dtype)%len(dtypeCases)]
		size := dc.dt.Size
		n := len(data) / size
		data = data[:n*size]
		var ref *Tensor
		if len(refSeed) > 0 {
			rd := make([]byte, len(data))
			for i := range rd {
				rd[i] = refSeed[i%len(refSeed)] ^ data[i]&byte(i)
			}
			ref = &Tensor{DType: dc.dt, Shape: []int64{int64(n)}, Data: rd}
		}
		cfg := DefaultConfig()
		cfg.Strategy, cfg.ChunkSize = s, 64
		tt := Tensor{DType: dc.dt, Shape: []int64{int64(n)}, Data: data}
		obj, err := Encode(tt, ref, cfg)
		if err != nil {
			t.Fatalf("%s %s: %v", s, dc.name, err)
		}
		var rd []byte
		if ref != nil {
			rd = ref.Data
		}
		got, err := Decode(obj, rd, Config{StrictReconstruction: true})
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s %s: round trip failed: %v", s, dc.name, err)
		}
	})
}

// fuzzCodec returns the codec FuzzPayload uses for strategy index s over n
// words.
func fuzzCodec(s Strategy, n int) codec {
	switch s {
	case Int8Quantized:
		return quantCodec{bits: 8, block: 16}
	case Int16Quantized:
		return quantCodec{bits: 16, block: 16}
	case PerAxisScaled:
		p := &perAxisCodec{rows: 1, cols: int64(n), rowScale: []float32{0.5}, colScale: make([]float32, n)}
		for j := range p.colScale {
			p.colScale[j] = float32(j)
		}
		return p
	}
	return newCodec(s, DefaultConfig())
}

// FuzzPayload feeds arbitrary payloads straight to every chunk decoder,
// below the checksums that normally stop random bytes: no panic, no
// allocation beyond the bounds, whatever the bytes.
func FuzzPayload(f *testing.F) {
	for si, s := range Strategies() {
		dc := dtypeCases[2]
		td, rd := genPair(dc, 40, uint64(si))
		sanitizeF32(td)
		sanitizeF32(rd)
		l := layoutFor(dc.dt, false)
		p, method, _, err := fuzzCodec(s, 40).encodeChunk(&chunkEnc{l: l, t: td, r: rd, level: 3})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p, uint8(si), uint8(2), method, uint16(40), true)
	}
	// Every auto method with context classes, words and bf16 halves.
	for _, di := range []int{0, 1, 2} {
		dc := dtypeCases[di]
		td, rd := genPair(dc, 40, uint64(di))
		l := layoutFor(dc.dt, dc.bf16)
		for _, m := range []uint8{autoXOR, autoDiff, autoZigzag} {
			c := autoCodec{force: m + 1}
			p, method, _, err := c.encodeChunk(&chunkEnc{l: l, t: td, r: rd, level: 3, halves: rawHalves(c, l)})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(p, uint8(0), uint8(di), method, uint16(40), true)
		}
	}
	// Method zigzag_signs on float16 and bf16 words, with and without
	// classes (the AVX-512 gather takes 128-word blocks).
	for _, di := range []int{0, 20} {
		dc := dtypeCases[di]
		for _, n := range []int{40, 300} {
			td, rd := genSignPair(dc, n/10, 10, 0.8, uint64(n))
			l, _, tw, rw := chunkForms(dc, td, rd)
			if dc.bf16Words {
				l = l.asBF16Words()
			}
			c := autoCodec{force: 1 + autoZigzagSigns, cols: 7}
			p, method, _, err := c.encodeChunk(&chunkEnc{l: l, t: tw, r: rw, first: 3, level: 3})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(p, uint8(0), uint8(di), method, uint16(n), true)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, si, di, method uint8, nw uint16, withRef bool) {
		s := Strategies()[int(si)%len(Strategies())]
		dc := dtypeCases[int(di)%len(dtypeCases)]
		if !s.IsLossless() && dc.dt.Kind != 'f' {
			return // Open refuses lossy strategies on other dtypes
		}
		c := fuzzCodec(s, int(nw)%4096)
		l := layoutFor(dc.dt, dc.bf16 && s == Auto)
		if dc.bf16Words && s == Auto {
			l = l.asBF16Words()
		}
		halves := rawHalves(c, l)
		per := l.width // data bytes per word
		if halves {
			per = 4
		}
		n := int(nw) % 4096
		var r []byte
		if withRef {
			r = make([]byte, n*per)
			for i := range r {
				r[i] = byte(i * 13)
			}
		}
		_ = c.decodeChunk(&chunkDec{l: l, payload: payload, method: method % 6, r: r, dst: make([]byte, n*per), halves: halves})
	})
}

// FuzzSignFlips encodes arbitrary 16-bit words against an arbitrary
// reference with method zigzag_signs in any frame and checks that both
// decoder paths (AVX-512 where there is, pure Go) give the words back
// bit-exact.
func FuzzSignFlips(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0x01, 0x3c, 0xff, 0x7b, 0x00, 0x80, 0x01, 0xfc}, 64), []byte{7, 0x3c}, uint16(13), uint16(5), false)
	f.Add(bytes.Repeat([]byte{0x12, 0x3f, 0xc1, 0xbe}, 300), []byte{0x11, 0x3f, 0xc0}, uint16(64), uint16(0), true)
	f.Fuzz(func(t *testing.T, data, refSeed []byte, cols, first uint16, bf16 bool) {
		if len(refSeed) == 0 || cols == 0 || len(data) < 2 {
			return
		}
		data = data[:len(data)&^1]
		ref := make([]byte, len(data))
		for i := range ref {
			ref[i] = refSeed[i%len(refSeed)] ^ data[i]&byte(i>>1)
		}
		dc := dtypeCases[0]
		l := layoutFor(dc.dt, false)
		if bf16 {
			l = layoutFor(npy.Uint16, false).asBF16Words()
		}
		c := autoCodec{force: 1 + autoZigzagSigns, cols: int64(cols)}
		p, method, _, err := c.encodeChunk(&chunkEnc{l: l, t: data, r: ref, first: int64(first), level: 3})
		if err != nil {
			t.Fatal(err)
		}
		if method == autoStored {
			return
		}
		decodeBothPaths(t, chunkDec{l: l, payload: p, method: method, r: ref}, data)
	})
}
