// Package analysis holds the analysis and compression utilities of the
// original design, done properly: delta statistics (sparsity, byte-plane
// entropy, range, spread), a strategy recommendation that measures every
// strategy by encoding a sample, run-length coding of sparse deltas,
// adaptive 3-sigma quantization with exactly kept outliers, and zstd
// dictionary compression for many small similar tensors.
//
// Every function is pure (no I/O). Element values are decoded bit-exactly
// from a tensor's bytes in its own byte order: float16, float32 (which also
// carries bfloat16 data), float64, signed and unsigned 8–64-bit integers and
// bool; complex tensors are treated as their real and imaginary components.
package analysis
