// Package analysis measures how a tensor would store, for the store's
// analyze command and its similarity references: delta statistics
// (sparsity, byte-plane entropy, range, spread), a strategy recommendation
// that measures every strategy by encoding a sample (with the largest
// error and the signal-to-noise ratio of the lossy ones), the sample's
// byte ranges (so a caller reads only those), and sketches: a tensor's
// values at a few fixed windows, whose cosine similarity stands for the
// tensors'.
//
// Every function is pure (no I/O). Element values are decoded bit-exactly
// from a tensor's bytes in its own byte order: float16, float32 (which also
// carries bfloat16 data), float64, signed and unsigned 8–64-bit integers and
// bool; complex tensors are treated as their real and imaginary components.
package analysis
