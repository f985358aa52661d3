package store

import (
	"context"
	"fmt"

	"deltafs/delta"
)

// The encoding policy: how a file is stored is decided here and nowhere
// else, by the settings (settings.go) that apply to its model.
//
// A tensor is stored in one of three forms:
//   - delta: encoded against its reference in the base model;
//   - standalone: encoded alone (losslessly, with the strategy asked for
//     when it is lossless, else auto);
//   - verbatim: its raw values alone (float32_raw), when no encoding saves
//     min_compression_ratio of the raw size.
//
// policy.next is the one decision: given what has been tried so far it
// names the next encoding to try or the one to keep. The encoder
// (encode.go) only carries its steps out.

// policy is the settings and the encoder configuration for one file.
type policy struct {
	Settings
	cfg delta.Config // strategy, lossy permission and the knobs the codecs read
}

// StrategyQuantized names the quantized strategy of quantization_bits'
// width (int8_quantized or int16_quantized).
const StrategyQuantized = "quantized"

// newPolicy builds the policy of one file from its model's settings, the
// store's encoder configuration and the strategy asked for ("" keeps the
// configured one).
func newPolicy(set Settings, base delta.Config, strategy string, allowLossy bool) (policy, error) {
	cfg := base
	if strategy != "" {
		cfg.Strategy = delta.Strategy(strategy)
	}
	if cfg.Strategy == StrategyQuantized {
		cfg.Strategy = delta.Strategy(fmt.Sprintf("int%d_quantized", set.QuantizationBits))
	}
	if cfg.Strategy == "" {
		cfg.Strategy = delta.Auto
	}
	if _, err := delta.ParseStrategy(string(cfg.Strategy)); err != nil {
		return policy{}, err
	}
	cfg.AllowLossy = cfg.AllowLossy || allowLossy
	if !cfg.Strategy.IsLossless() {
		if set.StrictReconstruction {
			return policy{}, fmt.Errorf("strategy %s: %w: %s is set", cfg.Strategy, delta.ErrLossyNotAllowed, KeyStrictReconstruction)
		}
		if !cfg.AllowLossy {
			return policy{}, fmt.Errorf("strategy %s: %w", cfg.Strategy, delta.ErrLossyNotAllowed)
		}
	}
	cfg.SparseThreshold = set.SparseThreshold
	cfg.CompressionLevel = set.CompressionLevel
	cfg.StrictReconstruction = set.StrictReconstruction
	return policy{Settings: set, cfg: cfg}, nil
}

// policyFor returns the policy of a file at path p: the settings of its
// model, over which opts' apply.
func (s *Store) policyFor(ctx context.Context, p string, strategy string, allowLossy bool, over Overrides) (policy, error) {
	model, _ := splitModel(p)
	r, err := s.resolveSettings(ctx, s.catalog, model, over)
	if err != nil {
		return policy{}, err
	}
	return newPolicy(r.Settings, s.cfg, strategy, allowLossy)
}

// form is a way of storing a tensor.
type form int

const (
	formDelta      form = iota // against the reference
	formStandalone             // alone, encoded
	formVerbatim               // alone, raw values
	numForms
)

func (f form) String() string {
	return [...]string{"delta", "standalone", "verbatim"}[f]
}

// tried is what is known of one form: not tried, refused or failed, or its
// encoded size.
type tried struct {
	done bool  // tried
	ok   bool  // encoded and not failed its check
	size int64 // object bytes, when ok
}

// attempts is what has been tried for one tensor.
type attempts struct {
	raw    int64 // the tensor's raw bytes
	hasRef bool  // it has a reference to encode against
	forms  [numForms]tried
}

// step is the policy's answer: try encoding a form, or keep one.
type step struct {
	form form
	keep bool // keep form's encoding (else: encode it)
}

// clearDeltaFraction: a delta no bigger than this fraction of the raw size
// is kept without also trying a standalone encoding (a standalone encoding
// of weights rarely gets below ~2/3 of the raw size, so trying would only
// cost time).
const clearDeltaFraction = 0.5

// next is the policy. The order of preference is delta, standalone,
// verbatim:
//   - a delta is tried when the tensor has a reference and at least
//     min_weight_size raw bytes; it qualifies when it is at most
//     max_delta_ratio times the raw size and saves min_compression_ratio;
//   - a qualifying delta of at most half the raw size is kept at once;
//     otherwise the standalone encoding is tried too and the smaller of the
//     two kept (the delta on a tie);
//   - a standalone encoding is kept when it saves min_compression_ratio
//     (or when verbatim failed);
//   - else the tensor is stored verbatim.
//
// ok is false when every form failed.
func (p policy) next(a attempts) (s step, ok bool) {
	d, alone, verb := a.forms[formDelta], a.forms[formStandalone], a.forms[formVerbatim]
	if a.hasRef && a.raw > 0 && a.raw >= p.MinWeightSize && !d.done {
		return step{form: formDelta}, true
	}
	deltaOK := d.ok && float64(d.size) <= p.MaxDeltaRatio*float64(a.raw) && p.saves(d.size, a.raw)
	if deltaOK && float64(d.size) <= clearDeltaFraction*float64(a.raw) {
		return step{form: formDelta, keep: true}, true
	}
	if !alone.done {
		return step{form: formStandalone}, true
	}
	if deltaOK && (!alone.ok || d.size <= alone.size) {
		return step{form: formDelta, keep: true}, true
	}
	if alone.ok && (p.saves(alone.size, a.raw) || verb.done && !verb.ok) {
		return step{form: formStandalone, keep: true}, true
	}
	if !verb.done {
		return step{form: formVerbatim}, true
	}
	if verb.ok {
		return step{form: formVerbatim, keep: true}, true
	}
	return step{}, false
}

// saves reports whether size saves at least min_compression_ratio of raw.
func (p policy) saves(size, raw int64) bool {
	if raw <= 0 {
		return true
	}
	return 1-float64(size)/float64(raw) >= p.MinCompressionRatio
}

// forBlob is the policy of an opaque file: compressed alone, or verbatim.
func (p policy) forBlob() policy {
	p.cfg.Strategy = delta.Compressed
	p.cfg.AllowLossy = false
	return p
}

// encoderConfig is the encoder configuration of form f.
func (p policy) encoderConfig(f form) delta.Config {
	c := p.cfg
	switch f {
	case formStandalone:
		// A lossy strategy names how a delta may be approximated, never
		// how a tensor alone is stored.
		if !c.Strategy.IsLossless() {
			c.Strategy = delta.Auto
		}
		c.AllowLossy = false
	case formVerbatim:
		c.Strategy = delta.Float32Raw
		c.AllowLossy = false
	}
	return c
}
