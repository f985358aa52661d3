package delta

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// finetunePair returns a float32 base and a gently tuned copy, plus an
// unrelated (retrained) tensor, all of n elements.
func finetunePair(n int) (base, tuned, retrained []byte) {
	rng := rand.New(rand.NewPCG(9, 9))
	base, tuned, retrained = make([]byte, 4*n), make([]byte, 4*n), make([]byte, 4*n)
	for i := 0; i < n; i++ {
		b := rng.NormFloat64() * 0.02
		putFloat(base, 4, i, b)
		putFloat(tuned, 4, i, b+rng.NormFloat64()*0.0002)
		putFloat(retrained, 4, i, rng.NormFloat64()*0.02)
	}
	return base, tuned, retrained
}

func TestCanEncodeAsDelta(t *testing.T) {
	f4 := dtypeCases[2].dt
	n := 50000
	base, tuned, retrained := finetunePair(n)
	shape := []int64{int64(n)}
	ref := &Tensor{DType: f4, Shape: shape, Data: base}
	cases := []struct {
		name string
		data []byte
		cfg  func(*Config)
		want bool
	}{
		{"frozen", base, nil, true},
		{"tuned", tuned, nil, true},
		{"retrained", retrained, nil, false},
		{"tiny max ratio", tuned, func(c *Config) { c.MaxDeltaRatio = 0.01 }, false},
		{"high min saving", tuned, func(c *Config) { c.MinCompressionRatio = 0.99 }, false},
		{"below min size", tuned, func(c *Config) { c.MinWeightSize = 4*n + 1 }, false},
		{"raw strategy never beats alone", tuned, func(c *Config) { c.Strategy = Float32Raw }, false},
		{"compressed strategy", tuned, func(c *Config) { c.Strategy = Compressed }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ChunkSize = 16 << 10
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			tt := Tensor{DType: f4, Shape: shape, Data: c.data}
			got, err := CanEncodeAsDelta(tt, ref, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("CanEncodeAsDelta = %v, want %v", got, c.want)
			}
			_, err = EncodeDelta(tt, ref, cfg)
			if got && err != nil || !got && !errors.Is(err, ErrNotWorthwhile) {
				t.Fatalf("EncodeDelta: %v", err)
			}
		})
	}
	if ok, err := CanEncodeAsDelta(Tensor{DType: f4, Shape: shape, Data: tuned}, nil, DefaultConfig()); ok || err != nil {
		t.Fatalf("no reference: %v %v", ok, err)
	}
	bad := &Tensor{DType: f4, Shape: []int64{int64(n) / 2, 2}, Data: base}
	if _, err := CanEncodeAsDelta(Tensor{DType: f4, Shape: shape, Data: tuned}, bad, DefaultConfig()); !errors.Is(err, ErrIncompatibleReference) {
		t.Fatalf("incompatible reference: %v", err)
	}
}

func TestEstimateDeltaSize(t *testing.T) {
	f4 := dtypeCases[2].dt
	n := 200000
	base, tuned, _ := finetunePair(n)
	shape := []int64{int64(n)}
	for _, s := range []Strategy{Auto, Float32Raw, Compressed, XorFloat32, Int8Quantized, Sparse, PerAxisScaled} {
		for _, withRef := range []bool{true, false} {
			t.Run(string(s), func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.Strategy, cfg.AllowLossy, cfg.ChunkSize = s, true, 32<<10
				tt := Tensor{DType: f4, Shape: shape, Data: tuned}
				var ref *Tensor
				if withRef {
					ref = &Tensor{DType: f4, Shape: shape, Data: base}
				}
				est, err := EstimateDeltaSize(tt, ref, cfg)
				if err != nil {
					t.Fatal(err)
				}
				obj := encodeT(t, tt, ref, cfg)
				if rel := math.Abs(float64(est)/float64(len(obj)) - 1); rel > 0.05 {
					t.Fatalf("estimate %d vs actual %d (%.1f%% off)", est, len(obj), 100*rel)
				}
			})
		}
	}
}

func TestParseStrategy(t *testing.T) {
	for _, s := range Strategies() {
		got, err := ParseStrategy(string(s))
		if err != nil || got != s {
			t.Fatalf("ParseStrategy(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseStrategy("FLOAT32_RAW"); err == nil {
		t.Fatal("names are case-sensitive")
	}
	lossless := 0
	for _, s := range Strategies() {
		if s.IsLossless() {
			lossless++
		}
	}
	if len(Strategies()) != 10 || lossless != 6 || !Auto.IsLossless() || Sparse.IsLossless() {
		t.Fatalf("strategy table wrong: %v", Strategies())
	}
	if !bytes.Equal([]byte(DefaultConfig().Strategy), []byte(Auto)) {
		t.Fatal("default strategy is not auto")
	}
}
