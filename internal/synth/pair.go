package synth

import (
	"fmt"
)

// Matrix generates one standalone (rows, cols) weight matrix like those of
// the base model (std 0.02, default outliers), named name.
func Matrix(name string, rows, cols int, p Precision, seed uint64) (Tensor, error) {
	if rows <= 0 || cols <= 0 || int64(rows)*int64(cols) > maxElements {
		return Tensor{}, fmt.Errorf("synth: invalid matrix shape (%d, %d)", rows, cols)
	}
	if !p.valid() {
		return Tensor{}, fmt.Errorf("synth: unknown precision %q", p)
	}
	def := DefaultConfig()
	shape := []int64{int64(rows), int64(cols)}
	t := Tensor{Name: name, DType: p.DType(), Shape: shape, Data: make([]byte, rows*cols*p.ElemSize()), Precision: p, Change: ChangeBase}
	plan := matrixPlan(rngFor(seed, "matrix-plan", name), 0, 0.02, shape, def.OutlierFraction, def.OutlierChannels)
	runBlocks([]Tensor{t}, func(_ int, r rowRange) {
		plan.fill(t, r, rngFor(seed, "matrix/"+r.tag(), name))
	})
	return t, nil
}

// Pair generates one (rows, cols) base matrix and its tuned counterpart
// (base + low-rank update + dense noise per ft; the frozen and retrained
// fractions of ft do not apply).
func Pair(name string, rows, cols int, p Precision, seed uint64, ft FineTuneConfig) (base, tuned Tensor, err error) {
	if base, err = Matrix(name, rows, cols, p, seed); err != nil {
		return Tensor{}, Tensor{}, err
	}
	ft.FrozenFraction, ft.RetrainedFraction = 0, 0
	out, err := FineTune([]Tensor{base}, ft)
	if err != nil {
		return Tensor{}, Tensor{}, err
	}
	return base, out[0], nil
}

// PairOfSize is Pair for a matrix of 4096 columns holding about size bytes
// of data (at least one row), e.g. 256 MiB for a large-tensor benchmark.
func PairOfSize(size int64, p Precision, seed uint64, ft FineTuneConfig) (base, tuned Tensor, err error) {
	const cols = 4096
	rows := max(1, size/int64(cols*p.ElemSize()))
	if rows*cols > maxElements {
		return Tensor{}, Tensor{}, fmt.Errorf("synth: %d bytes exceeds the generator's limit", size)
	}
	return Pair("weight", int(rows), cols, p, seed, ft)
}
