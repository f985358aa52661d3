package planes

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

func roundTrip(t *testing.T, src []byte, width int, ctx []uint8, nctx, level int) []byte {
	t.Helper()
	block, err := Encode(nil, src, width, ctx, nctx, level)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	got := make([]byte, len(src))
	for i := range got {
		got[i] = 0xA5 // make stale bytes visible
	}
	if err := Decode(got, block, width, ctx, nctx); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !bytes.Equal(got, src) {
		i := 0
		for got[i] == src[i] {
			i++
		}
		t.Fatalf("round trip differs at byte %d of %d: got %#x want %#x", i, len(src), got[i], src[i])
	}
	return block
}

func TestRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 7, 4096, 70000}
	for width := 1; width <= MaxWidth; width++ {
		for _, n := range sizes {
			for _, kind := range dataKinds {
				for _, nctx := range []int{1, 3, 16} {
					name := fmt.Sprintf("w%d/n%d/%s/ctx%d", width, n, kind.name, nctx)
					t.Run(name, func(t *testing.T) {
						r := rand.New(rand.NewPCG(uint64(width), uint64(n)))
						src := kind.gen(r, n, width)
						ctx := genCtx(r, n, nctx)
						roundTrip(t, src, width, ctx, nctx, 6)
					})
				}
			}
		}
	}
}

// TestRoundTripLarge covers 1<<20 words (several segments per stream) for
// every width; kinds and contexts rotate to keep -race under a minute.
func TestRoundTripLarge(t *testing.T) {
	const n = 1 << 20
	for _, tc := range []struct {
		width int
		kind  string
		nctx  int
	}{
		{1, "random", 4}, {2, "floats", 4}, {2, "sparse", 1}, {3, "sparse", 4},
		{4, "floats", 1}, {5, "random", 1}, {6, "sparse", 4}, {7, "lowentropy", 1},
		{8, "floats", 4},
	} {
		t.Run(fmt.Sprintf("w%d/%s/ctx%d", tc.width, tc.kind, tc.nctx), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.width), 99))
			src := kindByName(t, tc.kind).gen(r, n, tc.width)
			roundTrip(t, src, tc.width, genCtx(r, n, tc.nctx), tc.nctx, 6)
		})
	}
}

func kindByName(t testing.TB, name string) dataKind {
	for _, k := range dataKinds {
		if k.name == name {
			return k
		}
	}
	t.Fatalf("no data kind %q", name)
	return dataKind{}
}

func TestLevels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for level := 0; level <= 10; level++ {
		for _, kind := range dataKinds {
			t.Run(fmt.Sprintf("level%d/%s", level, kind.name), func(t *testing.T) {
				src := kind.gen(r, 5000, 2)
				roundTrip(t, src, 2, nil, 0, level)
			})
		}
	}
}

// TestSizes checks the coder actually compresses what it should, and never
// expands incompressible data beyond the per-segment overhead.
func TestSizes(t *testing.T) {
	const n = 1 << 16
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		kind     string
		width    int
		maxRatio float64 // coded/raw must be at most this
	}{
		{"constant", 4, 0.001},
		{"sparse", 2, 0.35},
		{"lowentropy", 4, 0.25}, // order-0 bound: 4.6 bits + 1 bit per sign plane
		{"floats", 2, 0.8},
		{"random", 4, 1.001},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			src := kindByName(t, tc.kind).gen(r, n, tc.width)
			block := roundTrip(t, src, tc.width, nil, 0, 6)
			ratio := float64(len(block)) / float64(len(src))
			t.Logf("%s: %d -> %d bytes (%.4f)", tc.kind, len(src), len(block), ratio)
			if ratio > tc.maxRatio {
				t.Errorf("coded/raw = %.4f, want <= %.4f", ratio, tc.maxRatio)
			}
		})
	}
}

// TestContextHelps: when the class predicts the low plane, coding by class
// must be smaller than coding without it.
func TestContextHelps(t *testing.T) {
	const n = 1 << 16
	r := rand.New(rand.NewPCG(5, 6))
	src := make([]byte, n*2)
	ctx := make([]uint8, n)
	for i := 0; i < n; i++ {
		c := uint8(r.IntN(4))
		ctx[i] = c
		src[2*i] = byte(int(c)*60 + r.IntN(8))
		src[2*i+1] = byte(r.IntN(3))
	}
	with := roundTrip(t, src, 2, ctx, 4, 6)
	without := roundTrip(t, src, 2, nil, 0, 6)
	t.Logf("with ctx %d bytes, without %d", len(with), len(without))
	if len(with) >= len(without) {
		t.Errorf("context did not help: %d >= %d", len(with), len(without))
	}
}

