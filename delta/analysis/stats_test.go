package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"deltafs/delta"
	"deltafs/internal/testenv"
	"deltafs/npy"
)

// numpyStatsScript computes DeltaStats' figures with numpy from raw data.
const numpyStatsScript = `
import numpy as np, sys, json
d, descr, uint, thr = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
t = np.fromfile(d + "/t.bin", dtype=descr)
r = np.fromfile(d + "/r.bin", dtype=descr)
if t.dtype.kind == "c":
    t = t.view(np.dtype(descr[0] + "f" + str(t.dtype.itemsize // 2)))
    r = r.view(t.dtype)
w = t.dtype.itemsize
tu = t.view(np.dtype(descr[0] + "u" + str(w))).astype(np.uint64)
ru = r.view(tu.dtype if False else np.dtype(descr[0] + "u" + str(w))).astype(np.uint64)
mask = np.uint64((1 << (8 * w)) - 1)
sign = np.uint64(1 << (8 * w - 1))
def ordered(u):
    if t.dtype.kind == "f":
        return np.where(u & sign, ~u & mask, u | sign)
    if t.dtype.kind == "i":
        return u ^ sign
    return u
x = tu ^ ru
df = (ordered(tu) - ordered(ru)) & mask
def ent(a):
    out = []
    for k in range(w):
        b = ((a >> np.uint64(8 * k)) & np.uint64(255)).astype(np.int64)
        c = np.bincount(b, minlength=256)
        p = c[c > 0] / len(a)
        out.append(float(-(p * np.log2(p)).sum()) if len(a) else 0.0)
    return out
with np.errstate(all="ignore"):
    dv = t.astype(np.float64) - r.astype(np.float64)
dv = np.where(x == 0, 0.0, dv)
fin = np.isfinite(dv)
f = dv[fin]
qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
out = dict(elements=len(t), equal=int((x == 0).sum()), near=int((np.abs(f) < thr).sum()),
           nonfinite=int((~fin).sum()), xor=ent(x), diff=ent(df))
if len(f):
    out.update(min=float(f.min()), max=float(f.max()), mean=float(f.mean()), std=float(f.std()),
               quantiles=[float(v) for v in np.quantile(f, qs)])
print(json.dumps(out))
`

type numpyStats struct {
	Elements, Equal, Near, Nonfinite int
	XOR, Diff                        []float64
	Min, Max, Mean, Std              float64
	Quantiles                        []float64
}

func TestStatsAgainstNumpy(t *testing.T) {
	py := testenv.Python(t)
	base, tune := finetuneValues(64, 96, 3)
	r := rand.New(rand.NewPCG(5, 5))
	ints := func(scale float64) ([]float64, []float64) {
		a, b := make([]float64, len(base)), make([]float64, len(base))
		for i := range a {
			a[i] = math.Round(base[i] * scale)
			b[i] = a[i]
			if r.IntN(3) == 0 {
				b[i] += float64(r.IntN(7) - 3)
			}
		}
		return b, a
	}
	special := append([]float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, 5e-324, 1e-40},
		tune[:100]...)
	specialRef := append([]float64{math.NaN(), math.Inf(1), 1, 0, math.Copysign(0, -1), 0, 1e-40}, base[:100]...)
	i8t, i8r := ints(3000)
	i32t, i32r := ints(1e9)
	for _, tc := range []struct {
		name   string
		dtype  npy.DType
		bf16   bool
		t, r   []float64
		pydesc string
	}{
		{"f32", npy.Float32, false, tune, base, "<f4"},
		{"bf16", npy.Float32, true, tune, base, "<f4"},
		{"f16", npy.Float16, false, tune, base, "<f2"},
		{"f64", npy.Float64, false, tune, base, "<f8"},
		{"f32-big-endian", npy.DType{Kind: 'f', Size: 4, Order: '>'}, false, tune, base, ">f4"},
		{"f32-special", npy.Float32, false, special, specialRef, "<f4"},
		{"f16-special", npy.Float16, false, special, specialRef, "<f2"},
		{"i8", npy.Int8, false, clampAll(i8t, -128, 127), clampAll(i8r, -128, 127), "|i1"},
		{"i32", npy.Int32, false, i32t, i32r, "<i4"},
		{"u16", npy.Uint16, false, clampAll(i8t, 0, 65535), clampAll(i8r, 0, 65535), "<u2"},
		{"c64", npy.Complex64, false, tune, base, "<c8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := tensorOf(tc.dtype, tc.bf16, tc.t)
			rt := tensorOf(tc.dtype, tc.bf16, tc.r)
			got, err := DeltaStatistics(tt, &rt, StatsConfig{Threshold: 1e-4})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "t.bin"), tt.Data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "r.bin"), rt.Data, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(py, "-c", numpyStatsScript, dir, tc.pydesc, "", "1e-4").CombinedOutput()
			if err != nil {
				t.Fatalf("numpy: %v\n%s", err, out)
			}
			var want numpyStats
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			check := func(name string, g, w, tol float64) {
				t.Helper()
				if !(math.Abs(g-w) <= tol*math.Max(1, math.Abs(w))) {
					t.Errorf("%s = %v, numpy %v", name, g, w)
				}
			}
			checkInt := func(name string, g, w int) {
				t.Helper()
				if g != w {
					t.Errorf("%s = %d, numpy %d", name, g, w)
				}
			}
			checkInt("Elements", got.Elements, want.Elements)
			checkInt("Equal", got.Equal, want.Equal)
			checkInt("NearZero", got.NearZero, want.Near)
			checkInt("NonFinite", got.NonFinite, want.Nonfinite)
			for k := range want.XOR {
				check(fmt.Sprintf("XORPlaneEntropy[%d]", k), got.XORPlaneEntropy[k], want.XOR[k], 1e-9)
				check(fmt.Sprintf("DiffPlaneEntropy[%d]", k), got.DiffPlaneEntropy[k], want.Diff[k], 1e-9)
			}
			check("Min", got.Min, want.Min, 0)
			check("Max", got.Max, want.Max, 0)
			check("Mean", got.Mean, want.Mean, 1e-9)
			check("Std", got.Std, want.Std, 1e-9)
			for i, q := range got.Quantiles {
				check(fmt.Sprintf("quantile %v", q.Q), q.Value, want.Quantiles[i], 1e-12)
			}
		})
	}
}

