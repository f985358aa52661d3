package npy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"deltafs/internal/testenv"
)

// liveNumpyScript writes one .npy per spec with np.save and prints what
// numpy reads back from each header.
const liveNumpyScript = `
import io, json, sys
import numpy as np
specs = json.load(sys.stdin)
out = []
for i, s in enumerate(specs):
    a = np.empty(tuple(s["shape"]), dtype=s["descr"], order="F" if s["fortran"] else "C")
    path = "%s/%d.npy" % (sys.argv[1], i)
    np.save(path, a)
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = np.lib.format._read_array_header(f, version)
        out.append({"descr": dtype.str, "shape": list(shape), "fortran": bool(fortran), "offset": f.tell()})
print(json.dumps(out))
`

type liveSpec struct {
	Descr   string  `json:"descr"`
	Shape   []int64 `json:"shape"`
	Fortran bool    `json:"fortran"`
	Offset  int     `json:"offset,omitempty"`
}

// randomSpecs draws dtypes, orders and shapes with dimensions of every
// digit count; a shape with a long dimension gets a zero one too, so the
// arrays stay empty.
func randomSpecs(rng *rand.Rand, n int) []liveSpec {
	descrs := []string{"|b1", "|i1", "|u1", "<i2", ">i2", "<i4", ">u4", "<i8", ">u8", "<u2",
		"<f2", ">f2", "<f4", ">f4", "<f8", ">f8", "<c8", ">c8", "<c16", ">c16"}
	specs := make([]liveSpec, n)
	for i := range specs {
		ndim := rng.IntN(6)
		shape := make([]int64, ndim)
		big := false
		budget := 17 // digits of the non-zero dimensions: 16-byte items stay below 2^63 bytes
		for j := range shape {
			if rng.IntN(4) == 0 && budget > 1 {
				digits := 1 + rng.IntN(min(12, budget-1))
				budget -= digits
				shape[j] = rng.Int64N(pow10(digits))
				big = big || shape[j] > 4
			} else {
				shape[j] = rng.Int64N(4)
				budget--
			}
		}
		if big {
			shape[rng.IntN(ndim)] = 0
		}
		specs[i] = liveSpec{Descr: descrs[rng.IntN(len(descrs))], Shape: shape, Fortran: rng.IntN(2) == 0}
	}
	return specs
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// TestAgainstLiveNumpy has the installed numpy write random headers and
// checks that we parse what it reads and format what it writes, byte for
// byte. The seed is logged; set DELTAFS_NPY_SEED to replay one.
func TestAgainstLiveNumpy(t *testing.T) {
	py := testenv.Python(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DELTAFS_NPY_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d", seed)
	specs := randomSpecs(rand.New(rand.NewPCG(seed, 0)), 200)
	in, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(py, "-c", liveNumpyScript, dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("numpy script: %v\n%s", err, stderr.String())
	}
	var seen []liveSpec
	if err := json.Unmarshal(out, &seen); err != nil || len(seen) != len(specs) {
		t.Fatalf("numpy script output: %v (%d results for %d specs)", err, len(seen), len(specs))
	}
	for i, want := range seen {
		file, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.npy", i)))
		if err != nil {
			t.Fatal(err)
		}
		h, off, err := ParseHeader(file)
		if err != nil {
			t.Errorf("spec %+v: ParseHeader: %v", specs[i], err)
			continue
		}
		if h.DType.Descr() != want.Descr || h.Fortran != want.Fortran || !slices.Equal(h.Shape, want.Shape) || off != want.Offset {
			t.Errorf("parsed %v fortran=%v shape=%v offset %d; numpy read %+v", h.DType, h.Fortran, h.Shape, off, want)
		}
		if got, err := FormatHeader(h); err != nil || !bytes.Equal(got, file[:off]) {
			t.Errorf("FormatHeader(%+v) =\n%q, %v\nnumpy wrote\n%q", h, got, err, file[:off])
		}
	}
}
