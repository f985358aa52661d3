package analysis

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"deltafs/delta"
	"deltafs/npy"
)

// checkQuantized verifies the stated bound: every value decodes bit-exactly
// or within Scale/2, and exactly info.Outliers values were kept exactly
// where the reconstruction would otherwise miss.
func checkQuantized(t *testing.T, orig delta.Tensor, enc []byte, info QuantInfo) {
	t.Helper()
	got, dt, err := Dequantize(enc, len(orig.Data))
	if err != nil {
		t.Fatal(err)
	}
	if dt != orig.DType || len(got) != len(orig.Data) {
		t.Fatalf("decoded %v/%d bytes, want %v/%d", dt, len(got), orig.DType, len(orig.Data))
	}
	ov, _ := newView(orig)
	gv := ov
	gv.data = got
	for i := 0; i < ov.len(); i++ {
		if ov.word(i) == gv.word(i) {
			continue
		}
		a, b := ov.value(i), gv.value(i)
		if !(math.Abs(a-b) <= info.MaxError) {
			t.Fatalf("value %d: %v decoded as %v, error %g > bound %g", i, a, b, math.Abs(a-b), info.MaxError)
		}
	}
	if info.MaxError != info.Scale/2 {
		t.Errorf("MaxError %v, Scale %v", info.MaxError, info.Scale)
	}
	if info.Size != len(enc) {
		t.Errorf("Size %d, encoded %d", info.Size, len(enc))
	}
}

func TestAdaptiveQuantize(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	normal := func(n int, std float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64() * std
		}
		return v
	}
	withOutliers := normal(5000, 1e-3)
	for i := 0; i < 50; i++ { // 50 values beyond 100σ at distinct places
		withOutliers[i*97] = math.Copysign(0.1+r.Float64(), r.NormFloat64())
	}
	special := append(normal(1000, 0.5), math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 5e-324)
	constant := make([]float64, 300)
	for i := range constant {
		constant[i] = 0.1
	}
	for _, tc := range []struct {
		name        string
		dtype       npy.DType
		bf16        bool
		vals        []float64
		bits        int
		minOutliers int
	}{
		{"f32-normal-8", npy.Float32, false, normal(10000, 0.01), 8, 0},
		{"f32-normal-16", npy.Float32, false, normal(10000, 0.01), 16, 0},
		{"f16-normal", npy.Float16, false, normal(10000, 0.01), 8, 0},
		{"bf16-normal", npy.Float32, true, normal(10000, 0.01), 8, 0},
		{"f64-normal", npy.Float64, false, normal(10000, 1e5), 16, 0},
		{"f32-big-endian", npy.DType{Kind: 'f', Size: 4, Order: '>'}, false, normal(1000, 2), 8, 0},
		{"outliers", npy.Float32, false, withOutliers, 8, 50},
		{"special", npy.Float32, false, special, 8, 3},
		{"f16-special", npy.Float16, false, special, 8, 3},
		{"constant", npy.Float32, false, constant, 8, 0},
		{"empty", npy.Float32, false, nil, 8, 0},
		{"c64", npy.Complex64, false, normal(2000, 1), 8, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := tensorOf(tc.dtype, tc.bf16, tc.vals)
			enc, info, err := AdaptiveQuantize(orig, QuantConfig{Bits: tc.bits})
			if err != nil {
				t.Fatal(err)
			}
			checkQuantized(t, orig, enc, info)
			if info.Outliers < tc.minOutliers {
				t.Errorf("%d outliers, want at least %d", info.Outliers, tc.minOutliers)
			}
			// Gaussian data: the 3-sigma range leaves ~0.3% outside; float16's
			// coarse rounding near the bound adds up to ~1%.
			if tc.minOutliers == 0 && info.Outliers > len(tc.vals)*15/1000+2 {
				t.Errorf("%d outliers of %d values", info.Outliers, len(tc.vals))
			}
			t.Logf("%d values -> %d bytes, scale %.3g, %d outliers", info.Values, info.Size, info.Scale, info.Outliers)
		})
	}
}

