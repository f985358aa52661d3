package delta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"deltafs/npy"
)

// Tests of method zigzag_signs (signflip.go): the flip against its
// per-word definition, the mask against the pattern, round trips of every
// frame on both decoder paths, corrupt sign sections, and that the sign
// flips pay off where the pattern is there.

// signDtypeCases are the 16-bit float cases the method applies to.
var signDtypeCases = []dtypeCase{dtypeCases[0], dtypeCases[17], dtypeCases[20], dtypeCases[21]}

// genSignPair returns a base and a fine-tune of rows × cols words of dc
// whose differences have a rank-1 sign pattern: the sign of row i times
// the sign of column j, right with probability agree; specials mixed in.
func genSignPair(dc dtypeCase, rows, cols int, agree float64, seed uint64) (target, ref []byte) {
	rng := rand.New(rand.NewPCG(seed, 7))
	rs, cs := make([]float64, rows), make([]float64, cols)
	for i := range rs {
		rs[i] = float64(1 - 2*rng.IntN(2))
	}
	for j := range cs {
		cs[j] = float64(1 - 2*rng.IntN(2))
	}
	n := rows * cols
	target, ref = make([]byte, 2*n), make([]byte, 2*n)
	sp := specialBits(2)
	word := func(v float64) uint64 {
		if dc.bf16Words {
			return uint64(math.Float32bits(float32(v)) >> 16)
		}
		return uint64(f64ToF16(v))
	}
	for k := range n {
		x := rng.NormFloat64() * 0.02
		d := math.Abs(rng.NormFloat64()) * 0.0004 * rs[k/cols] * cs[k%cols]
		if rng.Float64() >= agree {
			d = -d
		}
		rv, tv := word(x), word(x+d)
		if rng.IntN(64) == 0 {
			tv = sp[rng.IntN(len(sp))]
		}
		if rng.IntN(128) == 0 {
			rv = sp[rng.IntN(len(sp))]
		}
		putOrdered(ref, 2, k, rv, dc.dt.Order == '>')
		putOrdered(target, 2, k, tv, dc.dt.Order == '>')
	}
	return target, ref
}

func TestFlipDiffs16(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	words := []uint64{0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe01, 0x0001, 0x8001, 0x83ff, 0x7bff, 0xfbff, 0x3c00, 0xffff, 0x7fff}
	for range 200 {
		words = append(words, uint64(rng.Uint32()&0xffff))
	}
	n := len(words) * len(words)
	d, r := make([]byte, 2*n), make([]byte, 2*n)
	for i, tv := range words {
		for j, rv := range words {
			k := i*len(words) + j
			binary.LittleEndian.PutUint16(d[2*k:], uint16(tv))
			binary.LittleEndian.PutUint16(r[2*k:], uint16(rv))
		}
	}
	m := make([]byte, maskBytes(n))
	for k := range n {
		if rng.IntN(2) == 0 {
			setBit(m, k)
		}
	}
	for _, first := range []int{0, 1, 3, 4, 5} {
		t.Run(fmt.Sprintf("first%d", first), func(t *testing.T) {
			got := bytes.Clone(d[2*first:])
			rr := r[2*first:]
			flipDiffs16(got, got, rr, m, first)
			for k := first; k < n; k++ {
				tv, rv := getWord(d, 2, k), getWord(r, 2, k)
				want := tv
				if bit(m, k) {
					// unord(ord(r) − (ord(t) − ord(r))), one word at a time.
					or := ord64(rv, 0x8000, true)
					want = unordF16(or-(ord64(tv, 0x8000, true)-or)) & 0xffff
				}
				if g := getWord(got, 2, k-first); g != want {
					t.Fatalf("word %d: t=%#04x r=%#04x: got %#04x, want %#04x", k, tv, rv, g, want)
				}
			}
			flipDiffs16(got, got, rr, m, first)
			if !bytes.Equal(got, d[2*first:]) {
				t.Fatal("flipping twice is not the identity")
			}
		})
	}
}

// unordF16 inverts ord64 on 16-bit float words (modulo 2^16).
func unordF16(y uint64) uint64 {
	y &= 0xffff
	if y&0x8000 != 0 {
		return y ^ 0x8000
	}
	return ^y & 0xffff
}

