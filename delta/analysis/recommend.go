package analysis

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"deltafs/delta"
)

// RecommendConfig tunes Recommend. The zero value measures every strategy
// on up to 4 MiB of the tensor and picks the smallest lossless one.
type RecommendConfig struct {
	// AllowLossy lets a lossy strategy win when it is smallest.
	AllowLossy bool
	// MaxAbsError, if positive, disqualifies lossy strategies whose
	// measured maximum absolute error exceeds it.
	MaxAbsError float64
	// SampleBytes bounds the part of the tensor actually encoded (default
	// 4 MiB); sizes are extrapolated from it.
	SampleBytes int
	// Base is the encoder configuration each strategy is tried with (zero:
	// delta.DefaultConfig()); Strategy and AllowLossy are set per candidate.
	Base *delta.Config
	// Strategies to try (default delta.Strategies(): every one).
	Strategies []delta.Strategy
	// RawSize is the size of the whole tensor when target (and ref) are
	// already a sample of it (SampleRanges); 0: they are whole.
	RawSize int64
}

// DefaultSampleBytes is the default sample size of Recommend.
const DefaultSampleBytes = 4 << 20

// Candidate is one strategy's measured outcome.
type Candidate struct {
	Strategy      delta.Strategy
	Lossless      bool
	Applied       delta.Strategy // what the encoder actually used (it may fall back to auto)
	SampleBytes   int            // raw bytes encoded
	SampleSize    int            // object bytes for the sample
	EstimatedSize int64          // object bytes extrapolated to the whole tensor
	Ratio         float64        // raw / estimated size
	MaxAbsError   float64        // measured on the sample; 0 for lossless
	SNR           float64        // lossy: signal-to-noise ratio of the decoded sample, in dB (+Inf: exact)
	Eligible      bool           // may be recommended under the configuration
	Reason        string
	Err           error // encoding or decoding failed
}

// Recommendation ranks the strategies for one tensor.
type Recommendation struct {
	Best       delta.Strategy
	Reason     string
	Candidates []Candidate // eligible ones by size, then the others by size
	Stats      *DeltaStats // of the sample
}

// Recommend measures every strategy by encoding a sample of target against
// ref (nil: alone) with delta.Encode and decoding it back, then picks the
// smallest lossless strategy, or the smallest of all when lossy ones are
// allowed (within MaxAbsError when set). Lossless candidates that do not
// decode bit-exactly are reported with an error and never picked.
func Recommend(target delta.Tensor, ref *delta.Tensor, cfg RecommendConfig) (*Recommendation, error) {
	if cfg.SampleBytes <= 0 {
		cfg.SampleBytes = DefaultSampleBytes
	}
	base := delta.DefaultConfig()
	if cfg.Base != nil {
		base = *cfg.Base
	}
	strategies := cfg.Strategies
	if strategies == nil {
		strategies = delta.Strategies()
	}
	if ref != nil {
		if err := sameShapeSize(target, *ref); err != nil {
			return nil, err
		}
	}
	if _, err := newView(target); err != nil {
		return nil, err
	}
	st, sr := sampleTensors(target, ref, cfg.SampleBytes)
	stats, err := DeltaStatistics(st, sr, StatsConfig{})
	if err != nil {
		return nil, err
	}
	rec := &Recommendation{Stats: stats}
	raw := int64(len(target.Data))
	if cfg.RawSize > 0 {
		raw = cfg.RawSize
	}
	for _, s := range strategies {
		c := measure(st, sr, s, base, raw)
		judge(&c, cfg)
		rec.Candidates = append(rec.Candidates, c)
	}
	slices.SortStableFunc(rec.Candidates, func(a, b Candidate) int {
		if a.Eligible != b.Eligible {
			if a.Eligible {
				return -1
			}
			return 1
		}
		if (a.Err == nil) != (b.Err == nil) {
			if a.Err == nil {
				return -1
			}
			return 1
		}
		switch {
		case a.EstimatedSize < b.EstimatedSize:
			return -1
		case a.EstimatedSize > b.EstimatedSize:
			return 1
		}
		return 0
	})
	if len(rec.Candidates) == 0 || !rec.Candidates[0].Eligible {
		return rec, errors.New("analysis: no strategy could be recommended")
	}
	best := rec.Candidates[0]
	rec.Best = best.Strategy
	kind := "lossless"
	if !best.Lossless {
		kind = fmt.Sprintf("lossy, max error %.3g", best.MaxAbsError)
	}
	rec.Reason = fmt.Sprintf("smallest eligible: %s at %.3g× (%s)", best.Strategy, best.Ratio, kind)
	if len(rec.Candidates) > 1 && rec.Candidates[1].Eligible {
		next := rec.Candidates[1]
		rec.Reason += fmt.Sprintf("; next %s at %.3g×", next.Strategy, next.Ratio)
	}
	if hint := statsHint(stats); hint != "" {
		rec.Reason += "; " + hint
	}
	return rec, nil
}

