// Package delta encodes a tensor against a reference tensor (or none) into a
// compact, chunked, self-describing object, and decodes it back, whole or one
// chunk at a time. It is pure code: no I/O beyond an io.ReaderAt over the
// object's bytes. The byte format is specified in docs/FORMAT.md.
package delta

import (
	"errors"
	"fmt"

	"deltafs/internal/fault"
	"deltafs/npy"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrCorrupt means an object failed a structural or checksum check.
	ErrCorrupt = fault.New("delta: corrupt object", fault.Corrupt)
	// ErrUnsupportedVersion means the object was written by a newer format.
	ErrUnsupportedVersion = errors.New("delta: unsupported object format version")
	// ErrIncompatibleReference means the reference's dtype, shape or order
	// differs from the target's, so it cannot serve as a reference.
	ErrIncompatibleReference = errors.New("delta: incompatible reference")
	// ErrReferenceMismatch means the reference handed to the decoder is not
	// the one the object was encoded against (hash differs).
	ErrReferenceMismatch = fault.New("delta: wrong reference", fault.Corrupt)
	// ErrLossyNotAllowed means a lossy strategy was used without opting in.
	ErrLossyNotAllowed = errors.New("delta: lossy strategy not allowed")
	// ErrReconstruction means strict reconstruction found a hash mismatch.
	ErrReconstruction = fault.New("delta: reconstruction hash mismatch", fault.Corrupt)
	// ErrInvalidTensor means the tensor handed to the encoder is
	// inconsistent (bad dtype, shape not matching the data length).
	ErrInvalidTensor = errors.New("delta: invalid tensor")
	// ErrInvalidConfig means a Config field is out of range.
	ErrInvalidConfig = errors.New("delta: invalid config")
)

// Strategy names an encoding strategy. The names follow the original design.
type Strategy string

// The strategies. Auto is the default and always lossless.
const (
	Auto             Strategy = "auto"
	Float32Raw       Strategy = "float32_raw"
	Compressed       Strategy = "compressed"
	XorFloat32       Strategy = "xor_float32"
	XorBFloat16      Strategy = "xor_bfloat16"
	ExponentMantissa Strategy = "exponent_mantissa"
	Int8Quantized    Strategy = "int8_quantized"
	Int16Quantized   Strategy = "int16_quantized"
	Sparse           Strategy = "sparse"
	PerAxisScaled    Strategy = "per_axis_scaled"
)

// strategyIDs maps strategies to their on-disk ids (docs/FORMAT.md §4),
// lossless first.
var strategyIDs = []struct {
	s  Strategy
	id uint8
}{
	{Auto, 1}, {Float32Raw, 2}, {Compressed, 3}, {XorFloat32, 4}, {XorBFloat16, 5},
	{ExponentMantissa, 6}, {Int8Quantized, 7}, {Int16Quantized, 8}, {Sparse, 9}, {PerAxisScaled, 10},
}

func (s Strategy) id() uint8 {
	for _, e := range strategyIDs {
		if e.s == s {
			return e.id
		}
	}
	return 0
}

func strategyFromID(id uint8) (Strategy, bool) {
	for _, e := range strategyIDs {
		if e.id == id {
			return e.s, true
		}
	}
	return "", false
}

// IsLossless reports whether decoding reproduces the input bit for bit.
func (s Strategy) IsLossless() bool {
	switch s {
	case Auto, Float32Raw, Compressed, XorFloat32, XorBFloat16, ExponentMantissa:
		return true
	}
	return false
}

// ParseStrategy validates a strategy name.
func ParseStrategy(name string) (Strategy, error) {
	if s := Strategy(name); s.id() != 0 {
		return s, nil
	}
	return "", fmt.Errorf("delta: unknown strategy %q (want one of %v)", name, Strategies())
}

// Strategies lists every strategy, lossless first.
func Strategies() []Strategy {
	out := make([]Strategy, len(strategyIDs))
	for i, e := range strategyIDs {
		out[i] = e.s
	}
	return out
}

// DefaultChunkSize is the default number of raw tensor bytes per chunk.
const DefaultChunkSize = 1 << 20

// MaxChunkSize is the largest chunk size an object may declare.
const MaxChunkSize = 64 << 20

// Config holds the encoder's knobs. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	Strategy             Strategy // default Auto
	AllowLossy           bool     // a lossy Strategy is refused unless true
	ChunkSize            int      // raw bytes per chunk, rounded down to whole elements
	SparseThreshold      float64  // sparse: |delta| below this is dropped (1e-6)
	CompressionLevel     int      // entropy coder effort, 1..9 (6)
	StrictReconstruction bool     // DecodeAll verifies the content SHA-256
	Concurrency          int      // encoder/decoder goroutines; 0 = GOMAXPROCS
	QuantBlock           int      // quantized strategies: elements per scale block (4096)
	// SkipEncodeCheck skips decoding every lossless chunk right after
	// encoding it. The check costs about a fifth of the encode time; without
	// it an encoder bug would surface only when the object is read (as a
	// checksum error, never as wrong bytes).
	SkipEncodeCheck bool
}

// DefaultQuantBlock is the default number of elements sharing one
// quantization scale.
const DefaultQuantBlock = 4096

// DefaultConfig returns the defaults of the original design, with Auto.
// Whether a delta is worth storing is the store's policy, not the codec's.
func DefaultConfig() Config {
	return Config{
		Strategy:         Auto,
		ChunkSize:        DefaultChunkSize,
		SparseThreshold:  1e-6,
		CompressionLevel: 6,
		QuantBlock:       DefaultQuantBlock,
	}
}

// Tensor is a tensor's metadata and its data section bytes exactly as they
// appear in the .npy file (so in the dtype's own byte order).
type Tensor struct {
	DType   npy.DType
	Shape   []int64
	Fortran bool
	Data    []byte
	// SHA256, if non-nil, is the SHA-256 of Data as the caller already
	// computed it; Encode trusts it instead of hashing Data again. A wrong
	// value makes every whole-tensor decode of the object fail.
	SHA256 *[32]byte
}
