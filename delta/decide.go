package delta

import (
	"fmt"
)

// estimateSampleChunks is how many evenly spaced chunks EstimateDeltaSize
// encodes for a large tensor.
const estimateSampleChunks = 4

// EstimateDeltaSize returns the object size Encode would produce for t
// against ref (nil: alone) under cfg. Small tensors are encoded in full;
// for larger ones a few evenly spaced chunks are encoded and the payload
// size extrapolated, so the figure is measured, not guessed.
func EstimateDeltaSize(t Tensor, ref *Tensor, cfg Config) (int64, error) {
	if err := cfg.validate(); err != nil {
		return 0, err
	}
	raw, err := checkTensor(t)
	if err != nil {
		return 0, err
	}
	if ref != nil {
		if err := checkCompatible(t, *ref); err != nil {
			return 0, err
		}
	}
	if !cfg.Strategy.IsLossless() && !cfg.AllowLossy {
		return 0, fmt.Errorf("%w: %s (set AllowLossy)", ErrLossyNotAllowed, cfg.Strategy)
	}
	chunk := max(int64(cfg.ChunkSize)/int64(t.DType.Size)*int64(t.DType.Size), int64(t.DType.Size))
	nc := numChunks(raw, chunk)
	if nc <= estimateSampleChunks || cfg.Strategy == PerAxisScaled {
		obj, err := Encode(t, ref, cfg)
		if err != nil {
			return 0, err
		}
		return int64(len(obj)), nil
	}
	// Gather the sample chunks into a 1-d tensor of whole chunks.
	var st, sr []byte
	for k := int64(0); k < estimateSampleChunks; k++ {
		i := k * (nc - 1) / (estimateSampleChunks - 1)
		off := i * chunk
		end := min(raw, off+chunk)
		st = append(st, t.Data[off:end]...)
		if ref != nil {
			sr = append(sr, ref.Data[off:end]...)
		}
	}
	elem := int64(t.DType.Size)
	sample := Tensor{DType: t.DType, Shape: []int64{int64(len(st)) / elem}, Data: st}
	var sref *Tensor
	if ref != nil {
		sref = &Tensor{DType: t.DType, Shape: sample.Shape, Data: sr}
	}
	obj, err := Encode(sample, sref, cfg)
	if err != nil {
		return 0, err
	}
	o, err := Open(bytesReader(obj), int64(len(obj)))
	if err != nil {
		return 0, err
	}
	var payload int64
	for _, e := range o.table {
		payload += int64(e.length)
	}
	head := int64(fixedHeaderSize+8*len(t.Shape)+len(o.codec.params())+4) + chunkEntrySize*nc
	return head + payload*raw/int64(len(st)), nil
}

// CanEncodeAsDelta reports whether encoding t against ref pays under cfg:
// the tensor is at least MinWeightSize bytes, the estimated delta is at most
// MaxDeltaRatio × raw size, saves at least MinCompressionRatio of it, and is
// smaller than encoding t alone. Unlike the original design it measures the
// encoded size for every strategy, lossless ones included. An incompatible
// reference is (false, ErrIncompatibleReference).
func CanEncodeAsDelta(t Tensor, ref *Tensor, cfg Config) (bool, error) {
	if ref == nil {
		return false, nil
	}
	if err := cfg.validate(); err != nil {
		return false, err
	}
	raw, err := checkTensor(t)
	if err != nil {
		return false, err
	}
	if err := checkCompatible(t, *ref); err != nil {
		return false, err
	}
	if raw == 0 || raw < int64(cfg.MinWeightSize) {
		return false, nil
	}
	withRef, err := EstimateDeltaSize(t, ref, cfg)
	if err != nil {
		return false, err
	}
	if float64(withRef) > cfg.MaxDeltaRatio*float64(raw) {
		return false, nil
	}
	if 1-float64(withRef)/float64(raw) < cfg.MinCompressionRatio {
		return false, nil
	}
	alone, err := EstimateDeltaSize(t, nil, cfg)
	if err != nil {
		return false, err
	}
	return withRef < alone, nil
}

// EncodeDelta is Encode guarded by CanEncodeAsDelta: it returns
// ErrNotWorthwhile when the delta does not pay.
func EncodeDelta(t Tensor, ref *Tensor, cfg Config) ([]byte, error) {
	ok, err := CanEncodeAsDelta(t, ref, cfg)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotWorthwhile
	}
	return Encode(t, ref, cfg)
}