func clampAll(v []float64, lo, hi float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Max(lo, math.Min(hi, x))
	}
	return out
}

func TestStatsCases(t *testing.T) {
	same := tensorOf(npy.Float32, false, []float64{1, 2, 3, math.NaN()})
	zeros := tensorOf(npy.Float32, false, []float64{0, 0, 0, 0})
	for _, tc := range []struct {
		name      string
		t, r      delta.Tensor
		noRef     bool
		equal     int
		nonFinite int
		boundInf  bool
	}{
		{"identical", same, same, false, 4, 0, true}, // an unchanged NaN is a zero delta
		{"alone", same, delta.Tensor{}, true, 0, 1, false},
		{"zeros-alone", zeros, delta.Tensor{}, true, 4, 0, true},
		{"empty", tensorOf(npy.Float32, false, nil), tensorOf(npy.Float32, false, nil), false, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ref *delta.Tensor
			if !tc.noRef {
				ref = &tc.r
			}
			s, err := DeltaStatistics(tc.t, ref, StatsConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Equal != tc.equal || s.NonFinite != tc.nonFinite {
				t.Errorf("Equal %d NonFinite %d, want %d %d", s.Equal, s.NonFinite, tc.equal, tc.nonFinite)
			}
			if math.IsInf(s.XORBoundRatio, 1) != tc.boundInf {
				t.Errorf("XORBoundRatio %v", s.XORBoundRatio)
			}
		})
	}
}

func TestStatsErrors(t *testing.T) {
	f32 := tensorOf(npy.Float32, false, []float64{1, 2})
	f16 := tensorOf(npy.Float16, false, []float64{1, 2, 3, 4})
	short := tensorOf(npy.Float32, false, []float64{1})
	bad := delta.Tensor{DType: npy.DType{Kind: 'S', Size: 4, Order: '|'}, Shape: []int64{1}, Data: make([]byte, 4)}
	for _, tc := range []struct {
		name string
		t, r delta.Tensor
		cfg  StatsConfig
		want string
	}{
		{"dtype", f32, f16, StatsConfig{}, "differ"},
		{"size", f32, short, StatsConfig{}, "differ"},
		{"kind", bad, bad, StatsConfig{}, "unsupported"},
		{"threshold", f32, f32, StatsConfig{Threshold: -1}, "threshold"},
		{"quantile", f32, f32, StatsConfig{Quantiles: []float64{1.5}}, "quantile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DeltaStatistics(tc.t, &tc.r, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestStatsSampledQuantiles checks the strided quantile estimate is close
// on a large tensor and flagged as inexact.
func TestStatsSampledQuantiles(t *testing.T) {
	base, tune := finetuneValues(256, 256, 9)
	tt, rt := tensorOf(npy.Float32, false, tune), tensorOf(npy.Float32, false, base)
	exact, err := DeltaStatistics(tt, &rt, StatsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	est, err := DeltaStatistics(tt, &rt, StatsConfig{MaxSortSample: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if !exact.QuantilesExact || est.QuantilesExact {
		t.Fatalf("QuantilesExact = %v, %v", exact.QuantilesExact, est.QuantilesExact)
	}
	for i := range exact.Quantiles {
		e, g := exact.Quantiles[i].Value, est.Quantiles[i].Value
		if math.Abs(e-g) > 0.1*exact.Std {
			t.Errorf("quantile %v: sampled %v, exact %v", exact.Quantiles[i].Q, g, e)
		}
	}
}