// TestQuantizeErrorShrinks: 16-bit codes bound the error 257 times tighter
// than 8-bit ones (qmax 32767 vs 127).
func TestQuantizeErrorShrinks(t *testing.T) {
	base, tune := finetuneValues(32, 32, 1)
	d := make([]float64, len(base))
	for i := range d {
		d[i] = tune[i] - base[i]
	}
	tt := tensorOf(npy.Float64, false, d)
	_, i8, err := AdaptiveQuantize(tt, QuantConfig{Bits: 8})
	if err != nil {
		t.Fatal(err)
	}
	_, i16, err := AdaptiveQuantize(tt, QuantConfig{Bits: 16})
	if err != nil {
		t.Fatal(err)
	}
	if got := i8.MaxError / i16.MaxError; math.Abs(got-32767.0/127) > 1e-6 {
		t.Errorf("bound ratio %v, want %v", got, 32767.0/127)
	}
}

func TestQuantizeErrors(t *testing.T) {
	ints := tensorOf(npy.Int32, false, []float64{1, 2})
	f := tensorOf(npy.Float32, false, []float64{1, 2})
	for _, tc := range []struct {
		name string
		t    delta.Tensor
		cfg  QuantConfig
	}{
		{"ints", ints, QuantConfig{}},
		{"bits", f, QuantConfig{Bits: 4}},
		{"sigmas", f, QuantConfig{Sigmas: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := AdaptiveQuantize(tc.t, tc.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
	good, _, _ := AdaptiveQuantize(tensorOf(npy.Float32, false, []float64{1, 2, 3, 100}), QuantConfig{Sigmas: 0.5})
	for i := range good {
		for _, cut := range []bool{true, false} {
			t.Run(fmt.Sprintf("mutate%d/%v", i, cut), func(t *testing.T) {
				b := bytes.Clone(good)
				if cut {
					b = b[:i]
				} else {
					b[i] ^= 0xff
				}
				out, dt, err := Dequantize(b, 16)
				if cut && !errors.Is(err, ErrCorrupt) {
					t.Errorf("truncated at %d: %v", i, err)
				}
				if err == nil && len(out) != 16 && dt.Size == 4 {
					t.Errorf("decoded %d bytes", len(out))
				}
			})
		}
	}
	if _, _, err := Dequantize(good, 15); !errors.Is(err, ErrCorrupt) {
		t.Errorf("size limit: %v", err)
	}
}

func FuzzDequantize(f *testing.F) {
	for _, bits := range []int{8, 16} {
		enc, _, _ := AdaptiveQuantize(tensorOf(npy.Float32, false, []float64{1, 2, 3, 100, math.NaN()}), QuantConfig{Bits: bits, Sigmas: 0.5})
		f.Add(enc)
		enc, _, _ = AdaptiveQuantize(tensorOf(npy.Float16, false, []float64{-1, 0.5, 0.25}), QuantConfig{Bits: bits})
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, enc []byte) {
		const limit = 1 << 16
		out, dt, err := Dequantize(enc, limit)
		if err != nil {
			return
		}
		if len(out) > limit || len(out)%dt.Size != 0 && dt.Kind != 'c' {
			t.Fatalf("output of %d bytes for %v", len(out), dt)
		}
	})
}

// FuzzQuantizeBound quantizes arbitrary bit patterns as float16, float32 or
// float64 and checks the stated bound on every value.
func FuzzQuantizeBound(f *testing.F) {
	f.Add([]byte{0, 0x3c, 0, 0xbc, 0xff, 0x7f, 1, 0}, uint8(0), uint8(8), 3.0)
	f.Add(le32(1, 2, 3, 1e30, -0.0), uint8(1), uint8(16), 1.0)
	f.Fuzz(func(t *testing.T, data []byte, kind, bits uint8, sigmas float64) {
		dt := []npy.DType{npy.Float16, npy.Float32, npy.Float64}[int(kind)%3]
		data = data[:len(data)/dt.Size*dt.Size]
		b := 8
		if bits%2 == 1 {
			b = 16
		}
		if !(sigmas > 0.01 && sigmas < 100) {
			sigmas = 3
		}
		tt := delta.Tensor{DType: dt, Shape: []int64{int64(len(data) / dt.Size)}, Data: data}
		enc, info, err := AdaptiveQuantize(tt, QuantConfig{Bits: b, Sigmas: sigmas})
		if err != nil {
			t.Fatal(err)
		}
		checkQuantized(t, tt, enc, info)
	})
}
