package analysis

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"deltafs/internal/testenv"
)

// TestHalfAgainstNumpy checks the float16 conversions against numpy: every
// one of the 65536 bit patterns widened to float64, and a million float64
// values (many on rounding ties) narrowed to float16.
func TestHalfAgainstNumpy(t *testing.T) {
	py := testenv.Python(t)
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 1))
	const n = 1 << 20
	in := make([]byte, 8*n)
	for i := 0; i < n; i++ {
		var f float64
		switch i % 4 {
		case 0: // exact ties between neighbouring halves
			h := uint16(r.Uint32())
			f = (halfToFloat64(h) + halfToFloat64(h+1)) / 2
		case 1:
			f = r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-25))
		case 2:
			f = math.Float64frombits(r.Uint64())
		default:
			f = float64(r.IntN(70000)) * math.Pow(2, float64(r.IntN(8)-3))
		}
		binary.LittleEndian.PutUint64(in[8*i:], math.Float64bits(f))
	}
	if err := os.WriteFile(filepath.Join(dir, "in.bin"), in, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
import numpy as np, sys
d = sys.argv[1]
np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float64).tofile(d + "/widened.bin")
with np.errstate(all="ignore"):
    np.fromfile(d + "/in.bin", dtype="<f8").astype(np.float16).tofile(d + "/narrowed.bin")
`
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	widened, err := os.ReadFile(filepath.Join(dir, "widened.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for h := 0; h < 65536; h++ {
		want := binary.LittleEndian.Uint64(widened[8*h:])
		got := math.Float64bits(halfToFloat64(uint16(h)))
		if got != want && !(math.IsNaN(math.Float64frombits(got)) && math.IsNaN(math.Float64frombits(want))) {
			t.Fatalf("halfToFloat64(%#04x) = %#x, numpy %#x", h, got, want)
		}
		if f := math.Float64frombits(got); !math.IsNaN(f) && float64ToHalf(f) != uint16(h) {
			t.Fatalf("float64ToHalf(halfToFloat64(%#04x)) = %#04x", h, float64ToHalf(f))
		}
	}
	narrowed, err := os.ReadFile(filepath.Join(dir, "narrowed.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		f := math.Float64frombits(binary.LittleEndian.Uint64(in[8*i:]))
		want := binary.LittleEndian.Uint16(narrowed[2*i:])
		got := float64ToHalf(f)
		if math.IsNaN(f) {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("float64ToHalf(NaN) = %#04x, not a NaN", got)
			}
			continue
		}
		if got != want {
			t.Fatalf("float64ToHalf(%v) = %#04x, numpy %#04x", f, got, want)
		}
	}
}
