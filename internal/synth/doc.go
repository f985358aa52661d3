// Package synth generates synthetic but realistic transformer weights: a
// deterministic base model and fine-tunes of it, in float32, float16 or
// bfloat16 (stored as float32 with zero low halves, as deltafs presents
// bf16). Benchmarks of the delta codecs, the store and the file system use
// it, and so does `make demo` through cmd/synthmodels.
//
// The base follows the LLaMA layout: a token embedding (vocab, d); per layer
// an attention norm (d), wq, wk, wv, wo (d, d), an FFN norm (d), w1 and w3
// (ffn, d) and w2 (d, ffn); a final norm (d) and lm_head (vocab, d).
// Matrices are normal with std 0.02 (output projections wo and w2 scaled by
// 1/sqrt(2·layers), as in GPT-2's initialisation), each tensor with a random
// ±25% spread of its scale, a few outlier input channels (×4) and a small
// fraction of outlier elements (6–30 σ); norm weights are near 1.0.
//
// A fine-tune adds to each tuned matrix a low-rank update A·B (rank r) and
// small dense noise (to each tuned vector a dense update and noise), scaled
// relative to the tensor's root mean square, computed in float64 and rounded
// once to the target precision (through float32, round-to-nearest-even). Some tensors are frozen
// (bit-identical to the base) and some retrained (drawn anew, independent of
// the base), in configurable fractions.
//
// Everything is a pure function of the configuration and its seeds: the
// same inputs give the same bytes with any parallelism, and products are
// rounded explicitly (no fused multiply-add) so that machines agree; the
// standard library's normal variates are the one platform-dependent input
// in principle (its rare tail path calls math.Exp and math.Log).
package synth