// measure encodes the sample with strategy s and decodes it back.
func measure(st delta.Tensor, sr *delta.Tensor, s delta.Strategy, base delta.Config, raw int64) Candidate {
	c := Candidate{Strategy: s, Lossless: s.IsLossless(), SampleBytes: len(st.Data)}
	cfg := base
	cfg.Strategy = s
	cfg.AllowLossy = !s.IsLossless()
	cfg.StrictReconstruction = false
	obj, err := delta.Encode(st, sr, cfg)
	if err != nil {
		c.Err = err
		c.Reason = "cannot encode: " + err.Error()
		return c
	}
	c.SampleSize = len(obj)
	c.EstimatedSize = int64(len(obj))
	if len(st.Data) > 0 && int64(len(st.Data)) != raw {
		c.EstimatedSize = int64(math.Ceil(float64(len(obj)) * float64(raw) / float64(len(st.Data))))
	}
	if c.EstimatedSize > 0 {
		c.Ratio = float64(raw) / float64(c.EstimatedSize)
	}
	o, err := delta.Open(bytes.NewReader(obj), int64(len(obj)))
	if err != nil {
		c.Err = err
		c.Reason = "cannot reopen its own object: " + err.Error()
		return c
	}
	c.Applied = o.Header().Strategy
	var refData []byte
	if sr != nil && o.Header().HasReference {
		refData = sr.Data
	}
	got, err := o.DecodeAll(refData)
	if err != nil && !(o.Header().Lossy && errors.Is(err, delta.ErrReconstruction)) {
		c.Err = err
		c.Reason = "cannot decode its own object: " + err.Error()
		return c
	}
	if c.Lossless || !o.Header().Lossy {
		if !bytes.Equal(got, st.Data) {
			c.Err = errors.New("lossless strategy did not reproduce the tensor")
			c.Reason = c.Err.Error()
		}
		c.SNR = math.Inf(1)
		return c
	}
	c.MaxAbsError, c.SNR = errorStats(st, got)
	return c
}

// judge decides eligibility and explains it.
func judge(c *Candidate, cfg RecommendConfig) {
	if c.Err != nil {
		return
	}
	var notes []string
	notes = append(notes, fmt.Sprintf("%.3g×", c.Ratio))
	if c.Applied != "" && c.Applied != c.Strategy {
		notes = append(notes, "encoder fell back to "+string(c.Applied))
	}
	switch {
	case c.Lossless:
		c.Eligible = true
		notes = append(notes, "lossless")
	case !cfg.AllowLossy:
		notes = append(notes, fmt.Sprintf("lossy (max error %.3g), not allowed", c.MaxAbsError))
	case cfg.MaxAbsError > 0 && !(c.MaxAbsError <= cfg.MaxAbsError):
		notes = append(notes, fmt.Sprintf("max error %.3g exceeds %.3g", c.MaxAbsError, cfg.MaxAbsError))
	default:
		c.Eligible = true
		notes = append(notes, fmt.Sprintf("lossy, max error %.3g", c.MaxAbsError))
	}
	c.Reason = strings.Join(notes, ", ")
}

// errorStats compares decoded data with the original value by value: the
// largest absolute error (a non-finite value not reproduced exactly counts
// as +Inf) and the signal-to-noise ratio in dB (+Inf when exact, -Inf for
// an all-zero original decoded with errors).
func errorStats(orig delta.Tensor, got []byte) (maxAbs, snr float64) {
	ov, err := newView(orig)
	if err != nil || len(got) != len(orig.Data) {
		return math.Inf(1), math.Inf(-1)
	}
	gv := ov
	gv.data = got
	var signal, noise float64
	for i := 0; i < ov.len(); i++ {
		a, b := ov.value(i), gv.value(i)
		if !math.IsInf(a, 0) && !math.IsNaN(a) {
			signal += a * a
		}
		if a == b || (math.IsNaN(a) && math.IsNaN(b)) {
			continue
		}
		d := math.Abs(a - b)
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxAbs = max(maxAbs, d)
		noise += d * d
	}
	switch {
	case noise == 0:
		return maxAbs, math.Inf(1)
	case signal == 0:
		return maxAbs, math.Inf(-1)
	}
	return maxAbs, 10 * math.Log10(signal/noise)
}

// statsHint summarises what the statistics say about the delta.
func statsHint(s *DeltaStats) string {
	if s == nil || s.Elements == 0 {
		return ""
	}
	var parts []string
	if s.EqualFraction >= 0.01 {
		parts = append(parts, fmt.Sprintf("%.1f%% of values unchanged", 100*s.EqualFraction))
	}
	if s.NearFraction-s.EqualFraction >= 0.01 {
		parts = append(parts, fmt.Sprintf("%.1f%% within %.0e", 100*s.NearFraction, s.Threshold))
	}
	parts = append(parts, fmt.Sprintf("order-0 plane bound %.3g× (XOR) / %.3g× (difference)", s.XORBoundRatio, s.DiffBoundRatio))
	return strings.Join(parts, ", ")
}
