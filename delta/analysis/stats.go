package analysis

import (
	"fmt"
	"math"
	"slices"

	"deltafs/delta"
)

// StatsConfig tunes DeltaStatistics. The zero value uses the defaults.
type StatsConfig struct {
	// Threshold: |delta| below it counts as near-zero (default 1e-6, the
	// sparse strategy's default).
	Threshold float64
	// Quantiles of the float delta to report (default 0.01, 0.05, 0.25,
	// 0.5, 0.75, 0.95, 0.99).
	Quantiles []float64
	// MaxSortSample caps the number of deltas sorted for the quantiles
	// (default 1<<20); larger tensors use a deterministic pseudo-random
	// sample of about that many (an evenly strided one would alias with the
	// row length).
	MaxSortSample int
}

// DefaultThreshold is the default near-zero threshold.
const DefaultThreshold = 1e-6

var defaultQuantiles = []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99}

// Quantile is one point of the delta's distribution.
type Quantile struct {
	Q     float64 // in [0, 1]
	Value float64
}

// DeltaStats describes target − reference element by element. Element
// values are those of the dtype, decoded exactly; the float delta is
// computed in float64 (exact for float16/bfloat16/float32 inputs and for
// integers below 2^53; float64 deltas round to nearest).
type DeltaStats struct {
	Elements int // values compared (a complex element counts twice)
	Width    int // bytes per value word

	Equal         int     // bit-identical values
	EqualFraction float64 // Equal / Elements: the lossless sparsity
	Threshold     float64
	NearZero      int     // finite |delta| < Threshold (includes Equal ones that are finite)
	NearFraction  float64 // NearZero / Elements: the lossy sparsity
	NonFinite     int     // changed values whose delta is NaN or infinite (left out below)

	// Byte-plane entropies in bits per byte (order 0), plane 0 = least
	// significant byte: of the XOR of the bit patterns and of the
	// difference of their order-preserving integer maps.
	XORPlaneEntropy  []float64
	DiffPlaneEntropy []float64
	// Bound ratios raw/coded implied by those entropies (per-plane coding
	// without contexts); +Inf when the delta is all zero.
	XORBoundRatio, DiffBoundRatio float64

	// Of the finite float deltas:
	Min, Max, Mean, Std float64
	Range               float64 // Max − Min
	MaxAbs              float64
	Quantiles           []Quantile
	QuantilesExact      bool // false: estimated from a sample
}

// DeltaStatistics compares target with ref (nil: against all-zero values,
// so the statistics describe the target alone). Target and reference must
// have the same dtype and size.
func DeltaStatistics(target delta.Tensor, ref *delta.Tensor, cfg StatsConfig) (*DeltaStats, error) {
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultThreshold
	}
	if cfg.Threshold < 0 || math.IsNaN(cfg.Threshold) {
		return nil, fmt.Errorf("analysis: threshold %v must be positive", cfg.Threshold)
	}
	if cfg.Quantiles == nil {
		cfg.Quantiles = defaultQuantiles
	}
	for _, q := range cfg.Quantiles {
		if !(q >= 0 && q <= 1) {
			return nil, fmt.Errorf("analysis: quantile %v outside [0, 1]", q)
		}
	}
	if cfg.MaxSortSample <= 0 {
		cfg.MaxSortSample = 1 << 20
	}
	tv, err := newView(target)
	if err != nil {
		return nil, err
	}
	var rv elemView
	if ref != nil {
		if err := sameShapeSize(target, *ref); err != nil {
			return nil, err
		}
		rv, _ = newView(*ref)
	}
	n := tv.len()
	w := tv.width
	s := &DeltaStats{Elements: n, Width: w, Threshold: cfg.Threshold}
	xorHist := make([][256]int, w)
	diffHist := make([][256]int, w)
	// Keep element i when its hash falls below keep (of 2^32).
	keep := uint64(1) << 32
	if n > cfg.MaxSortSample {
		keep = uint64(float64(cfg.MaxSortSample) / float64(n) * (1 << 32))
	}
	sample := make([]float64, 0, min(n, cfg.MaxSortSample)+cfg.MaxSortSample/16+16)
	var mean, m2 float64 // Welford's running mean and squared deviations
	finite := 0
	s.Min, s.Max = math.Inf(1), math.Inf(-1)
	for i := 0; i < n; i++ {
		tw := tv.word(i)
		var rw uint64
		if ref != nil {
			rw = rv.word(i)
		}
		x := tw ^ rw
		d := ordered(tw, w, tv.kind) - ordered(rw, w, tv.kind)
		for k := 0; k < w; k++ {
			xorHist[k][byte(x>>(8*k))]++
			diffHist[k][byte(d>>(8*k))]++
		}
		if x == 0 {
			s.Equal++
		}
		tf := wordValue(tw, w, tv.kind)
		rf := 0.0
		if ref != nil {
			rf = wordValue(rw, w, tv.kind)
		}
		dv := tf - rf
		if x == 0 {
			dv = 0 // unchanged, even a NaN or an infinity
		}
		if math.IsNaN(dv) || math.IsInf(dv, 0) {
			s.NonFinite++
			continue
		}
		finite++
		if math.Abs(dv) < cfg.Threshold {
			s.NearZero++
		}
		s.Min = min(s.Min, dv)
		s.Max = max(s.Max, dv)
		dm := dv - mean
		mean += dm / float64(finite)
		m2 += dm * (dv - mean)
		if keep == 1<<32 || (uint64(i)*0x9E3779B97F4A7C15)>>32 < keep {
			sample = append(sample, dv)
		}
	}
	if n > 0 {
		s.EqualFraction = float64(s.Equal) / float64(n)
		s.NearFraction = float64(s.NearZero) / float64(n)
	}
	s.XORPlaneEntropy = planeEntropies(xorHist, n)
	s.DiffPlaneEntropy = planeEntropies(diffHist, n)
	s.XORBoundRatio = boundRatio(s.XORPlaneEntropy)
	s.DiffBoundRatio = boundRatio(s.DiffPlaneEntropy)
	if finite == 0 {
		s.Min, s.Max = 0, 0
		return s, nil
	}
	s.Mean = mean
	s.Std = math.Sqrt(m2 / float64(finite)) // population std, numpy's default
	s.Range = s.Max - s.Min
	s.MaxAbs = max(math.Abs(s.Min), math.Abs(s.Max))
	slices.Sort(sample)
	s.QuantilesExact = keep == 1<<32
	for _, q := range cfg.Quantiles {
		s.Quantiles = append(s.Quantiles, Quantile{Q: q, Value: quantile(sample, q)})
	}
	return s, nil
}

// quantile interpolates linearly between closest ranks (numpy's default
// "linear" method) in sorted.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	frac := pos - float64(lo)
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}

// planeEntropies returns the order-0 entropy of each plane in bits/byte.
func planeEntropies(hist [][256]int, n int) []float64 {
	out := make([]float64, len(hist))
	if n == 0 {
		return out
	}
	total := float64(n)
	for k := range hist {
		h := 0.0
		for _, c := range hist[k] {
			if c != 0 {
				p := float64(c) / total
				h -= p * math.Log2(p)
			}
		}
		out[k] = h
	}
	return out
}

// boundRatio is 8·planes / Σ entropy.
func boundRatio(ent []float64) float64 {
	bits := 0.0
	for _, h := range ent {
		bits += h
	}
	if bits == 0 {
		return math.Inf(1)
	}
	return 8 * float64(len(ent)) / bits
}
