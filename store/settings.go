package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"deltafs/catalog"
)

// ErrInvalidSetting means a setting name is unknown or its value out of
// range.
var ErrInvalidSetting = errors.New("store: invalid setting")

// Settings are the knobs of the encoding policy (policy.go), named and
// defaulted as in the original design. They are kept per store and per
// model in the catalog and can be overridden per command (Overrides).
type Settings struct {
	// SparseThreshold: the sparse strategy drops delta values smaller than
	// this in magnitude.
	SparseThreshold float64
	// QuantizationBits (8 or 16) is the width the "quantized" strategy
	// stands for: int8_quantized or int16_quantized.
	QuantizationBits int
	// CompressionLevel is the entropy coder's effort, 1 (fastest) to 9
	// (smallest).
	CompressionLevel int
	// MaxDeltaRatio: a delta larger than this times the tensor's raw size
	// is not stored.
	MaxDeltaRatio float64
	// MinCompressionRatio: an encoding must save at least this fraction of
	// the raw size; a delta saving less is not stored, and when the
	// standalone encoding saves less too, the tensor is stored verbatim.
	MinCompressionRatio float64
	// MinWeightSize: tensors of fewer raw bytes are never stored as deltas.
	MinWeightSize int64
	// StrictReconstruction: every file must come back bit for bit; lossy
	// strategies are refused, even with allow-lossy.
	StrictReconstruction bool
	// SimilarityThreshold: a tensor whose reference is not found by path or
	// name takes the base's most similar tensor of its dtype and shape when
	// their similarity (cosine of sampled values) reaches this; above 1
	// switches the search off.
	SimilarityThreshold float64
}

// The names of the settings.
const (
	KeySparseThreshold      = "sparse_threshold"
	KeyQuantizationBits     = "quantization_bits"
	KeyCompressionLevel     = "compression_level"
	KeyMaxDeltaRatio        = "max_delta_ratio"
	KeyMinCompressionRatio  = "min_compression_ratio"
	KeyMinWeightSize        = "min_weight_size"
	KeyStrictReconstruction = "strict_reconstruction"
	KeySimilarityThreshold  = "similarity_threshold"
)

// DefaultSettings are the original design's defaults.
func DefaultSettings() Settings {
	return Settings{
		SparseThreshold:     1e-6,
		QuantizationBits:    8,
		CompressionLevel:    6,
		MaxDeltaRatio:       1.0,
		MinCompressionRatio: 0.0,
		MinWeightSize:       512,
		SimilarityThreshold: 0.98,
	}
}

// Knob describes one setting for help texts and listings.
type Knob struct {
	Name    string
	Default string
	Usage   string
}

// knob is a Knob with its accessors.
type knob struct {
	Knob
	set func(s *Settings, v string) error
	get func(s Settings) string
}

// knobs lists the settings in the original design's order.
var knobs = []knob{
	{Knob{KeySparseThreshold, "", "sparse strategy: delta values below this magnitude are dropped"},
		floatSetter(func(s *Settings) *float64 { return &s.SparseThreshold }, 0, math.MaxFloat64),
		func(s Settings) string { return formatFloat(s.SparseThreshold) }},
	{Knob{KeyQuantizationBits, "", `width of the "quantized" strategy: 8 or 16`},
		func(s *Settings, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n != 8 && n != 16 {
				return fmt.Errorf("want 8 or 16")
			}
			s.QuantizationBits = n
			return nil
		},
		func(s Settings) string { return strconv.Itoa(s.QuantizationBits) }},
	{Knob{KeyCompressionLevel, "", "entropy coder effort, 1 (fastest) to 9 (smallest)"},
		intSetter(func(s *Settings, n int64) { s.CompressionLevel = int(n) }, 1, 9),
		func(s Settings) string { return strconv.Itoa(s.CompressionLevel) }},
	{Knob{KeyMaxDeltaRatio, "", "a delta larger than this times the raw size is not stored"},
		floatSetter(func(s *Settings) *float64 { return &s.MaxDeltaRatio }, 0, math.MaxFloat64),
		func(s Settings) string { return formatFloat(s.MaxDeltaRatio) }},
	{Knob{KeyMinCompressionRatio, "", "least fraction of the raw size an encoding must save (else standalone, then verbatim)"},
		floatSetter(func(s *Settings) *float64 { return &s.MinCompressionRatio }, 0, 1),
		func(s Settings) string { return formatFloat(s.MinCompressionRatio) }},
	{Knob{KeyMinWeightSize, "", "tensors of fewer raw bytes are never stored as deltas"},
		intSetter(func(s *Settings, n int64) { s.MinWeightSize = n }, 0, math.MaxInt64),
		func(s Settings) string { return strconv.FormatInt(s.MinWeightSize, 10) }},
	{Knob{KeyStrictReconstruction, "", "refuse lossy strategies: every file comes back bit for bit"},
		func(s *Settings, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			s.StrictReconstruction = b
			return nil
		},
		func(s Settings) string { return strconv.FormatBool(s.StrictReconstruction) }},
	{Knob{KeySimilarityThreshold, "", "least similarity (cosine of sampled values, up to 1) of the base tensor taken as reference when none matches by path or name; above 1: never"},
		floatSetter(func(s *Settings) *float64 { return &s.SimilarityThreshold }, 0, math.MaxFloat64),
		func(s Settings) string { return formatFloat(s.SimilarityThreshold) }},
}

func init() {
	d := DefaultSettings()
	for i := range knobs {
		knobs[i].Default = knobs[i].get(d)
	}
}

// floatSetter parses a finite float in [lo, hi] into the field f selects.
func floatSetter(f func(*Settings) *float64, lo, hi float64) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < lo || x > hi {
			return fmt.Errorf("want a number from %s to %s", formatFloat(lo), formatFloat(hi))
		}
		*f(s) = x
		return nil
	}
}