func TestSignMask(t *testing.T) {
	for _, tc := range []struct{ cols, phase, n int }{
		{1, 0, 100}, {3, 2, 200}, {64, 0, 640}, {64, 17, 1000}, {65, 64, 1000}, {200, 150, 70}, {1000, 999, 3000},
	} {
		t.Run(fmt.Sprintf("c%d/p%d/n%d", tc.cols, tc.phase, tc.n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.cols), uint64(tc.n)))
			rows := signRows(tc.cols, tc.phase, tc.n)
			sp := signPattern{cols: tc.cols, phase: tc.phase, colBits: make([]byte, (tc.cols+7)/8+9), rowBits: make([]byte, (rows+7)/8)}
			for j := range tc.cols {
				if rng.IntN(2) == 0 {
					setBit(sp.colBits, j)
				}
			}
			for i := range rows {
				if rng.IntN(2) == 0 {
					setBit(sp.rowBits, i)
				}
			}
			m := bytes.Repeat([]byte{0xa5}, maskBytes(tc.n))
			sp.fillMask(m, tc.n)
			for k := range 8 * len(m) {
				pos := tc.phase + k
				want := k < tc.n && bit(sp.colBits, pos%tc.cols) != bit(sp.rowBits, pos/tc.cols)
				if bit(m, k) != want {
					t.Fatalf("mask bit %d is %v", k, !want)
				}
			}
			// The section round-trips.
			sec := sp.appendSigns(nil)
			got, rest, err := parseSigns(append(sec, 0xee), tc.n)
			if err != nil || !bytes.Equal(rest, []byte{0xee}) || got.cols != tc.cols || got.phase != tc.phase ||
				!bytes.Equal(got.colBits, sp.colBits) || !bytes.Equal(got.rowBits, sp.rowBits) {
				t.Fatalf("section round trip: %+v, %v", got, err)
			}
		})
	}
}

// decodeBothPaths decodes a chunk with the AVX-512 kernels (where there
// are) and with the pure-Go loops and checks both against want.
func decodeBothPaths(t *testing.T, d chunkDec, want []byte) {
	t.Helper()
	saved := useAVX512
	defer func() { useAVX512 = saved }()
	for _, avx := range []bool{saved, false} {
		useAVX512 = avx
		dc := d
		dc.dst = make([]byte, len(want))
		if err := (autoCodec{}).decodeChunk(&dc); err != nil {
			t.Fatalf("avx=%v: %v", avx, err)
		}
		if !bytes.Equal(dc.dst, want) {
			t.Fatalf("avx=%v: decoded words differ", avx)
		}
	}
}

func TestSignFlipsRoundTrip(t *testing.T) {
	frames := []struct{ rows, cols, first int }{
		{64, 64, 0}, {100, 97, 0}, {3, 5000, 4321}, {300, 300, 0}, {5000, 3, 1}, {1, 20000, 0}, {257, 512, 130},
	}
	for _, dc := range signDtypeCases {
		for _, f := range frames {
			t.Run(fmt.Sprintf("%s/%dx%d/first%d", dc.name, f.rows, f.cols, f.first), func(t *testing.T) {
				td, rd := genSignPair(dc, f.rows, f.cols, 0.8, uint64(f.rows*f.cols))
				l, _, tw, rw := chunkForms(dc, td[2*f.first:], rd[2*f.first:])
				if dc.bf16Words {
					l = l.asBF16Words()
				}
				a := autoCodec{force: 1 + autoZigzagSigns, cols: int64(f.cols)}
				payload, method, uses, err := a.encodeChunk(&chunkEnc{l: l, t: tw, r: rw, first: int64(f.first), level: 3})
				if err != nil || method != autoZigzagSigns || !uses {
					t.Fatalf("encode: method %d, uses %v, %v", method, uses, err)
				}
				decodeBothPaths(t, chunkDec{l: l, payload: payload, method: method, r: rw}, tw)
				// A wrong sign bit decodes to other words, never the same.
				bad := bytes.Clone(payload)
				_, k := binary.Uvarint(bad[autoHeaderSize:])
				_, k2 := binary.Uvarint(bad[autoHeaderSize+k:])
				bad[autoHeaderSize+k+k2] ^= 1
				dc := chunkDec{l: l, payload: bad, method: method, r: rw, dst: make([]byte, len(tw))}
				if err := (autoCodec{}).decodeChunk(&dc); err == nil && bytes.Equal(dc.dst, tw) {
					t.Fatal("a flipped column sign decoded to the same words")
				}
			})
		}
	}
}

