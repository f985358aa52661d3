package analysis

import (
	"encoding/binary"
	"fmt"
	"math"

	"deltafs/delta"
	"deltafs/npy"
)

// A sketch stands for a tensor when looking for the most similar one: its
// values at a few evenly spaced windows, the same positions for every
// tensor of one dtype and size, so two tensors' sketches compare value for
// value. Sampling a tensor for its sketch reads (and, stored, decodes) only
// those windows.
const (
	sketchWindows    = 4   // windows per sketch
	sketchWindowElem = 256 // elements per window
)

// SketchRanges returns the byte ranges ([offset, length]) of a tensor's
// data section of rawSize bytes of dtype dt that its sketch samples, in
// order and not overlapping.
func SketchRanges(dt npy.DType, rawSize int64) [][2]int64 {
	elem := int64(dt.Size)
	if elem <= 0 || rawSize < elem {
		return nil
	}
	n := rawSize / elem
	win := int64(sketchWindowElem)
	if n <= sketchWindows*win {
		return [][2]int64{{0, n * elem}}
	}
	out := make([][2]int64, sketchWindows)
	for i := range out {
		start := int64(i) * (n - win) / (sketchWindows - 1)
		out[i] = [2]int64{start * elem, win * elem}
	}
	return out
}

// Sketch is a tensor's sampled values.
type Sketch []float32

// NewSketch makes the sketch of a tensor of dtype dt from the bytes of its
// SketchRanges, concatenated. Values that are not finite count as 0.
func NewSketch(dt npy.DType, sample []byte) (Sketch, error) {
	v, err := newView(delta.Tensor{DType: dt, Data: sample})
	if err != nil {
		return nil, err
	}
	out := make(Sketch, v.len())
	for i := range out {
		x := v.value(i)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			x = 0
		}
		out[i] = float32(x)
	}
	return out, nil
}

// Bytes is the sketch's stored form: little-endian float32s.
func (s Sketch) Bytes() []byte {
	b := make([]byte, 4*len(s))
	for i, x := range s {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// ParseSketch reads a sketch's stored form.
func ParseSketch(b []byte) (Sketch, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%w: sketch of %d bytes", ErrCorrupt, len(b))
	}
	s := make(Sketch, len(b)/4)
	for i := range s {
		s[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return s, nil
}

// Similarity is the cosine similarity of two sketches of the same
// positions: 1 for proportional values, 0 for unrelated ones, -1 for
// opposite. Sketches of different lengths, or one all zero, are 0 unless
// both are all zero (then 1).
func (s Sketch) Similarity(o Sketch) float64 {
	if len(s) != len(o) {
		return 0
	}
	var dot, ss, oo float64
	for i := range s {
		a, b := float64(s[i]), float64(o[i])
		dot += a * b
		ss += a * a
		oo += b * b
	}
	switch {
	case ss == 0 && oo == 0:
		return 1
	case ss == 0 || oo == 0:
		return 0
	}
	return dot / math.Sqrt(ss*oo)
}
