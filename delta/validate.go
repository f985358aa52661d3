package delta

import (
	"fmt"
	"math"
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
	case c.QuantizationBits != 0 && c.QuantizationBits != 8 && c.QuantizationBits != 16:
		return fmt.Errorf("%w: quantization bits %d (want 8 or 16)", ErrInvalidConfig, c.QuantizationBits)
	case c.Concurrency < 0:
		return fmt.Errorf("%w: concurrency %d", ErrInvalidConfig, c.Concurrency)
	case math.IsNaN(c.MaxDeltaRatio) || math.IsNaN(c.MinCompressionRatio):
		return fmt.Errorf("%w: NaN ratio", ErrInvalidConfig)
	}
	return nil
}

// checkTensor validates a tensor and returns its data size.
func checkTensor(t Tensor) (int64, error) {
	if !validDType(t.DType) {
		return 0, fmt.Errorf("%w: unsupported dtype %s", ErrInvalidTensor, dtypeString(t.DType))
	}
	if len(t.Shape) > maxNDim {
		return 0, fmt.Errorf("%w: %d dimensions (at most %d)", ErrInvalidTensor, len(t.Shape), maxNDim)
	}
	n, ok := dataSize(t.Shape, t.DType.Size)
	if !ok {
		return 0, fmt.Errorf("%w: shape %v overflows", ErrInvalidTensor, t.Shape)
	}
	if int64(len(t.Data)) != n {
		return 0, fmt.Errorf("%w: shape %v of %s needs %d bytes, data has %d", ErrInvalidTensor, t.Shape, dtypeString(t.DType), n, len(t.Data))
	}
	return n, nil
}

// checkCompatible reports whether ref can serve as t's reference.
func checkCompatible(t, ref Tensor) error {
	if _, err := checkTensor(ref); err != nil {
		return fmt.Errorf("%w: %w", ErrIncompatibleReference, err)
	}
	sameOrder := t.DType.Size == 1 || t.DType.Order == ref.DType.Order
	if t.DType.Kind != ref.DType.Kind || t.DType.Size != ref.DType.Size || !sameOrder {
		return fmt.Errorf("%w: dtype %s vs reference %s", ErrIncompatibleReference, dtypeString(t.DType), dtypeString(ref.DType))
	}
	if len(t.Shape) != len(ref.Shape) {
		return fmt.Errorf("%w: shape %v vs reference %v", ErrIncompatibleReference, t.Shape, ref.Shape)
	}
	for i := range t.Shape {
		if t.Shape[i] != ref.Shape[i] {
			return fmt.Errorf("%w: shape %v vs reference %v", ErrIncompatibleReference, t.Shape, ref.Shape)
		}
	}
	if t.Fortran != ref.Fortran {
		return fmt.Errorf("%w: memory order differs", ErrIncompatibleReference)
	}
	return nil
}