func TestInvalidArguments(t *testing.T) {
	src := make([]byte, 8)
	for _, tc := range []struct {
		name  string
		src   []byte
		width int
		ctx   []uint8
		nctx  int
	}{
		{"width0", src, 0, nil, 0},
		{"width9", src, 9, nil, 0},
		{"notMultiple", src[:7], 2, nil, 0},
		{"ctxLength", src, 2, []uint8{0, 1}, 2},
		{"ctxClass", src, 2, []uint8{0, 1, 2, 1}, 2},
		{"nctxNegative", src, 2, nil, -1},
		{"nctxHuge", src, 2, nil, 257},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Encode(nil, tc.src, tc.width, tc.ctx, tc.nctx, 6); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("Encode error %v, want ErrInvalidArgument", err)
			}
			if err := Decode(tc.src, []byte{formatVersion, modePlain, defaultSegLog}, tc.width, tc.ctx, tc.nctx); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("Decode error %v, want ErrInvalidArgument", err)
			}
		})
	}
}

// TestEncodeAppends checks Encode appends to dst and leaves its prefix alone.
func TestEncodeAppends(t *testing.T) {
	src := []byte{1, 2, 3, 4, 5, 6}
	prefix := []byte("prefix")
	out, err := Encode(append([]byte(nil), prefix...), src, 2, nil, 0, 6)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("prefix lost: %q", out)
	}
	got := make([]byte, len(src))
	if err := Decode(got, out[len(prefix):], 2, nil, 0); err != nil || !bytes.Equal(got, src) {
		t.Fatalf("Decode = %v, %v", got, err)
	}
}

func TestCorrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n := 20000
	src := dataKinds[2].gen(r, n, 2) // lowentropy: huff0 segments
	sparse := dataKinds[3].gen(r, n, 2)
	good, _ := Encode(nil, src, 2, nil, 0, 6)
	goodSparse, _ := Encode(nil, sparse, 2, nil, 0, 9)
	for _, tc := range []struct {
		name  string
		block []byte
		dstN  int
	}{
		{"empty", nil, n},
		{"short", good[:2], n},
		{"version", append([]byte{9}, good[1:]...), n},
		{"mode", append([]byte{formatVersion, 7}, good[2:]...), n},
		{"segLogSmall", append([]byte{formatVersion, modePlain, 3}, good[3:]...), n},
		{"segLogBig", append([]byte{formatVersion, modePlain, 30}, good[3:]...), n},
		{"truncated", good[:len(good)-1], n},
		{"trailing", append(append([]byte(nil), good...), 0), n},
		{"wrongLength", good, n - 1},
		{"wrongLengthLonger", good, n + 1},
		{"emptyTrailing", []byte{formatVersion, modePlain, defaultSegLog, 0}, 0},
		{"unknownMethod", []byte{formatVersion, modePlain, defaultSegLog, 99, 1}, 1},
		{"hugeLength", []byte{formatVersion, modePlain, defaultSegLog, byte(methodHuff4X), 0xff, 0xff, 0xff, 0xff, 0x0f}, 100},
		{"sparseTruncated", goodSparse[:len(goodSparse)/2], n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, tc.dstN*2)
			if err := Decode(dst, tc.block, 2, nil, 0); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Decode error %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestBitFlips flips every byte of small blocks: decoding must error or
// produce some output, never panic. (The delta layer's CRC catches silent
// corruption; planes only guarantees safety.)
func TestBitFlips(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, kind := range dataKinds {
		src := kind.gen(r, 600, 2)
		for _, level := range []int{1, 9} {
			block, err := Encode(nil, src, 2, nil, 0, level)
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]byte, len(src))
			for i := range block {
				b := append([]byte(nil), block...)
				b[i] ^= 1 << (i % 8)
				_ = Decode(dst, b, 2, nil, 0)
			}
		}
	}
}

// TestConcurrent encodes and decodes from several goroutines at once (run
// under -race): pooled coders and the shared zstd decoder must not leak
// state between calls.
func TestConcurrent(t *testing.T) {
	samples := methodSamples()
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			defer func() { done <- err }()
			for i := 0; i < 3*len(samples); i++ {
				s := samples[(i+g)%len(samples)]
				var block []byte
				if block, err = Encode(nil, s.data, 1, nil, 0, s.level); err != nil {
					return
				}
				got := make([]byte, len(s.data))
				if err = Decode(got, block, 1, nil, 0); err != nil {
					return
				}
				if !bytes.Equal(got, s.data) {
					err = fmt.Errorf("%s: round trip differs", s.name)
					return
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