// intSetter parses an integer in [lo, hi] and stores it with put.
func intSetter(put func(*Settings, int64), lo, hi int64) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want a whole number from %d to %d", lo, hi)
		}
		put(s, n)
		return nil
	}
}

func formatFloat(x float64) string {
	if x == math.MaxFloat64 {
		return "any"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// Knobs lists the settings with their defaults.
func Knobs() []Knob {
	out := make([]Knob, len(knobs))
	for i, k := range knobs {
		out[i] = k.Knob
	}
	return out
}

func findKnob(key string) (knob, error) {
	for _, k := range knobs {
		if k.Name == key {
			return k, nil
		}
	}
	names := make([]string, len(knobs))
	for i, k := range knobs {
		names[i] = k.Name
	}
	return knob{}, fmt.Errorf("%w: unknown setting %q (known: %v)", ErrInvalidSetting, key, names)
}

// Set sets the setting key from its text form.
func (s *Settings) Set(key, value string) error {
	k, err := findKnob(key)
	if err != nil {
		return err
	}
	if err := k.set(s, value); err != nil {
		return fmt.Errorf("%w: %s = %q: %v", ErrInvalidSetting, key, value, err)
	}
	return nil
}

// Get returns the text form of setting key ("" for an unknown key).
func (s Settings) Get(key string) string {
	k, err := findKnob(key)
	if err != nil {
		return ""
	}
	return k.get(s)
}

// Overrides are settings in text form by name, as a command line gives
// them; they apply over the store's and the model's.
type Overrides map[string]string

// Validate checks every name and value.
func (o Overrides) Validate() error {
	var s Settings
	for _, k := range slices.Sorted(maps.Keys(o)) {
		if err := s.Set(k, o[k]); err != nil {
			return err
		}
	}
	return nil
}

// SettingSource says where a setting's value comes from.
type SettingSource string

// The sources, weakest first.
const (
	FromDefault SettingSource = "default"
	FromStore   SettingSource = "store"
	FromModel   SettingSource = "model"
	FromCommand SettingSource = "command"
)

// SettingValue is one setting as it applies, and where it comes from.
type SettingValue struct {
	Name   string
	Value  string
	Source SettingSource
}

// resolved are the settings that apply to one model, and their sources.
type resolved struct {
	Settings
	source map[string]SettingSource
}

// values lists r in the knobs' order.
func (r resolved) values() []SettingValue {
	out := make([]SettingValue, len(knobs))
	for i, k := range knobs {
		src := r.source[k.Name]
		if src == "" {
			src = FromDefault
		}
		out[i] = SettingValue{Name: k.Name, Value: k.get(r.Settings), Source: src}
	}
	return out
}

// resolveSettings returns the settings for model ("" the store's): the
// defaults, then the store's, then the model's, then the store's Options
// overrides, then over.
func (s *Store) resolveSettings(ctx context.Context, r catalog.Reader, model string, over Overrides) (resolved, error) {
	res := resolved{Settings: DefaultSettings(), source: map[string]SettingSource{}}
	apply := func(kv map[string]string, src SettingSource) error {
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			if strings.HasPrefix(k, reservedSettingPrefix) {
				continue // the store's own record, not an encoding setting
			}
			if err := res.Set(k, kv[k]); err != nil {
				return fmt.Errorf("%s setting: %w", src, err)
			}
			res.source[k] = src
		}
		return nil
	}
	kv, err := r.Settings(ctx, "")
	if err != nil {
		return res, err
	}
	if err := apply(kv, FromStore); err != nil {
		return res, err
	}
	if model != "" {
		kv, err := r.Settings(ctx, model)
		if err != nil {
			return res, err
		}
		if err := apply(kv, FromModel); err != nil {
			return res, err
		}
	}
	if err := apply(s.opts.Settings, FromCommand); err != nil {
		return res, err
	}
	return res, apply(over, FromCommand)
}

// Settings returns the settings that apply to model ("" the whole store),
// each with its source; over are this command's overrides.
func (s *Store) Settings(ctx context.Context, model string, over Overrides) ([]SettingValue, error) {
	m, err := s.settingsModel(ctx, model)
	if err != nil {
		return nil, &PathError{Op: "settings", Path: model, Err: err}
	}
	r, err := s.resolveSettings(ctx, s.catalog, m, over)
	if err != nil {
		return nil, &PathError{Op: "settings", Path: model, Err: err}
	}
	return r.values(), nil
}

// SetSetting keeps key = value for model ("" the whole store) in the
// catalog; an empty value removes it, so the store's (or the default)
// applies again.
func (s *Store) SetSetting(ctx context.Context, model, key, value string) error {
	if err := s.checkWritable("set setting", model); err != nil {
		return err
	}
	m, err := s.settingsModel(ctx, model)
	if err == nil {
		if _, err = findKnob(key); err == nil && value != "" {
			var probe Settings
			err = probe.Set(key, value)
		}
	}
	if err == nil {
		err = s.update(ctx, func(tx catalog.Tx) error { return tx.SetSetting(ctx, m, key, value) })
	}
	if err != nil {
		return &PathError{Op: "set setting", Path: model, Err: err}
	}
	return nil
}

// settingsModel checks that model names an existing model ("" the store).
func (s *Store) settingsModel(ctx context.Context, model string) (string, error) {
	m, err := cleanPath(model)
	if err != nil || m == "" {
		return "", err
	}
	if !isTopLevel(m) {
		return "", fmt.Errorf("%w: settings are kept per model, not per path", ErrInvalidPath)
	}
	if _, err := s.catalog.Model(ctx, m); err != nil {
		return "", err
	}
	return m, nil
}
