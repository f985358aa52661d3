package npy

import (
	"encoding/binary"
	"math"
	"testing"
)

// f32le encodes float32 values little-endian.
func f32le(vals ...float32) []byte {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// bf16Values returns n float32s that bfloat16 represents exactly, including
// the special values.
func bf16Values(n int) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00000), math.Float32frombits(0xffa10000), // NaNs with payloads
		math.Float32frombits(0x00010000), // subnormal
		1, -2.5, 0.0078125}
	out := make([]float32, n)
	for i := range out {
		if i < len(special) {
			out[i] = special[i]
		} else {
			out[i] = math.Float32frombits(uint32(i*2654435761) &^ 0xffff)
		}
	}
	return out
}

func TestIsBF16Representable(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"empty", nil, true},
		{"one value", f32le(1.5), true},
		{"specials", f32le(bf16Values(10)...), true},
		{"long bf16", f32le(bf16Values(10000)...), true},
		{"not a multiple of 4", []byte{0, 0, 0x80, 0x3f, 0}, false},
		{"pi", f32le(math.Pi), false},
		{"nan with low payload", f32le(math.Float32frombits(0x7fc00001)), false},
		{"smallest subnormal", f32le(math.Float32frombits(1)), false},
	}
	for _, tt := range tests {
		if got := IsBF16Representable(tt.data); got != tt.want {
			t.Errorf("%s: IsBF16Representable = %v, want %v", tt.name, got, tt.want)
		}
	}
	// A single stray low bit anywhere, in either low byte, is found: at the
	// start, in the unrolled blocks, at block edges and in the tail.
	base := f32le(bf16Values(3001)...)
	for _, elem := range []int{0, 1, 7, 8, 1023, 1024, 1025, 2999, 3000} {
		for _, byteInElem := range []int{0, 1} {
			b := append([]byte(nil), base...)
			b[4*elem+byteInElem] = 0x40
			if IsBF16Representable(b) {
				t.Errorf("stray bit in element %d byte %d not detected", elem, byteInElem)
			}
		}
	}
	// High bytes never matter.
	b := append([]byte(nil), base...)
	for i := 2; i < len(b); i += 4 {
		b[i], b[i+1] = 0xff, 0xff
	}
	if !IsBF16Representable(b) {
		t.Error("high halves changed the answer")
	}
}

func BenchmarkIsBF16Representable(b *testing.B) {
	data := f32le(bf16Values(1 << 20)...) // 4 MiB, all representable: a full scan
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !IsBF16Representable(data) {
				b.Fatal("wrong answer")
			}
		}
	})
	b.Run("baseline-per-element", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			ok := true
			for i := 0; i < len(data); i += 4 {
				if binary.LittleEndian.Uint32(data[i:])&0xffff != 0 {
					ok = false
					break
				}
			}
			if !ok {
				b.Fatal("wrong answer")
			}
		}
	})
}

func BenchmarkParseHeader(b *testing.B) {
	hdr, err := FormatHeader(Header{DType: Float32, Shape: []int64{4096, 11008}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(hdr)))
	for b.Loop() {
		if _, _, err := ParseHeader(hdr); err != nil {
			b.Fatal(err)
		}
	}
}
