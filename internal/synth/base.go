package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Base generates the base model of cfg.
func Base(cfg Config) ([]Tensor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	specs := cfg.Specs()
	out := make([]Tensor, len(specs))
	plans := make([]fillPlan, len(specs))
	for i, s := range specs {
		out[i] = Tensor{Name: s.Name, DType: cfg.Precision.DType(), Shape: s.Shape,
			Data: make([]byte, s.numElements()*int64(cfg.Precision.ElemSize())), Precision: cfg.Precision, Change: ChangeBase}
		plans[i] = cfg.plan(s)
	}
	runBlocks(out, func(t int, rows rowRange) {
		plans[t].fill(out[t], rows, rngFor(cfg.Seed, "base/"+rows.tag(), out[t].Name))
	})
	return out, nil
}

// fillPlan holds the per-tensor draws of a random tensor: its scale and the
// outlier structure. Elements are then drawn block by block.
type fillPlan struct {
	mean, std       float64
	colScale        []float64 // nil: all columns alike
	outlierFraction float64
}

// plan draws the per-tensor parameters of a base tensor.
func (c Config) plan(s Spec) fillPlan {
	rng := rngFor(c.Seed, "base-plan", s.Name)
	std := c.baseStd(s.role) * (0.75 + float64(0.5*rng.Float64()))
	if s.role == roleNorm {
		return fillPlan{mean: 1, std: std}
	}
	return matrixPlan(rng, 0, std, s.Shape, c.OutlierFraction, c.OutlierChannels)
}

// matrixPlan draws the outlier channels of a matrix.
func matrixPlan(rng *rand.Rand, mean, std float64, shape []int64, outliers, outlierChannels float64) fillPlan {
	p := fillPlan{mean: mean, std: std, outlierFraction: outliers}
	if len(shape) >= 2 && outlierChannels > 0 {
		p.colScale = make([]float64, shape[len(shape)-1])
		for j := range p.colScale {
			p.colScale[j] = 1
			if rng.Float64() < outlierChannels {
				p.colScale[j] = 4
			}
		}
	}
	return p
}

// fill draws the elements of rows of t.
func (p fillPlan) fill(t Tensor, rows rowRange, rng *rand.Rand) {
	cols := rowLen(t.Shape)
	for i := rows.first * cols; i < rows.end*cols; i++ {
		scale := p.std
		if p.colScale != nil {
			scale *= p.colScale[i%cols]
		}
		// float64(...) rounds each product, forbidding fused multiply-adds, so
		// every architecture computes the same values.
		v := p.mean + float64(scale*rng.NormFloat64())
		if p.outlierFraction > 0 && rng.Float64() < p.outlierFraction {
			v = p.std * (6 + float64(24*rng.Float64()))
			if rng.IntN(2) == 0 {
				v = -v
			}
			v += p.mean
		}
		t.Precision.put(t.Data, i, v)
	}
}

// rowRange is a block of rows [first, end) of a tensor, the unit of
// parallel generation; its index names its random stream.
type rowRange struct{ index, first, end int }

func (r rowRange) tag() string { return strconv.Itoa(r.index) }

// blockElems is the number of elements per generation block.
const blockElems = 1 << 18

// rowLen returns the elements per row (the last dimension; 1 for 0-d).
func rowLen(shape []int64) int {
	if len(shape) == 0 {
		return 1
	}
	return max(int(shape[len(shape)-1]), 1)
}

// numRows returns the number of rows of a C-order tensor.
func numRows(t Tensor) int {
	cols := rowLen(t.Shape)
	return t.NumElements() / cols
}

// runBlocks calls fn for every block of rows of every tensor, in parallel.
// The blocks depend only on the shapes, never on the number of workers.
func runBlocks(ts []Tensor, fn func(tensor int, rows rowRange)) {
	type job struct {
		tensor int
		rows   rowRange
	}
	var jobs []job
	for t := range ts {
		rowsPer := max(1, blockElems/rowLen(ts[t].Shape))
		n := numRows(ts[t])
		for b, first := 0, 0; first < n; b, first = b+1, first+rowsPer {
			jobs = append(jobs, job{t, rowRange{index: b, first: first, end: min(first+rowsPer, n)}})
		}
	}
	forEach(len(jobs), func(i int) { fn(jobs[i].tensor, jobs[i].rows) })
}

// stats returns the mean and standard deviation of a tensor's values,
// ignoring non-finite ones.
func stats(t Tensor) (mean, std float64) {
	n := t.NumElements()
	var sum, sq float64
	var count int
	for i := range n {
		v := t.Precision.get(t.Data, i)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		sum += v
		sq += float64(v * v)
		count++
	}
	if count == 0 {
		return 0, 0
	}
	mean = sum / float64(count)
	return mean, math.Sqrt(math.Max(sq/float64(count)-float64(mean*mean), 0))
}

// checkTensor validates a tensor handed to FineTune.
func checkTensor(t Tensor) error {
	if !t.Precision.valid() {
		return fmt.Errorf("synth: tensor %q has unknown precision %q", t.Name, t.Precision)
	}
	if t.DType != t.Precision.DType() {
		return fmt.Errorf("synth: tensor %q: dtype %v does not store %s", t.Name, t.DType, t.Precision)
	}
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 || (d > 0 && n > maxElements/d) {
			return fmt.Errorf("synth: tensor %q has an invalid shape %v", t.Name, t.Shape)
		}
		n *= d
	}
	if int64(len(t.Data)) != n*int64(t.DType.Size) {
		return fmt.Errorf("synth: tensor %q holds %d bytes, shape %v needs %d", t.Name, len(t.Data), t.Shape, n*int64(t.DType.Size))
	}
	return nil
}
