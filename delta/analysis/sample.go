package analysis

import (
	"slices"

	"deltafs/delta"
)

// sampleGroups is how many evenly spaced pieces a sample is made of.
const sampleGroups = 8

// SampleRanges returns the byte ranges ([offset, length]) of a tensor's
// data section (dtype size elem, shape, order, rawSize bytes) that a sample
// of about maxBytes takes, and the shape of the sample they make: the whole
// tensor when small enough; otherwise evenly spaced groups of whole rows
// (leading axis) for C-order tensors with rows of at most
// maxBytes/sampleGroups, else evenly spaced flat pieces as a 1-d tensor.
// Reading only these ranges is enough to analyze a tensor.
func SampleRanges(elem int, shape []int64, fortran bool, rawSize int64, maxBytes int) ([][2]int64, []int64) {
	if rawSize <= int64(maxBytes) || elem <= 0 {
		return [][2]int64{{0, rawSize}}, slices.Clone(shape)
	}
	var rowBytes int64
	if !fortran && len(shape) >= 2 && shape[0] > 0 {
		rowBytes = rawSize / shape[0]
	}
	var pieces [][2]int64
	if rowBytes > 0 && rowBytes <= int64(maxBytes/sampleGroups) {
		rows := shape[0]
		want := max(sampleGroups, int64(maxBytes)/rowBytes)
		per := max(1, want/sampleGroups)
		for g := int64(0); g < sampleGroups; g++ {
			start := g * (rows - per) / (sampleGroups - 1)
			pieces = append(pieces, [2]int64{start * rowBytes, per * rowBytes})
		}
		return pieces, append([]int64{sampleGroups * per}, shape[1:]...)
	}
	e := int64(elem)
	per := max(e, int64(maxBytes)/sampleGroups/e*e)
	for g := int64(0); g < sampleGroups; g++ {
		start := g * ((rawSize - per) / e) / (sampleGroups - 1) * e
		pieces = append(pieces, [2]int64{start, per})
	}
	return pieces, []int64{sampleGroups * per / e}
}

// Gather concatenates the ranges of data.
func Gather(data []byte, ranges [][2]int64) []byte {
	var out []byte
	for _, r := range ranges {
		out = append(out, data[r[0]:r[0]+r[1]]...)
	}
	return out
}

// sampleTensors returns target and ref (nil allowed) cut down to about
// maxBytes (SampleRanges). The returned tensors share no memory with the
// inputs' shapes.
func sampleTensors(t delta.Tensor, ref *delta.Tensor, maxBytes int) (delta.Tensor, *delta.Tensor) {
	if len(t.Data) <= maxBytes {
		return t, ref
	}
	ranges, shape := SampleRanges(t.DType.Size, t.Shape, t.Fortran, int64(len(t.Data)), maxBytes)
	st := delta.Tensor{DType: t.DType, Shape: shape, Data: Gather(t.Data, ranges)}
	if ref == nil {
		return st, nil
	}
	sr := delta.Tensor{DType: ref.DType, Shape: slices.Clone(shape), Data: Gather(ref.Data, ranges)}
	return st, &sr
}
