// Package delta encodes a tensor against a reference tensor (or none) into a
// compact, chunked, self-describing object, and decodes it back, whole or one
// chunk at a time. It is pure code: no I/O beyond an io.ReaderAt over the
// object's bytes. The byte format is specified in docs/FORMAT.md.
//
// CONTRACT STUB: the signatures below are the agreed API; bodies are being
// implemented.
package delta

import (
	"errors"
	"io"

	"deltafs/npy"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrCorrupt means an object failed a structural or checksum check.
	ErrCorrupt = errors.New("delta: corrupt object")
	// ErrUnsupportedVersion means the object was written by a newer format.
	ErrUnsupportedVersion = errors.New("delta: unsupported object format version")
	// ErrIncompatibleReference means the reference's dtype, shape or order
	// differs from the target's, so it cannot serve as a reference.
	ErrIncompatibleReference = errors.New("delta: incompatible reference")
	// ErrReferenceMismatch means the reference handed to the decoder is not
	// the one the object was encoded against (hash differs).
	ErrReferenceMismatch = errors.New("delta: wrong reference")
	// ErrLossyNotAllowed means a lossy strategy was used without opting in.
	ErrLossyNotAllowed = errors.New("delta: lossy strategy not allowed")
	// ErrNotWorthwhile means encoding against the reference does not pay
	// under the configured thresholds (CanEncodeAsDelta said no).
	ErrNotWorthwhile = errors.New("delta: delta encoding not worthwhile")
	// ErrReconstruction means strict reconstruction found a hash mismatch.
	ErrReconstruction = errors.New("delta: reconstruction hash mismatch")
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

// IsLossless reports whether decoding reproduces the input bit for bit.
func (s Strategy) IsLossless() bool { return false }

// ParseStrategy validates a strategy name.
func ParseStrategy(name string) (Strategy, error) { return "", errors.New("unimplemented") }

// Strategies lists every strategy, lossless first.
func Strategies() []Strategy { return nil }

// DefaultChunkSize is the default number of raw tensor bytes per chunk.
const DefaultChunkSize = 1 << 20

// Config holds the encoder's knobs. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	Strategy             Strategy // default Auto
	AllowLossy           bool     // a lossy Strategy is refused unless true
	ChunkSize            int      // raw bytes per chunk, rounded down to whole elements
	SparseThreshold      float64  // sparse: |delta| below this is dropped (1e-6)
	QuantizationBits     int      // 8 or 16 for the quantized strategies
	CompressionLevel     int      // entropy coder effort, 1..9 (6)
	MaxDeltaRatio        float64  // refuse a delta larger than this × raw size (1.0)
	MinCompressionRatio  float64  // refuse a delta saving less than this fraction (0.0)
	MinWeightSize        int      // tensors smaller than this are stored alone (512)
	StrictReconstruction bool     // DecodeAll verifies the content SHA-256
	Concurrency          int      // encoder/decoder goroutines; 0 = GOMAXPROCS
}

// DefaultConfig returns the defaults of the original design, with Auto.
func DefaultConfig() Config { return Config{} }

// Tensor is a tensor's metadata and its data section bytes exactly as they
// appear in the .npy file (so in the dtype's own byte order).
type Tensor struct {
	DType   npy.DType
	Shape   []int64
	Fortran bool
	Data    []byte
}

// Encode encodes t against ref (nil: no reference) and returns the object
// bytes. A ref of another dtype, shape or order yields ErrIncompatibleReference.
func Encode(t Tensor, ref *Tensor, cfg Config) ([]byte, error) {
	return nil, errors.New("unimplemented")
}

// Header is the decoded fixed part of an object.
type Header struct {
	FormatVersion uint16
	Strategy      Strategy
	Lossy         bool
	DType         npy.DType
	Shape         []int64
	Fortran       bool
	ChunkSize     int64 // raw bytes per chunk (last chunk may be shorter)
	RawSize       int64 // reconstructed data bytes
	NumChunks     int
	HasReference  bool     // false: the object decodes on its own
	ReferenceHash [32]byte // SHA-256 of the reference data section
	ContentHash   [32]byte // SHA-256 of the reconstructed data section
}

// Object is a parsed object: header and chunk table validated, payloads read
// lazily through the io.ReaderAt it was opened on. Safe for concurrent use.
type Object struct {
	r    io.ReaderAt
	size int64
	hdr  Header
}

// Open parses and validates an object's header and chunk table.
func Open(r io.ReaderAt, size int64) (*Object, error) { return nil, errors.New("unimplemented") }

// Header returns the object's header.
func (o *Object) Header() Header { return o.hdr }

// ChunkRange returns the byte range [off, off+n) of the reconstructed data
// that chunk i covers.
func (o *Object) ChunkRange(i int) (off, n int64) { return 0, 0 }

// ChunkUsesReference reports whether chunk i needs the reference's bytes of
// the same range to decode.
func (o *Object) ChunkUsesReference(i int) bool { return false }

// DecodeChunk reconstructs chunk i into dst (len n from ChunkRange). ref holds
// the reference data bytes of the same range, or nil when the chunk does not
// use the reference. Payload and output checksums are verified: a mismatch is
// ErrCorrupt, never wrong bytes.
func (o *Object) DecodeChunk(i int, ref, dst []byte) error { return errors.New("unimplemented") }

// DecodeAll reconstructs the whole data section (chunks in parallel) and
// verifies its SHA-256 against ContentHash.
func (o *Object) DecodeAll(ref []byte) ([]byte, error) { return nil, errors.New("unimplemented") }
