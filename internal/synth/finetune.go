package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// FineTuneConfig describes how a fine-tune departs from its base.
type FineTuneConfig struct {
	Seed uint64 // a fine-tune is a pure function of its base and this config
	// Rank is the rank r of the update A·B added to each tuned matrix.
	Rank int
	// UpdateScale is the element standard deviation of the low-rank update
	// relative to the tensor's root mean square (its standard deviation for
	// zero-mean matrices, about 1 for norm weights).
	UpdateScale float64
	// NoiseScale is the standard deviation of the dense noise relative to
	// the tensor's root mean square (real fine-tunes: about 1e-3..1e-2).
	NoiseScale float64
	// FrozenFraction of the tensors stay bit-identical to the base.
	FrozenFraction float64
	// RetrainedFraction of the tensors are drawn anew, independent of the
	// base (same mean and spread).
	RetrainedFraction float64
}

// DefaultFineTune returns a full fine-tune: a rank-8 update at 1% of each
// tensor's RMS, dense noise at 0.3%, a fifth of the tensors frozen and
// one in twenty retrained.
func DefaultFineTune(seed uint64) FineTuneConfig {
	return FineTuneConfig{Seed: seed, Rank: 8, UpdateScale: 0.01, NoiseScale: 0.003,
		FrozenFraction: 0.2, RetrainedFraction: 0.05}
}

// Validate reports whether the fine-tune can be generated.
func (ft FineTuneConfig) Validate() error {
	var errs []error
	if ft.Rank < 0 || ft.Rank > 4096 {
		errs = append(errs, fmt.Errorf("rank must be in [0, 4096], got %d", ft.Rank))
	}
	if !(ft.UpdateScale >= 0 && ft.UpdateScale <= 10) || !(ft.NoiseScale >= 0 && ft.NoiseScale <= 10) {
		errs = append(errs, fmt.Errorf("update and noise scales must be in [0, 10], got %g and %g", ft.UpdateScale, ft.NoiseScale))
	}
	if !isFraction(ft.FrozenFraction) || !isFraction(ft.RetrainedFraction) || ft.FrozenFraction+ft.RetrainedFraction > 1 {
		errs = append(errs, fmt.Errorf("frozen (%g) and retrained (%g) fractions must be in [0, 1] and sum to at most 1",
			ft.FrozenFraction, ft.RetrainedFraction))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("synth: invalid fine-tune config: %w", err)
	}
	return nil
}

// Describe states the fine-tune's parameters, for benchmark reports.
func (ft FineTuneConfig) Describe() string {
	return fmt.Sprintf("fine-tune: rank-%d update at %.2g×rms, dense noise %.2g×rms, %.0f%% of tensors frozen, %.0f%% retrained, seed %d",
		ft.Rank, ft.UpdateScale, ft.NoiseScale, 100*ft.FrozenFraction, 100*ft.RetrainedFraction, ft.Seed)
}

// FineTune derives a fine-tune from base. Which tensors are frozen and
// which retrained is drawn from ft.Seed (round(fraction × count) of each);
// the others are tuned. Results are new tensors; base is not modified.
func FineTune(base []Tensor, ft FineTuneConfig) ([]Tensor, error) {
	if err := ft.Validate(); err != nil {
		return nil, err
	}
	for _, t := range base {
		if err := checkTensor(t); err != nil {
			return nil, err
		}
	}
	changes := assignChanges(len(base), ft)
	out := make([]Tensor, len(base))
	plans := make([]tunePlan, len(base))
	for i, b := range base {
		out[i] = Tensor{Name: b.Name, DType: b.DType, Shape: b.Shape, Precision: b.Precision, Change: changes[i]}
		if changes[i] == ChangeFrozen {
			out[i].Data = append([]byte(nil), b.Data...)
			continue
		}
		out[i].Data = make([]byte, len(b.Data))
		plans[i] = ft.plan(b, changes[i])
	}
	runBlocks(out, func(t int, rows rowRange) {
		if out[t].Change == ChangeFrozen {
			return
		}
		plans[t].apply(base[t], out[t], rows, rngFor(ft.Seed, "finetune/"+rows.tag(), out[t].Name))
	})
	return out, nil
}

// assignChanges picks which of n tensors are frozen and retrained.
func assignChanges(n int, ft FineTuneConfig) []Change {
	rng := rngFor(ft.Seed, "assign", "")
	frozen := int(math.Round(ft.FrozenFraction * float64(n)))
	retrained := min(int(math.Round(ft.RetrainedFraction*float64(n))), n-frozen)
	changes := make([]Change, n)
	for k, i := range rng.Perm(n) {
		switch {
		case k < frozen:
			changes[i] = ChangeFrozen
		case k < frozen+retrained:
			changes[i] = ChangeRetrained
		default:
			changes[i] = ChangeTuned
		}
	}
	return changes
}

// tunePlan holds the per-tensor draws of a tuned or retrained tensor.
type tunePlan struct {
	retrain fillPlan // retrained tensors: the distribution to draw from
	// Tuned tensors: the update A·B (A is rows×rank, B rank×cols, already
	// scaled) or, for vectors and rank 0, dense updates only.
	a, b      []float64
	rank      int
	updateStd float64 // dense update std where there is no low-rank update
	noiseStd  float64
}

// plan draws the per-tensor parameters of a changed tensor.
func (ft FineTuneConfig) plan(b Tensor, change Change) tunePlan {
	rng := rngFor(ft.Seed, "finetune-plan", b.Name)
	mean, std := stats(b)
	if change == ChangeRetrained {
		def := DefaultConfig()
		if len(b.Shape) < 2 {
			return tunePlan{retrain: fillPlan{mean: mean, std: std}}
		}
		return tunePlan{retrain: matrixPlan(rng, mean, std, b.Shape, def.OutlierFraction, def.OutlierChannels)}
	}
	rms := math.Hypot(mean, std) // the scale of the values: std for matrices, ≈1 for norms
	p := tunePlan{noiseStd: ft.NoiseScale * rms}
	if len(b.Shape) < 2 || ft.Rank == 0 {
		p.updateStd = ft.UpdateScale * rms
		return p
	}
	rows, cols := numRows(b), rowLen(b.Shape)
	p.rank = ft.Rank
	p.a = make([]float64, rows*ft.Rank)
	p.b = make([]float64, ft.Rank*cols)
	// Entries of A·B with N(0,1) factors have variance rank; scale to
	// UpdateScale·rms.
	scale := math.Sqrt(ft.UpdateScale * rms / math.Sqrt(float64(ft.Rank)))
	for i := range p.a {
		p.a[i] = scale * rng.NormFloat64()
	}
	for i := range p.b {
		p.b[i] = scale * rng.NormFloat64()
	}
	return p
}

// apply writes rows of the changed tensor out from base.
func (p tunePlan) apply(base, out Tensor, rows rowRange, rng *rand.Rand) {
	if out.Change == ChangeRetrained {
		p.retrain.fill(out, rows, rng)
		return
	}
	cols := rowLen(out.Shape)
	prec := out.Precision
	for r := rows.first; r < rows.end; r++ {
		for c := range cols {
			i := r*cols + c
			var delta float64
			if p.rank > 0 {
				for k := range p.rank {
					delta += float64(p.a[r*p.rank+k] * p.b[k*cols+c]) // no fused multiply-add
				}
			} else {
				delta = p.updateStd * rng.NormFloat64()
			}
			delta += float64(p.noiseStd * rng.NormFloat64())
			prec.put(out.Data, i, prec.get(base.Data, i)+delta)
		}
	}
}
