package synth

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"deltafs/internal/testenv"
	"deltafs/npy"
)

// smallConfig is a model small enough for tests to generate many times.
func smallConfig(p Precision) Config {
	c := DefaultConfig()
	c.Dim, c.FFN, c.Layers, c.Vocab, c.Precision = 64, 172, 3, 512, p
	return c
}

func mustBase(t testing.TB, c Config) []Tensor {
	t.Helper()
	ts, err := Base(c)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func mustFineTune(t testing.TB, base []Tensor, ft FineTuneConfig) []Tensor {
	t.Helper()
	ts, err := FineTune(base, ft)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func sameTensors(a, b []Tensor) bool {
	return slices.EqualFunc(a, b, func(x, y Tensor) bool {
		return x.Name == y.Name && x.DType == y.DType && slices.Equal(x.Shape, y.Shape) &&
			bytes.Equal(x.Data, y.Data) && x.Change == y.Change && x.Precision == y.Precision
	})
}

func TestDeterminism(t *testing.T) {
	for _, p := range []Precision{Float32, Float16, BFloat16} {
		cfg := smallConfig(p)
		base := mustBase(t, cfg)
		ft := mustFineTune(t, base, DefaultFineTune(5))

		// Any parallelism gives the same bytes.
		prev := runtime.GOMAXPROCS(1)
		base1 := mustBase(t, cfg)
		ft1 := mustFineTune(t, base1, DefaultFineTune(5))
		runtime.GOMAXPROCS(prev)
		if !sameTensors(base, base1) || !sameTensors(ft, ft1) {
			t.Errorf("%s: generation depends on GOMAXPROCS", p)
		}

		// Other seeds give other weights.
		other := cfg
		other.Seed++
		if b2 := mustBase(t, other); bytes.Equal(b2[1].Data, base[1].Data) {
			t.Errorf("%s: base seeds %d and %d give the same %s", p, cfg.Seed, other.Seed, base[1].Name)
		}
		ft2 := mustFineTune(t, base, DefaultFineTune(6))
		differs := false
		for i := range ft {
			if ft[i].Change == ChangeTuned && ft2[i].Change == ChangeTuned && !bytes.Equal(ft[i].Data, ft2[i].Data) {
				differs = true
			}
		}
		if !differs {
			t.Errorf("%s: fine-tune seeds 5 and 6 give the same tensors", p)
		}
	}
}

func TestLayout(t *testing.T) {
	cfg := smallConfig(Float16)
	base := mustBase(t, cfg)
	d, f, v := int64(cfg.Dim), int64(cfg.FFN), int64(cfg.Vocab)
	want := map[string][]int64{"embed_tokens": {v, d}, "norm": {d}, "lm_head": {v, d}}
	for l := range cfg.Layers {
		p := fmt.Sprintf("layers/%d/", l)
		for _, n := range []string{"wq", "wk", "wv", "wo"} {
			want[p+n] = []int64{d, d}
		}
		want[p+"w1"], want[p+"w3"], want[p+"w2"] = []int64{f, d}, []int64{f, d}, []int64{d, f}
		want[p+"attn_norm"], want[p+"ffn_norm"] = []int64{d}, []int64{d}
	}
	if len(base) != len(want) {
		t.Fatalf("%d tensors, want %d", len(base), len(want))
	}
	var params int64
	for _, ts := range base {
		shape, ok := want[ts.Name]
		if !ok || !slices.Equal(ts.Shape, shape) {
			t.Errorf("tensor %s shape %v, want %v (listed: %v)", ts.Name, ts.Shape, shape, ok)
		}
		if ts.DType != npy.Float16 || ts.Change != ChangeBase || len(ts.Data) != ts.NumElements()*2 {
			t.Errorf("tensor %s: dtype %v, change %s, %d bytes", ts.Name, ts.DType, ts.Change, len(ts.Data))
		}
		params += int64(ts.NumElements())
	}
	if params != cfg.NumParams() || TotalBytes(base) != 2*params {
		t.Errorf("NumParams %d, counted %d, TotalBytes %d", cfg.NumParams(), params, TotalBytes(base))
	}
	if s := Describe(cfg); !strings.Contains(s, "d=64") || !strings.Contains(s, "float16") {
		t.Errorf("Describe = %q", s)
	}
}

// values decodes a tensor to float64.
func values(ts Tensor) []float64 {
	out := make([]float64, ts.NumElements())
	for i := range out {
		out[i] = ts.Precision.get(ts.Data, i)
	}
	return out
}

func TestBaseDistribution(t *testing.T) {
	cfg := smallConfig(Float32)
	cfg.Dim, cfg.Vocab = 256, 4096
	for _, ts := range mustBase(t, cfg) {
		mean, std := stats(ts)
		v := values(ts)
		var maxAbs float64
		for _, x := range v {
			maxAbs = max(maxAbs, math.Abs(x-mean))
		}
		switch {
		case strings.HasSuffix(ts.Name, "norm"):
			if math.Abs(mean-1) > 0.02 || std < 0.02 || std > 0.1 {
				t.Errorf("%s: mean %.3f std %.3f, want ≈1 and ≈0.05", ts.Name, mean, std)
			}
		case strings.HasSuffix(ts.Name, "wo") || strings.HasSuffix(ts.Name, "w2"):
			nominal := 0.02 / math.Sqrt(2*float64(cfg.Layers))
			if math.Abs(mean) > 0.1*std || std < 0.7*nominal || std > 1.6*nominal {
				t.Errorf("%s: mean %.4f std %.4f, want 0 and ≈%.4f", ts.Name, mean, std, nominal)
			}
		default:
			if math.Abs(mean) > 0.1*std || std < 0.014 || std > 0.032 {
				t.Errorf("%s: mean %.4f std %.4f, want 0 and ≈0.02", ts.Name, mean, std)
			}
			if len(v) >= 1<<20 && maxAbs < 6*std {
				t.Errorf("%s: no outliers (max |w| %.3g = %.1fσ)", ts.Name, maxAbs, maxAbs/std)
			}
		}
	}
}

func TestFineTune(t *testing.T) {
	for _, p := range []Precision{Float32, Float16, BFloat16} {
		t.Run(string(p), func(t *testing.T) {
			cfg := smallConfig(p)
			base := mustBase(t, cfg)
			ftc := DefaultFineTune(9)
			tuned := mustFineTune(t, base, ftc)
			counts := map[Change]int{}
			for i, ts := range tuned {
				b := base[i]
				counts[ts.Change]++
				if ts.Name != b.Name || ts.DType != b.DType || !slices.Equal(ts.Shape, b.Shape) || len(ts.Data) != len(b.Data) {
					t.Fatalf("%s: fine-tune tensor does not match its base's metadata", ts.Name)
				}
				if p == BFloat16 && !npy.IsBF16Representable(ts.Data) {
					t.Errorf("%s: bfloat16 fine-tune has nonzero low halves", ts.Name)
				}
				bv, tv := values(b), values(ts)
				mean, std := stats(b)
				scale := math.Hypot(mean, std)
				var sq float64
				for j := range bv {
					sq += (tv[j] - bv[j]) * (tv[j] - bv[j])
				}
				rel := math.Sqrt(sq/float64(len(bv))) / scale
				switch ts.Change {
				case ChangeFrozen:
					if !bytes.Equal(ts.Data, b.Data) {
						t.Errorf("%s: frozen tensor differs from the base", ts.Name)
					}
				case ChangeRetrained:
					// Independent draws differ by about sqrt(2)·std.
					if r := math.Sqrt(sq/float64(len(bv))) / std; r < 1 || r > 2 {
						t.Errorf("%s: retrained tensor differs by %.3g std, want ≈1.41", ts.Name, r)
					}
				case ChangeTuned:
					// The update and the noise, plus the rounding of the
					// precision (relative half-ulp: 2^-24, 2^-11, 2^-8).
					want := math.Hypot(ftc.UpdateScale, ftc.NoiseScale)
					slack := map[Precision]float64{Float32: 0, Float16: 0.002, BFloat16: 0.006}[p]
					if rel < 0.6*want || rel > 1.5*want+slack {
						t.Errorf("%s: tuned tensor moved by %.3g of its RMS, want ≈%.3g", ts.Name, rel, want)
					}
				default:
					t.Errorf("%s: change %q", ts.Name, ts.Change)
				}
			}
			n := len(base)
			if counts[ChangeFrozen] != int(math.Round(0.2*float64(n))) || counts[ChangeRetrained] != int(math.Round(0.05*float64(n))) ||
				counts[ChangeTuned] != n-counts[ChangeFrozen]-counts[ChangeRetrained] {
				t.Errorf("changes %v over %d tensors", counts, n)
			}
		})
	}
}

func TestFineTuneLowRank(t *testing.T) {
	// Without noise the float64 update is exactly rank r; in float32 the
	// difference keeps almost all its energy in r singular directions. We
	// check the cheaper consequence: r+1 rows' differences are linearly
	// dependent up to rounding, while r of them are not.
	ftc := FineTuneConfig{Seed: 3, Rank: 2, UpdateScale: 0.05}
	base, tuned, err := Pair("w", 64, 64, Float32, 1, ftc)
	if err != nil {
		t.Fatal(err)
	}
	diff := func(r int) []float64 {
		out := make([]float64, 64)
		for c := range out {
			out[c] = tuned.Precision.get(tuned.Data, r*64+c) - base.Precision.get(base.Data, r*64+c)
		}
		return out
	}
	// Gram-Schmidt residual of row 2 against rows 0 and 1.
	basis := [][]float64{}
	var residual float64
	for r := range 3 {
		v := diff(r)
		norm0 := math.Sqrt(dot(v, v))
		for _, b := range basis {
			k := dot(v, b)
			for i := range v {
				v[i] -= k * b[i]
			}
		}
		n := math.Sqrt(dot(v, v))
		residual = n / norm0
		if r < 2 {
			if residual < 0.1 {
				t.Fatalf("row %d of a rank-2 update is degenerate (%.3g)", r, residual)
			}
			for i := range v {
				v[i] /= n
			}
			basis = append(basis, v)
		}
	}
	if residual > 1e-3 {
		t.Errorf("third row of a rank-2 update keeps %.3g of its norm outside the first two", residual)
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func TestPairOfSize(t *testing.T) {
	base, tuned, err := PairOfSize(1<<20, BFloat16, 4, DefaultFineTune(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(base.Data) != 1<<20 || !slices.Equal(base.Shape, []int64{64, 4096}) || tuned.Change != ChangeTuned {
		t.Fatalf("PairOfSize: %v %d bytes, %s", base.Shape, len(base.Data), tuned.Change)
	}
	if !npy.IsBF16Representable(base.Data) || !npy.IsBF16Representable(tuned.Data) || bytes.Equal(base.Data, tuned.Data) {
		t.Fatal("bf16 pair is not bf16, or not tuned")
	}
}

func TestValidation(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Dim = 0 },
		func(c *Config) { c.Layers = -1 },
		func(c *Config) { c.Precision = "float64" },
		func(c *Config) { c.OutlierFraction = 2 },
		func(c *Config) { c.OutlierChannels = math.NaN() },
		func(c *Config) { c.Vocab, c.Dim = 1<<31, 1<<20 },
	}
	for i, mutate := range bad {
		c := smallConfig(Float32)
		mutate(&c)
		if _, err := Base(c); err == nil {
			t.Errorf("bad config %d accepted: %+v", i, c)
		}
	}
	base := mustBase(t, smallConfig(Float32))
	badFT := []FineTuneConfig{
		{Rank: -1}, {UpdateScale: -1}, {NoiseScale: math.Inf(1)}, {FrozenFraction: 0.7, RetrainedFraction: 0.7}, {FrozenFraction: -0.1},
	}
	for _, ft := range badFT {
		if _, err := FineTune(base, ft); err == nil {
			t.Errorf("bad fine-tune config accepted: %+v", ft)
		}
	}
	broken := slices.Clone(base)
	broken[0].Data = broken[0].Data[:10]
	if _, err := FineTune(broken, DefaultFineTune(1)); err == nil {
		t.Error("tensor with short data accepted")
	}
	if _, err := Matrix("m", 0, 3, Float32, 1); err == nil {
		t.Error("empty matrix accepted")
	}
	if _, err := ParsePrecision("int8"); err == nil {
		t.Error("ParsePrecision accepted int8")
	}
	if err := WriteModel(t.TempDir(), []Tensor{{Name: "../escape", DType: npy.Float32, Precision: Float32}}); err == nil {
		t.Error("WriteModel wrote outside its directory")
	}
}

// TestWriteModelNumpy writes a model and has numpy load every file and
// compare it with the generator's bytes.
func TestWriteModelNumpy(t *testing.T) {
	dir := t.TempDir()
	ts := mustBase(t, smallConfig(BFloat16))
	if err := WriteModel(dir, ts); err != nil {
		t.Fatal(err)
	}
	var listing strings.Builder
	for _, x := range ts {
		file, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(x.Path())))
		if err != nil {
			t.Fatal(err)
		}
		h, off, err := npy.ParseHeader(file)
		if err != nil || !bytes.Equal(file[off:], x.Data) || !slices.Equal(h.Shape, x.Shape) {
			t.Fatalf("%s: header %+v, %v; data equal: %v", x.Path(), h, err, bytes.Equal(file[off:], x.Data))
		}
		fmt.Fprintf(&listing, "%s %d\n", x.Path(), len(x.Data))
	}
	py := testenv.Python(t)
	script := `
import sys, numpy as np
d = sys.argv[1]
for line in sys.stdin:
    path, n = line.split()
    a = np.load(d + "/" + path)
    assert a.dtype == np.float32 and a.nbytes == int(n), (path, a.dtype, a.nbytes)
    assert not (a.view(np.uint32) & 0xffff).any(), path
print("ok")
`
	cmd := exec.Command(py, "-c", script, dir)
	cmd.Stdin = strings.NewReader(listing.String())
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
}

func BenchmarkBase(b *testing.B) {
	cfg := DefaultConfig()
	b.SetBytes(cfg.NumParams() * int64(cfg.Precision.ElemSize()))
	for b.Loop() {
		if _, err := Base(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFineTune(b *testing.B) {
	cfg := DefaultConfig()
	base, err := Base(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(TotalBytes(base))
	for b.Loop() {
		if _, err := FineTune(base, DefaultFineTune(2)); err != nil {
			b.Fatal(err)
		}
	}
}
