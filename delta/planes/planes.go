// Package planes codes a sequence of fixed-width little-endian words as byte
// planes: plane k holds byte k of every word. Each plane may be split into
// streams by a per-word context class, and each stream is stored with the best
// of raw, huff0, FSE or zstd. It is the entropy stage of delta's auto strategy.
//
// CONTRACT STUB: the signatures below are the agreed API; bodies are being
// implemented.
package planes

import "errors"

// ErrCorrupt means an encoded block failed validation.
var ErrCorrupt = errors.New("planes: corrupt block")

// Encode appends the plane coding of src (len(src) a multiple of width,
// width 1..8) to dst. ctx, if non-nil, holds one context class per word in
// [0, nctx); the decoder must be given the same classes. level 1..9 trades
// encode speed for size.
func Encode(dst, src []byte, width int, ctx []uint8, nctx int, level int) ([]byte, error) {
	return nil, errors.New("unimplemented")
}

// Decode decodes block into dst, whose length (a multiple of width) the
// caller knows. ctx and nctx must equal those given to Encode.
func Decode(dst, block []byte, width int, ctx []uint8, nctx int) error {
	return errors.New("unimplemented")
}
