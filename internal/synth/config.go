package synth

import (
	"errors"
	"fmt"
	"math"
)

// Config describes a synthetic base model.
type Config struct {
	Dim       int       // model width d
	FFN       int       // feed-forward width
	Layers    int       // transformer blocks
	Vocab     int       // vocabulary size (rows of the embedding and lm_head)
	Precision Precision // storage type of every tensor
	Seed      uint64    // the base model is a pure function of Config

	// OutlierFraction is the fraction of matrix elements replaced by
	// outliers of 6–30 standard deviations (real checkpoints have a few).
	OutlierFraction float64
	// OutlierChannels is the fraction of input channels (columns) whose
	// weights are four times larger, as in real LLM checkpoints.
	OutlierChannels float64
}

// DefaultConfig returns a small LLaMA-shaped model (5.26 million
// parameters, 20 MiB of float32 data) in bfloat16.
func DefaultConfig() Config {
	return Config{
		Dim: 256, FFN: 688, Layers: 4, Vocab: 4096,
		Precision: BFloat16, Seed: 1,
		OutlierFraction: 1e-4, OutlierChannels: 0.005,
	}
}

// maxElements bounds one generated tensor (2^32 elements).
const maxElements = 1 << 32

// Validate reports whether the configuration can be generated.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"Dim", c.Dim}, {"FFN", c.FFN}, {"Layers", c.Layers}, {"Vocab", c.Vocab}} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", f.name, f.v))
		}
	}
	if len(errs) == 0 {
		for _, s := range c.Specs() {
			if n := s.numElements(); n > maxElements {
				errs = append(errs, fmt.Errorf("tensor %s has %d elements (at most %d)", s.Name, n, int64(maxElements)))
				break
			}
		}
	}
	if !c.Precision.valid() {
		errs = append(errs, fmt.Errorf("unknown precision %q", c.Precision))
	}
	if !isFraction(c.OutlierFraction) || !isFraction(c.OutlierChannels) {
		errs = append(errs, fmt.Errorf("outlier fractions must be in [0, 1], got %g and %g", c.OutlierFraction, c.OutlierChannels))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("synth: invalid config: %w", err)
	}
	return nil
}

func isFraction(f float64) bool { return f >= 0 && f <= 1 }

// Spec is the name, shape and role of one tensor of the model.
type Spec struct {
	Name  string // slash-separated path without ".npy", e.g. "layers/0/wq"
	Shape []int64
	role  role
}

// role decides a tensor's distribution.
type role int

const (
	roleEmbedding role = iota // embedding and lm_head
	roleInput                 // wq, wk, wv, w1, w3
	roleOutput                // wo, w2: scaled down with depth
	roleNorm                  // RMSNorm weights near 1
)

func (s Spec) numElements() int64 {
	n := int64(1)
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// Specs lists the model's tensors in a fixed order.
func (c Config) Specs() []Spec {
	d, f, v := int64(c.Dim), int64(c.FFN), int64(c.Vocab)
	specs := []Spec{{Name: "embed_tokens", Shape: []int64{v, d}, role: roleEmbedding}}
	for l := range c.Layers {
		p := fmt.Sprintf("layers/%d/", l)
		specs = append(specs,
			Spec{Name: p + "attn_norm", Shape: []int64{d}, role: roleNorm},
			Spec{Name: p + "wq", Shape: []int64{d, d}, role: roleInput},
			Spec{Name: p + "wk", Shape: []int64{d, d}, role: roleInput},
			Spec{Name: p + "wv", Shape: []int64{d, d}, role: roleInput},
			Spec{Name: p + "wo", Shape: []int64{d, d}, role: roleOutput},
			Spec{Name: p + "ffn_norm", Shape: []int64{d}, role: roleNorm},
			Spec{Name: p + "w1", Shape: []int64{f, d}, role: roleInput},
			Spec{Name: p + "w3", Shape: []int64{f, d}, role: roleInput},
			Spec{Name: p + "w2", Shape: []int64{d, f}, role: roleOutput},
		)
	}
	return append(specs,
		Spec{Name: "norm", Shape: []int64{d}, role: roleNorm},
		Spec{Name: "lm_head", Shape: []int64{v, d}, role: roleEmbedding},
	)
}

// NumParams returns the number of weights in the model.
func (c Config) NumParams() int64 {
	var n int64
	for _, s := range c.Specs() {
		n += s.numElements()
	}
	return n
}

// Describe states the generator's parameters, for benchmark reports.
func Describe(c Config) string {
	n := c.NumParams()
	return fmt.Sprintf("synthetic LLaMA-shaped model: d=%d ffn=%d layers=%d vocab=%d, %.2fM params, %s (%.1f MiB of data), seed %d; "+
		"weights N(0, 0.02) (wo, w2 ×1/sqrt(2·layers)), ±25%% per-tensor scale, %.2g outlier elements (6–30σ), %.2g outlier channels (×4), norms ≈ 1",
		c.Dim, c.FFN, c.Layers, c.Vocab, float64(n)/1e6, c.Precision,
		float64(n)*float64(c.Precision.ElemSize())/(1<<20), c.Seed, c.OutlierFraction, c.OutlierChannels)
}

// baseStd returns the nominal standard deviation of a role.
func (c Config) baseStd(r role) float64 {
	switch r {
	case roleOutput:
		return 0.02 / math.Sqrt(2*float64(c.Layers))
	case roleNorm:
		return 0.05
	}
	return 0.02
}
