package analysis

import (
	"math"
	"testing"

	"deltafs/npy"
)

// TestSketch: windows lie inside the data and are the same for every
// tensor of one size; similarity is 1 for a scaled copy, near 1 for a
// fine-tune, low for unrelated values.
func TestSketch(t *testing.T) {
	cases := []struct {
		raw  int64
		want int // ranges
	}{{0, 0}, {4, 1}, {4 * 1024, 1}, {4 * 1025, 4}, {4 << 20, 4}}
	for _, c := range cases {
		rs := SketchRanges(npy.Float32, c.raw)
		if len(rs) != c.want {
			t.Errorf("raw %d: %d ranges, want %d", c.raw, len(rs), c.want)
		}
		end := int64(0)
		for _, r := range rs {
			if r[0] < end || r[0]+r[1] > c.raw || r[0]%4 != 0 || r[1]%4 != 0 {
				t.Errorf("raw %d: range %v overlaps or leaves the data", c.raw, r)
			}
			end = r[0] + r[1]
		}
	}
	base, tune := finetuneValues(64, 64, 3)
	_, other := finetuneValues(64, 64, 4)
	scaled := make([]float64, len(base))
	for i, v := range base {
		scaled[i] = 2 * v
	}
	sk := func(v []float64) Sketch {
		tt := tensorOf(npy.Float32, false, v)
		s, err := NewSketch(tt.DType, Gather(tt.Data, SketchRanges(tt.DType, int64(len(tt.Data)))))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	b := sk(base)
	for _, c := range []struct {
		name   string
		v      []float64
		lo, hi float64
	}{{"scaled copy", scaled, 1 - 1e-6, 1 + 1e-6}, {"fine-tune", tune, 0.98, 1 + 1e-6}, {"unrelated", other, -0.5, 0.5}} {
		if got := b.Similarity(sk(c.v)); !(got >= c.lo && got <= c.hi) {
			t.Errorf("%s: similarity %v, want in [%v, %v]", c.name, got, c.lo, c.hi)
		}
	}
	if got := b.Similarity(b[:10]); got != 0 {
		t.Errorf("different lengths: %v", got)
	}
	if got := make(Sketch, 4).Similarity(make(Sketch, 4)); got != 1 {
		t.Errorf("all zero: %v", got)
	}
	if back, err := ParseSketch(b.Bytes()); err != nil || back.Similarity(b) < 1-1e-12 || len(back) != len(b) {
		t.Errorf("ParseSketch(Bytes) = %d values, %v", len(back), err)
	}
	nan := tensorOf(npy.Float32, false, []float64{math.NaN(), math.Inf(1), 1})
	if s, err := NewSketch(nan.DType, nan.Data); err != nil || s[0] != 0 || s[1] != 0 || s[2] != 1 {
		t.Errorf("non-finite values: %v, %v", s, err)
	}
}

// FuzzParseSketch: any bytes parse or are refused, and a parsed sketch
// comes back byte for byte.
func FuzzParseSketch(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSketch(b)
		if err != nil {
			if len(b)%4 == 0 {
				t.Fatalf("refused %d bytes: %v", len(b), err)
			}
			return
		}
		if got := s.Bytes(); string(got) != string(b) {
			t.Fatalf("round trip changed the bytes")
		}
		_ = s.Similarity(s)
	})
}