func TestSignSectionCorrupt(t *testing.T) {
	l := layoutFor(npy.DType{Kind: 'f', Size: 2, Order: '<'}, false)
	n := 100
	r := make([]byte, 2*n)
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"empty", []byte{0, 0, 0}},
		{"cols 0", []byte{0, 0, 0, 0, 0}},
		{"phase = cols", []byte{0, 0, 0, 10, 10, 0, 0}},
		{"cols past the payload", []byte{0, 0, 0, 0xff, 0xff, 0x03, 0}},
		{"rows missing", []byte{0, 0, 0, 10, 0, 0, 0}},
		{"cols overflow", []byte{0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := chunkDec{l: l, payload: tc.payload, method: autoZigzagSigns, r: r, dst: make([]byte, 2*n)}
			if err := (autoCodec{}).decodeChunk(&d); err == nil {
				t.Fatal("corrupt sign section accepted")
			}
		})
	}
	// Other layouts refuse the method.
	for _, dc := range []dtypeCase{dtypeCases[1], dtypeCases[2], dtypeCases[9]} {
		l := layoutFor(dc.dt, dc.bf16)
		d := chunkDec{l: l, payload: []byte{0, 0, 0, 1, 0, 0, 0}, method: autoZigzagSigns, r: make([]byte, 16), dst: make([]byte, 16), halves: dc.bf16}
		if err := (autoCodec{}).decodeChunk(&d); err == nil {
			t.Fatalf("%s: method zigzag_signs accepted", dc.name)
		}
	}
}

// TestSignFlipsPayOff encodes fine-tunes whose differences follow a rank-1
// sign pattern (80 % right) with auto, with the sign flips on and off: on,
// the object must use zigzag_signs and be smaller by at least 2 % (the
// side bits paid); with no pattern (50 %), auto must keep zigzag.
func TestSignFlipsPayOff(t *testing.T) {
	for _, dc := range signDtypeCases[:3] {
		for _, tc := range []struct {
			rows, cols int
			agree      float64
			gain       float64 // smallest size reduction expected
			chunk      int     // chunk size; 0: 96 KiB, chunks that start mid-row
		}{
			{256, 512, 0.8, 0.02, 0},
			{1024, 128, 0.8, 0.02, 0},
			{256, 512, 0.5, 0, 0},
			// A weak pattern, 0.01 bit a word (below signMinGain), on
			// chunks big enough for it to pay the side bits: zigzag kept.
			{2048, 256, 0.56, 0, 1 << 20},
		} {
			t.Run(fmt.Sprintf("%s/%dx%d/%v", dc.name, tc.rows, tc.cols, tc.agree), func(t *testing.T) {
				td, rd := genSignPair(dc, tc.rows, tc.cols, tc.agree, 9)
				shape := []int64{int64(tc.rows), int64(tc.cols)}
				cfg := DefaultConfig()
				cfg.ChunkSize = 96 << 10
				if tc.chunk != 0 {
					cfg.ChunkSize = tc.chunk
				}
				ref := Tensor{DType: dc.dt, Shape: shape, Data: rd}
				on := encodeT(t, Tensor{DType: dc.dt, Shape: shape, Data: td}, &ref, cfg)
				autoSignFlips = false
				off := encodeT(t, Tensor{DType: dc.dt, Shape: shape, Data: td}, &ref, cfg)
				autoSignFlips = true
				o := openT(t, on)
				if got, err := o.DecodeAll(rd); err != nil || !bytes.Equal(got, td) {
					t.Fatalf("decode: %v", err)
				}
				signed := 0
				for i := range o.Header().NumChunks {
					if o.ChunkMethod(i) == autoZigzagSigns {
						signed++
					}
				}
				saved := 1 - float64(len(on))/float64(len(off))
				t.Logf("%d of %d chunks signed, %d bytes for %d (%.1f %% smaller)", signed, o.Header().NumChunks, len(on), len(off), 100*saved)
				if tc.gain == 0 {
					if signed != 0 || len(on) != len(off) {
						t.Fatalf("no pattern, yet %d chunks signed", signed)
					}
					return
				}
				if signed != o.Header().NumChunks || saved < tc.gain {
					t.Fatalf("%d of %d chunks signed, %.1f %% smaller, want all and ≥ %.0f %%", signed, o.Header().NumChunks, 100*saved, 100*tc.gain)
				}
				if o.Header().FormatVersion != 2 {
					t.Fatalf("format version %d, want 2", o.Header().FormatVersion)
				}
			})
		}
	}
}

