package delta

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

func TestWordConversions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dc := range dtypeCases {
		for _, n := range []int{0, 1, 3, 4, 5, 17, 64} {
			data := make([]byte, n*dc.dt.Size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			if dc.bf16 {
				lo := 0
				if dc.dt.Order == '>' {
					lo = 2
				}
				for i := 0; i+4 <= len(data); i += 4 {
					data[i+lo], data[i+lo+1] = 0, 0
				}
				if !isBF16Halves(data, dc.dt.Order == '>') {
					t.Fatalf("%s: bf16 data not recognised", dc.name)
				}
			}
			l := layoutFor(dc.dt, dc.bf16)
			w := make([]byte, len(data)/l.rawPerWord()*l.width)
			l.toWords(w, data)
			// Word i must be the element's value in little-endian form.
			for i := 0; i < len(w)/l.width; i++ {
				want := getOrdered(data, l.rawPerWord(), i, l.bigEndian)
				if l.bf16 {
					want >>= 16
				}
				if got := getWord(w, l.width, i); got != want {
					t.Fatalf("%s n=%d word %d: %#x want %#x", dc.name, n, i, got, want)
				}
			}
			back := make([]byte, len(data))
			l.fromWords(back, w)
			if !bytes.Equal(back, data) {
				t.Fatalf("%s n=%d: words do not convert back", dc.name, n)
			}
		}
	}
}

func TestFloat16Conversion(t *testing.T) {
	// Every binary16 value survives f16 → f64 → f16 (NaNs become quiet).
	for h := 0; h < 1<<16; h++ {
		v := f16ToF64(uint16(h))
		got := f64ToF16(v)
		if v != v {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("%#x: NaN became %#x", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Fatalf("%#x -> %g -> %#x", h, v, got)
		}
	}
	cases := []struct {
		v    float64
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00},            // tie, rounds to even
		{1 + 3.0/2048, 0x3c02},            // tie, rounds to even (up)
		{65504, 0x7bff},                   // max
		{65520, 0x7c00},                   // rounds to infinity
		{5.960464477539063e-08 / 2, 0},    // half the smallest subnormal: tie to even 0
		{5.960464477539063e-08 * 0.75, 1}, // above half: smallest subnormal
		{math.Copysign(0, -1), 0x8000},
	}
	for _, c := range cases {
		if got := f64ToF16(c.v); got != c.want {
			t.Errorf("f64ToF16(%g) = %#x, want %#x", c.v, got, c.want)
		}
	}
}
