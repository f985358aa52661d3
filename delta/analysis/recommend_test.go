package analysis

import (
	"errors"
	"math"
	"strings"
	"testing"

	"deltafs/delta"
	"deltafs/npy"
)

func finetuneTensors(dt npy.DType, bf16 bool, rows, cols int) (target, ref delta.Tensor) {
	base, tune := finetuneValues(rows, cols, 11)
	target, ref = tensorOf(dt, bf16, tune), tensorOf(dt, bf16, base)
	target.Shape = []int64{int64(rows), int64(cols)}
	ref.Shape = target.Shape
	return target, ref
}

func TestRecommend(t *testing.T) {
	f32t, f32r := finetuneTensors(npy.Float32, false, 128, 256)
	bt, br := finetuneTensors(npy.Float32, true, 128, 256)
	big, bigRef := finetuneTensors(npy.Float32, true, 1024, 1024) // sampled
	it := tensorOf(npy.Int32, false, make([]float64, 5000))
	empty := tensorOf(npy.Float32, false, nil)
	for _, tc := range []struct {
		name       string
		t          delta.Tensor
		ref        *delta.Tensor
		cfg        RecommendConfig
		wantLossy  bool
		wantSample bool
	}{
		{"f32", f32t, &f32r, RecommendConfig{}, false, false},
		{"bf16", bt, &br, RecommendConfig{}, false, false},
		{"bf16-alone", bt, nil, RecommendConfig{}, false, false},
		{"int32", it, &it, RecommendConfig{}, false, false},
		{"empty", empty, &empty, RecommendConfig{}, false, false},
		{"f32-lossy", f32t, &f32r, RecommendConfig{AllowLossy: true}, true, false},
		{"f32-lossy-tight", f32t, &f32r, RecommendConfig{AllowLossy: true, MaxAbsError: 1e-30}, false, false},
		{"bf16-sampled", big, &bigRef, RecommendConfig{SampleBytes: 512 << 10}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := Recommend(tc.t, tc.ref, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("best %s: %s", rec.Best, rec.Reason)
			for _, c := range rec.Candidates {
				t.Logf("  %-18s eligible=%-5v size %8d ratio %6.3f err %.3g  %s %v", c.Strategy, c.Eligible, c.EstimatedSize, c.Ratio, c.MaxAbsError, c.Reason, c.Err)
			}
			if len(rec.Candidates) != len(delta.Strategies()) {
				t.Errorf("%d candidates, want every strategy (%d)", len(rec.Candidates), len(delta.Strategies()))
			}
			best := rec.Candidates[0]
			if best.Strategy != rec.Best || !best.Eligible {
				t.Fatalf("best %s is not the first eligible candidate", rec.Best)
			}
			if best.Lossless == tc.wantLossy && !tc.wantLossy {
				t.Errorf("best %s lossless=%v", rec.Best, best.Lossless)
			}
			for _, c := range rec.Candidates[1:] {
				if c.Eligible && c.EstimatedSize < best.EstimatedSize {
					t.Errorf("%s (%d bytes) smaller than the best %s (%d)", c.Strategy, c.EstimatedSize, best.Strategy, best.EstimatedSize)
				}
				if c.Eligible && !c.Lossless && !tc.cfg.AllowLossy {
					t.Errorf("lossy %s eligible without AllowLossy", c.Strategy)
				}
				if c.Eligible && tc.cfg.MaxAbsError > 0 && c.MaxAbsError > tc.cfg.MaxAbsError {
					t.Errorf("%s eligible with error %g", c.Strategy, c.MaxAbsError)
				}
				// An exact decoding has no noise; an inexact one a finite
				// signal-to-noise ratio.
				if c.Err == nil && !c.Lossless && (c.MaxAbsError == 0) != math.IsInf(c.SNR, 1) {
					t.Errorf("%s: max error %g but SNR %g dB", c.Strategy, c.MaxAbsError, c.SNR)
				}
			}
			sampled := best.SampleBytes < len(tc.t.Data)
			if sampled != tc.wantSample {
				t.Errorf("sampled %d of %d bytes", best.SampleBytes, len(tc.t.Data))
			}
			if rec.Stats == nil || rec.Stats.Elements == 0 && len(tc.t.Data) > 0 {
				t.Error("no statistics")
			}
		})
	}
}

// TestRecommendSampleEstimate: the extrapolated size of a sampled tensor is
// close to the size of encoding it whole.
func TestRecommendSampleEstimate(t *testing.T) {
	tt, rt := finetuneTensors(npy.Float32, true, 512, 1024)
	rec, err := Recommend(tt, &rt, RecommendConfig{SampleBytes: 256 << 10, Strategies: []delta.Strategy{delta.Auto}})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := delta.Encode(tt, &rt, delta.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	est := rec.Candidates[0].EstimatedSize
	if rel := float64(est)/float64(len(obj)) - 1; rel > 0.05 || rel < -0.05 {
		t.Errorf("estimated %d bytes, actual %d (%.1f%%)", est, len(obj), 100*rel)
	}
}

func TestRecommendErrors(t *testing.T) {
	a := tensorOf(npy.Float32, false, []float64{1, 2})
	b := tensorOf(npy.Float16, false, []float64{1, 2})
	if _, err := Recommend(a, &b, RecommendConfig{}); !errors.Is(err, ErrMismatch) {
		t.Errorf("mismatch: %v", err)
	}
	rec, err := Recommend(a, nil, RecommendConfig{Strategies: []delta.Strategy{delta.Int8Quantized}})
	if err == nil || !strings.Contains(err.Error(), "no strategy") {
		t.Errorf("only a lossy strategy, lossy not allowed: %v (%+v)", err, rec)
	}
}

// TestErrorStats: the largest error and the signal-to-noise ratio of a
// decoding, against figures worked out by hand.
func TestErrorStats(t *testing.T) {
	orig := tensorOf(npy.Float64, false, []float64{3, 4, 0, 0})
	cases := []struct {
		name        string
		got         []float64
		wantMax     float64
		wantSNR     float64
		wantExactly bool
	}{
		{"exact", []float64{3, 4, 0, 0}, 0, math.Inf(1), true},
		// signal 25, noise 0.25: 20 dB.
		{"noisy", []float64{3.5, 4, 0, 0}, 0.5, 20, false},
		// signal 25, noise 2.5: 10 dB.
		{"noisier", []float64{3, 4, 1.5, 0.5}, 1.5, 10, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, snr := errorStats(orig, tensorOf(npy.Float64, false, c.got).Data)
			if m != c.wantMax || math.Abs(snr-c.wantSNR) > 1e-9 && !(c.wantExactly && snr == c.wantSNR) {
				t.Errorf("errorStats = %g, %g dB; want %g, %g dB", m, snr, c.wantMax, c.wantSNR)
			}
		})
	}
}
