package synth

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"deltafs/internal/testenv"
)

// TestFloat16RoundTripAndTies checks every binary16 value: widening is
// undone by narrowing, and the float32 midpoint to the next value rounds to
// the even one of the two.
func TestFloat16RoundTripAndTies(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		f := Float16ToFloat32(h)
		if got := Float32ToFloat16(f); got != h {
			t.Fatalf("Float32ToFloat16(Float16ToFloat32(%#04x) = %g) = %#04x", h, f, got)
		}
		if h&0x7c00 == 0x7c00 || h&0x7fff == 0x7bff {
			continue // NaN/inf, or the largest finite value (no next one)
		}
		next := Float16ToFloat32(h + 1)
		if h == 0x8000 {
			continue // -0 and the next code (-smallest subnormal) go the other way
		}
		mid := float32((float64(f) + float64(next)) / 2) // exact in float32
		want := h
		if h&1 == 1 {
			want = h + 1
		}
		if got := Float32ToFloat16(mid); got != want {
			t.Fatalf("midpoint of %#04x and %#04x (%g): got %#04x, want %#04x", h, h+1, mid, got, want)
		}
	}
}

func TestBFloat16(t *testing.T) {
	tests := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80},                       // 1
		{0x3f808000, 0x3f80}, {0x3f818000, 0x3f82}, // ties to even
		{0x3f808001, 0x3f81}, {0x3f807fff, 0x3f80}, // just past, just below the tie
		{0x7f7fffff, 0x7f80}, {0xff7fffff, 0xff80}, // overflow to ±inf
		{0x7f800000, 0x7f80}, {0x80000000, 0x8000}, // inf, -0
		{0x00008000, 0x0000}, {0x00018000, 0x0002}, // subnormal ties
		{0x7f800001, 0x7fc0}, {0xffa00000, 0xffe0}, // NaNs stay NaN, made quiet
	}
	for _, tt := range tests {
		if got := Float32ToBFloat16(math.Float32frombits(tt.in)); got != tt.want {
			t.Errorf("Float32ToBFloat16(%#08x) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	for b := range 1 << 16 {
		f := BFloat16ToFloat32(uint16(b))
		if got := Float32ToBFloat16(f); got != uint16(b) && !(f != f && got == uint16(b)|0x40) {
			t.Fatalf("round trip of bf16 %#04x gave %#04x", b, got)
		}
	}
}

// conversionScript converts float32 bit patterns with numpy (float16) and
// with exact rational rounding (bfloat16, which numpy lacks).
const conversionScript = `
import json, math, sys
from fractions import Fraction
import numpy as np
bits = np.array(json.load(sys.stdin), dtype=np.uint32)
f32 = bits.view(np.float32)
with np.errstate(all="ignore"):
    f16 = f32.astype(np.float16).view(np.uint16)

def bf16(x):
    # nearest bfloat16 (8 significant bits, float32's exponent range) by exact
    # arithmetic, ties to even; None for NaN
    if math.isnan(x):
        return None
    if math.isinf(x) or x == 0:
        return float(x)
    m, e = math.frexp(abs(x))          # |x| = m * 2**e, 0.5 <= m < 1
    ulp = Fraction(2) ** (max(e, -125) - 8)
    q = Fraction(abs(x)) / ulp
    r = round(q) * ulp                 # round() on Fraction: ties to even
    y = float(r)
    if y >= 2.0 ** 128 * (1 - 2.0 ** -9):
        y = math.inf
    return math.copysign(y, x)

def bits32(y):
    return -1 if y is None else int(np.array([y], dtype=np.float32).view(np.uint32)[0])

print(json.dumps({"f16": [int(v) for v in f16],
                  "bf16": [bits32(bf16(float(v))) for v in f32]}))
`

// conversionInputs returns float32 bit patterns covering subnormals, ties,
// overflow, infinities, NaNs and ordinary values.
func conversionInputs() []uint32 {
	in := []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffa00000, 0x7fa00000,
		1, 0x80000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff,
		0x477fe000, 0x477ff000, 0x477fefff, 0x47800000, // around float16's max 65504
		0x33000000, 0x33000001, 0x32ffffff, 0x33800000, 0x387fc000, 0x38800000, // float16 subnormal edges
		0x3f808000, 0x3f818000, 0x3f801000, 0x3f803000, 0x3f802000, // ties for bf16 and f16
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		switch rng.IntN(4) {
		case 0: // anything
			in = append(in, rng.Uint32())
		case 1: // near float16's range
			in = append(in, uint32(0x30000000+rng.IntN(0x18000000))|rng.Uint32()&0x80000000)
		case 2: // ties of float16 (13 dropped bits) and bfloat16 (16)
			in = append(in, rng.Uint32()&^0x1fff|0x1000, rng.Uint32()&^0xffff|0x8000)
		default: // typical weights
			in = append(in, math.Float32bits(float32(rng.NormFloat64()*0.02)))
		}
	}
	return in
}

func TestConversionsAgainstNumpy(t *testing.T) {
	py := testenv.Python(t)
	in := conversionInputs()
	payload, _ := json.Marshal(in)
	cmd := exec.Command(py, "-c", conversionScript)
	cmd.Stdin = bytes.NewReader(payload)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var ref struct {
		F16  []uint16 `json:"f16"`
		BF16 []int64  `json:"bf16"` // float32 bits of the exact bf16 rounding; -1 for NaN
	}
	if err := json.Unmarshal(out, &ref); err != nil || len(ref.F16) != len(in) || len(ref.BF16) != len(in) {
		t.Fatalf("python output: %v", err)
	}
	for i, bits := range in {
		f := math.Float32frombits(bits)
		if got := Float32ToFloat16(f); got != ref.F16[i] {
			t.Errorf("Float32ToFloat16(%#08x = %g) = %#04x, numpy %#04x", bits, f, got, ref.F16[i])
		}
		got := BFloat16ToFloat32(Float32ToBFloat16(f))
		if ref.BF16[i] < 0 {
			if got == got {
				t.Errorf("bf16 of NaN %#08x is %g", bits, got)
			}
			continue
		}
		if want := uint32(ref.BF16[i]); math.Float32bits(got) != want {
			t.Errorf("bf16(%#08x = %g) = %#08x, exact rounding %#08x", bits, f, math.Float32bits(got), want)
		}
	}
}

// TestFloat16ToFloat32AgainstNumpy widens all 65536 binary16 values with
// numpy and compares the float32 bits (NaN payloads included).
func TestFloat16ToFloat32AgainstNumpy(t *testing.T) {
	py := testenv.Python(t)
	out, err := exec.Command(py, "-c",
		"import sys, numpy as np; sys.stdout.buffer.write(np.arange(65536, dtype=np.uint16).view(np.float16).astype('<f4').tobytes())").Output()
	if err != nil || len(out) != 4<<16 {
		t.Fatalf("python: %v (%d bytes)", err, len(out))
	}
	for h := range 1 << 16 {
		want := binary.LittleEndian.Uint32(out[4*h:])
		got := math.Float32bits(Float16ToFloat32(uint16(h)))
		if got != want {
			t.Errorf("Float16ToFloat32(%#04x) = %#08x, numpy %#08x", h, got, want)
		}
	}
}