// BenchmarkSignFlips measures method zigzag_signs beside method zigzag on
// the same data in the same run: a 16 MiB float16 fine-tune (2048 × 4096)
// whose differences follow a rank-1 sign pattern right 80 % of the time
// (so that every 1 MiB chunk takes the sign flips), encoded
// by auto with the sign flips on (every chunk zigzag_signs) and off (every
// chunk zigzag), decoded chunk by chunk. MB/s of the float16 bytes per CPU
// second, one core; encode with the default Config (self-check on, the
// codec hashing both tensors).
func BenchmarkSignFlips(b *testing.B) {
	dc := dtypeCases[0]
	const rows, cols = 2048, 4096
	td, rd := genSignPair(dc, rows, cols, 0.8, 1)
	shape := []int64{rows, cols}
	cfg := DefaultConfig()
	cfg.Concurrency = 1
	for _, flips := range []bool{true, false} {
		name := "zigzag_signs"
		if !flips {
			name = "zigzag"
		}
		var obj []byte
		b.Run(name+"/encode", func(b *testing.B) {
			autoSignFlips = flips
			defer func() { autoSignFlips = true }()
			loop(b, int64(len(td)), func() {
				var err error
				if obj, err = Encode(Tensor{DType: dc.dt, Shape: shape, Data: td}, &Tensor{DType: dc.dt, Shape: shape, Data: rd}, cfg); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(len(td))/float64(len(obj)), "ratio")
		})
		b.Run(name+"/decode", func(b *testing.B) {
			o, err := Open(bytes.NewReader(obj), int64(len(obj)))
			if err != nil {
				b.Fatal(err)
			}
			want := uint8(autoZigzag)
			if flips {
				want = autoZigzagSigns
			}
			for i := range o.hdr.NumChunks {
				if o.ChunkMethod(i) != want {
					b.Fatalf("chunk %d: method %d, want %d", i, o.ChunkMethod(i), want)
				}
			}
			benchDecodeChunks(b, o, rd, td)
			b.ReportMetric(float64(len(td))/float64(len(obj)), "ratio")
		})
	}
}

// TestRowDisagree checks the packed count of fitRows against a word-by-word
// count, every start alignment and length.
func TestRowDisagree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sp := specialBits(2)
	const n = 203
	tw, rw, colNeg := make([]byte, 2*n), make([]byte, 2*n), make([]byte, 2*n+8)
	for k := range n {
		rv := uint64(rng.Uint32() & 0xffff)
		tv := rv + uint64(rng.IntN(5)) - 2
		if rng.IntN(8) == 0 {
			tv, rv = sp[rng.IntN(len(sp))], sp[rng.IntN(len(sp))]
		}
		binary.LittleEndian.PutUint16(tw[2*k:], uint16(tv))
		binary.LittleEndian.PutUint16(rw[2*k:], uint16(rv))
		colNeg[2*k] = byte(rng.IntN(2))
	}
	for start := range 5 {
		for _, end := range []int{start, start + 1, start + 4, start + 7, n} {
			var wantD, wantN int64
			for k := start; k < end; k++ {
				if s := wordSign(tw, rw, k); s != 0 {
					wantN++
					if (s < 0) != (colNeg[2*k] == 1) {
						wantD++
					}
				}
			}
			d, nz := rowDisagree(tw[2*start:2*end], rw[2*start:2*end], colNeg[2*start:])
			if d != wantD || nz != wantN {
				t.Fatalf("[%d,%d): %d of %d disagree, want %d of %d", start, end, d, nz, wantD, wantN)
			}
		}
	}
}
