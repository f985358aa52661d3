package delta

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// per_axis_scaled (docs/FORMAT.md §4.4): one sign bit per element, a
// float32 scale per row and per column; delta = sign × row × column.

type perAxisCodec struct {
	rows, cols int64
	rowScale   []float32
	colScale   []float32
}

func (p *perAxisCodec) params() []byte {
	b := make([]byte, 16+4*(len(p.rowScale)+len(p.colScale)))
	binary.LittleEndian.PutUint64(b, uint64(p.rows))
	binary.LittleEndian.PutUint64(b[8:], uint64(p.cols))
	o := 16
	for _, s := range p.rowScale {
		putF32(b[o:], s)
		o += 4
	}
	for _, s := range p.colScale {
		putF32(b[o:], s)
		o += 4
	}
	return b
}

// matrixShape returns R and C of the memory-order matrix view.
func matrixShape(shape []int64, fortran bool, n int64) (rows, cols int64) {
	if n == 0 {
		return 0, 0
	}
	cols = n
	if len(shape) >= 2 {
		if fortran {
			cols = shape[0]
		} else {
			cols = n / shape[0]
		}
	}
	return n / cols, cols
}

// parsePerAxisParams validates per_axis_scaled parameters for n elements.
func parsePerAxisParams(b []byte, n int64) (*perAxisCodec, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("per-axis params of %d bytes", len(b))
	}
	r, c := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	if n == 0 {
		if r != 0 || c != 0 || len(b) != 16 {
			return nil, fmt.Errorf("per-axis params for an empty tensor")
		}
		return &perAxisCodec{}, nil
	}
	if hi, lo := bits.Mul64(r, c); r == 0 || c == 0 || hi != 0 || lo != uint64(n) {
		return nil, fmt.Errorf("per-axis matrix %d×%d for %d elements", r, c, n)
	}
	if uint64(len(b)-16) != 4*(r+c) {
		return nil, fmt.Errorf("per-axis params of %d bytes for %d+%d scales", len(b), r, c)
	}
	p := &perAxisCodec{rows: int64(r), cols: int64(c), rowScale: make([]float32, r), colScale: make([]float32, c)}
	o := 16
	for i := range p.rowScale {
		p.rowScale[i] = getF32(b[o:])
		o += 4
	}
	for i := range p.colScale {
		p.colScale[i] = getF32(b[o:])
		o += 4
	}
	return p, nil
}

// perAxisFit accumulates the sums that fix per_axis_scaled's scales, over
// the tensor's words in order, a chunk at a time.
type perAxisFit struct {
	w              int
	rows, cols     int64
	rowSum, colSum []float64
	total          float64
	n              int64 // words added so far
	ok             bool  // false once a delta is not finite
}

// newPerAxisFit starts a fit for a tensor of n words.
func newPerAxisFit(l wordLayout, shape []int64, fortran bool, n int64) *perAxisFit {
	rows, cols := matrixShape(shape, fortran, n)
	return &perAxisFit{w: l.width, rows: rows, cols: cols, rowSum: make([]float64, rows), colSum: make([]float64, cols), ok: true}
}

// add takes the next words of the tensor (t) and of its reference (r; nil
// for none).
func (f *perAxisFit) add(t, r []byte) {
	for i := 0; i < len(t)/f.w && f.ok; i++ {
		d := floatAt(t, f.w, i) - refFloatAt(r, f.w, i)
		if !finite(d) {
			f.ok = false
			return
		}
		a := math.Abs(d)
		g := f.n + int64(i)
		f.rowSum[g/f.cols] += a
		f.colSum[g%f.cols] += a
		f.total += a
	}
	f.n += int64(len(t) / f.w)
}

// codec returns the fitted codec; ok=false when a delta is not finite (the
// caller then falls back to a lossless coding).
func (f *perAxisFit) codec() (*perAxisCodec, bool) {
	if !f.ok {
		return nil, false
	}
	p := &perAxisCodec{rows: f.rows, cols: f.cols, rowScale: make([]float32, f.rows), colScale: make([]float32, f.cols)}
	if f.n == 0 {
		return p, true
	}
	mean := f.total / float64(f.n)
	for i, s := range f.rowSum {
		p.rowScale[i] = float32(s / float64(f.cols))
	}
	for j, s := range f.colSum {
		if mean > 0 {
			p.colScale[j] = float32(s / float64(f.rows) / mean)
		}
	}
	return p, true
}

func (p *perAxisCodec) encodeChunk(e *chunkEnc) ([]byte, uint8, bool, error) {
	w, n := e.l.width, len(e.t)/e.l.width
	out := make([]byte, (n+7)/8)
	for i := 0; i < n; i++ {
		if floatAt(e.t, w, i)-refFloatAt(e.r, w, i) < 0 {
			out[i>>3] |= 1 << (i & 7)
		}
	}
	return out, 0, e.r != nil, nil
}

func (p *perAxisCodec) decodeChunk(d *chunkDec) error {
	w, n := d.l.width, d.words()
	if len(d.payload) != (n+7)/8 {
		return fmt.Errorf("sign payload of %d bytes for %d elements", len(d.payload), n)
	}
	if d.first < 0 || d.first+int64(n) > p.rows*p.cols {
		return fmt.Errorf("chunk outside the %d×%d matrix", p.rows, p.cols)
	}
	for i := 0; i < n; i++ {
		g := d.first + int64(i)
		m := float64(float64(p.rowScale[g/p.cols]) * float64(p.colScale[g%p.cols]))
		if d.payload[i>>3]>>(i&7)&1 != 0 {
			m = -m
		}
		putFloat(d.dst, w, i, refFloatAt(d.r, w, i)+m)
	}
	return nil
}
