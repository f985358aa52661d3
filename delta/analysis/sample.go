package analysis

import (
	"deltafs/delta"
)

// sampleGroups is how many evenly spaced pieces a sample is made of.
const sampleGroups = 8

// sampleTensors returns target and ref (nil allowed) cut down to about
// maxBytes: whole tensors when small enough; otherwise evenly spaced groups
// of whole rows (leading axis) for C-order tensors with rows at most
// maxBytes/sampleGroups, else evenly spaced flat pieces as a 1-d tensor.
// The returned tensors share no memory with the inputs' shapes.
func sampleTensors(t delta.Tensor, ref *delta.Tensor, maxBytes int) (delta.Tensor, *delta.Tensor) {
	if len(t.Data) <= maxBytes {
		return t, ref
	}
	elem := t.DType.Size
	var pieces [][2]int // byte ranges
	var shape []int64
	rowBytes := 0
	if !t.Fortran && len(t.Shape) >= 2 && t.Shape[0] > 0 {
		rowBytes = len(t.Data) / int(t.Shape[0])
	}
	if rowBytes > 0 && rowBytes <= maxBytes/sampleGroups {
		rows := int(t.Shape[0])
		want := max(sampleGroups, maxBytes/rowBytes)
		per := max(1, want/sampleGroups)
		taken := 0
		for g := 0; g < sampleGroups; g++ {
			start := g * (rows - per) / (sampleGroups - 1)
			pieces = append(pieces, [2]int{start * rowBytes, (start + per) * rowBytes})
			taken += per
		}
		shape = append([]int64{int64(taken)}, t.Shape[1:]...)
	} else {
		per := max(elem, maxBytes/sampleGroups/elem*elem)
		total := len(t.Data)
		for g := 0; g < sampleGroups; g++ {
			start := g * ((total - per) / elem) / (sampleGroups - 1) * elem
			pieces = append(pieces, [2]int{start, start + per})
		}
		shape = []int64{int64(sampleGroups * per / elem)}
	}
	gather := func(data []byte) []byte {
		var out []byte
		for _, p := range pieces {
			out = append(out, data[p[0]:p[1]]...)
		}
		return out
	}
	st := delta.Tensor{DType: t.DType, Shape: shape, Data: gather(t.Data)}
	if ref == nil {
		return st, nil
	}
	sr := delta.Tensor{DType: ref.DType, Shape: shape, Data: gather(ref.Data)}
	return st, &sr
}
