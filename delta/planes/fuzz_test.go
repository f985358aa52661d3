package planes

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// FuzzDecode feeds arbitrary blocks to Decode: it must return an error or
// fill dst, never panic; the output size is bounded by the dst the caller
// sized (n words of width bytes).
func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, kind := range dataKinds {
		for _, width := range []int{1, 2, 4} {
			for _, level := range []int{1, 6, 9} {
				src := kind.gen(r, 300, width)
				ctx := genCtx(r, 300, 2)
				nctx := 2
				if level == 6 {
					ctx, nctx = nil, 0
				}
				block, err := Encode(nil, src, width, ctx, nctx, level)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(block, uint16(300), uint8(width), uint8(nctx), uint64(level))
			}
		}
	}
	for _, s := range methodSamples() {
		data := s.data[:min(len(s.data), 4000)]
		block, err := Encode(nil, data, 1, nil, 0, s.level)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(block, uint16(len(data)), uint8(0), uint8(0), uint64(0))
	}
	f.Add([]byte{formatVersion, modePlain, defaultSegLog}, uint16(0), uint8(1), uint8(0), uint64(0))
	f.Fuzz(func(t *testing.T, block []byte, n uint16, width, nctx uint8, seed uint64) {
		w := int(width%MaxWidth) + 1
		words := int(n % 4096)
		dst := make([]byte, words*w)
		var ctx []uint8
		if nctx > 1 {
			ctx = genCtx(rand.New(rand.NewPCG(seed, 0)), words, int(nctx))
		}
		_ = Decode(dst, block, w, ctx, int(nctx))
		// The sorted form, with class counts that cut the words anywhere.
		if nctx > 1 {
			counts := make([]int, nctx)
			for _, c := range ctx {
				counts[c]++
			}
			_ = DecodeSorted(dst, block, w, counts)
		}
	})
}

// FuzzRoundTrip encodes arbitrary words at every level and decodes them.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello, planes"), uint8(1), uint8(0), uint8(6))
	f.Add(bytes.Repeat([]byte{0, 0, 0, 1}, 500), uint8(4), uint8(3), uint8(9))
	f.Add(make([]byte, 4000), uint8(2), uint8(0), uint8(1))
	// Sparse segments: exceptions after runs longer than 255 fill bytes, at
	// and off 32-byte boundaries, and a constant plane beside them.
	sparse := make([]byte, 20000)
	for i := 0; i < len(sparse); i += 300 + i%7 {
		sparse[i] = byte(1 + i%5)
	}
	f.Add(sparse, uint8(1), uint8(0), uint8(6))
	f.Add(sparse, uint8(2), uint8(2), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, width, nctx, level uint8) {
		w := int(width%MaxWidth) + 1
		data = data[:len(data)/w*w]
		n := len(data) / w
		var ctx []uint8
		if nctx > 1 && n > 0 {
			ctx = make([]uint8, n)
			for i := range ctx {
				ctx[i] = data[i*w] % nctx
			}
		}
		block, err := Encode(nil, data, w, ctx, int(nctx), int(level%10))
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		got := make([]byte, len(data))
		if err := Decode(got, block, w, ctx, int(nctx)); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("round trip differs")
		}
		// The sorted API writes and reads the same block.
		pl, counts := sortedPlanes(data, w, ctx, int(nctx))
		sorted, err := EncodeSorted(nil, pl, w, counts, int(level%10))
		if err != nil || !bytes.Equal(sorted, block) {
			t.Fatalf("EncodeSorted: %v; same block: %v", err, bytes.Equal(sorted, block))
		}
		back := make([]byte, len(pl))
		if err := DecodeSorted(back, block, w, counts); err != nil || !bytes.Equal(back, pl) {
			t.Fatalf("DecodeSorted: %v", err)
		}
	})
}
