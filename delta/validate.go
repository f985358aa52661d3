package delta

import (
	"fmt"
	"slices"

	"deltafs/npy"
)

// validate checks the knobs the encoder uses.
func (c Config) validate() error {
	if _, err := ParseStrategy(string(c.Strategy)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	switch {
	case c.ChunkSize < 1 || c.ChunkSize > MaxChunkSize:
		return fmt.Errorf("%w: chunk size %d not in 1..%d", ErrInvalidConfig, c.ChunkSize, MaxChunkSize)
	case c.CompressionLevel < 1 || c.CompressionLevel > 9:
		return fmt.Errorf("%w: compression level %d not in 1..9", ErrInvalidConfig, c.CompressionLevel)
	case c.Strategy == Sparse && (!finite(c.SparseThreshold) || c.SparseThreshold < 0):
		return fmt.Errorf("%w: sparse threshold %g", ErrInvalidConfig, c.SparseThreshold)
	case (c.Strategy == Int8Quantized || c.Strategy == Int16Quantized) && (c.QuantBlock < 1 || c.QuantBlock > maxQuantBlock):
		return fmt.Errorf("%w: quantization block %d not in 1..%d", ErrInvalidConfig, c.QuantBlock, maxQuantBlock)
	case c.Concurrency < 0:
		return fmt.Errorf("%w: concurrency %d", ErrInvalidConfig, c.Concurrency)
	}
	return nil
}

// checkTensor validates a tensor and returns its data size.
func checkTensor(t Tensor) (int64, error) {
	n, err := checkTensorMeta(t.DType, t.Shape)
	if err != nil {
		return 0, err
	}
	if int64(len(t.Data)) != n {
		return 0, fmt.Errorf("%w: shape %v of %s needs %d bytes, data has %d", ErrInvalidTensor, t.Shape, dtypeString(t.DType), n, len(t.Data))
	}
	return n, nil
}

// checkTensorMeta validates a tensor's dtype and shape and returns its data
// size.
func checkTensorMeta(d npy.DType, shape []int64) (int64, error) {
	if !validDType(d) {
		return 0, fmt.Errorf("%w: unsupported dtype %s", ErrInvalidTensor, dtypeString(d))
	}
	if len(shape) > maxNDim {
		return 0, fmt.Errorf("%w: %d dimensions (at most %d)", ErrInvalidTensor, len(shape), maxNDim)
	}
	n, ok := dataSize(shape, d.Size)
	if !ok {
		return 0, fmt.Errorf("%w: shape %v overflows", ErrInvalidTensor, shape)
	}
	return n, nil
}

// checkCompatible reports whether ref can serve as t's reference.
func checkCompatible(t, ref Tensor) error {
	if _, err := checkTensor(ref); err != nil {
		return fmt.Errorf("%w: %w", ErrIncompatibleReference, err)
	}
	return checkCompatibleMeta(t.DType, t.Shape, t.Fortran, ref.DType, ref.Shape, ref.Fortran)
}

// checkCompatibleMeta reports whether a reference of dtype rd, shape rs and
// order rf can serve a tensor of dtype d, shape s and order f.
func checkCompatibleMeta(d npy.DType, s []int64, f bool, rd npy.DType, rs []int64, rf bool) error {
	sameOrder := d.Size == 1 || d.Order == rd.Order
	if d.Kind != rd.Kind || d.Size != rd.Size || !sameOrder {
		return fmt.Errorf("%w: dtype %s vs reference %s", ErrIncompatibleReference, dtypeString(d), dtypeString(rd))
	}
	if !slices.Equal(s, rs) {
		return fmt.Errorf("%w: shape %v vs reference %v", ErrIncompatibleReference, s, rs)
	}
	if f != rf {
		return fmt.Errorf("%w: memory order differs", ErrIncompatibleReference)
	}
	return nil
}
