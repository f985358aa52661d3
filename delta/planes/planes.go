// Package planes codes a sequence of fixed-width little-endian words as byte
// planes: plane k holds byte k of every word. Each plane may be split into
// streams by a per-word context class, and each stream is cut into segments
// stored with the best of raw, constant, sparse (fill byte plus exceptions),
// huff0, FSE or zstd, chosen from a byte histogram. It is the entropy stage
// of delta's auto strategy. The byte layout is specified in FORMAT.md.
//
// Encode and Decode are safe for concurrent use; per-call state is pooled.
package planes

import (
	"errors"
	"fmt"
)

// ErrCorrupt means an encoded block failed validation.
var ErrCorrupt = errors.New("planes: corrupt block")

// ErrInvalidArgument means Encode or Decode was called with parameters that
// are inconsistent (width, lengths, context classes), independent of the
// block's bytes.
var ErrInvalidArgument = errors.New("planes: invalid argument")

// Limits of the coder.
const (
	MaxWidth = 8   // widest word, in bytes
	MaxCtx   = 256 // most context classes (ctx values are uint8)

	// DefaultLevel is used when level 0 is given to Encode.
	DefaultLevel = 6

	// MaxBlockBytes bounds the data of one block (len(src) or len(dst)).
	MaxBlockBytes = 1 << 30
)

// Encode appends the plane coding of src (len(src) a multiple of width,
// width 1..8) to dst. ctx, if non-nil, holds one context class per word in
// [0, nctx); the decoder must be given the same classes. nctx 0 or 1 (or a nil
// ctx) means no context. level 1..9 trades encode speed for size (1–6 fast,
// 7 adds FSE, 8–9 try zstd on every segment and are much slower); 0 means
// DefaultLevel, and larger values are treated as 9.
func Encode(dst, src []byte, width int, ctx []uint8, nctx int, level int) ([]byte, error) {
	n, err := checkArgs(len(src), width, ctx, nctx)
	if err != nil {
		return dst, err
	}
	switch {
	case level <= 0:
		level = DefaultLevel
	case level > 9:
		level = 9
	}
	e := getEncoder()
	defer putEncoder(e)
	ctx, nctx = normCtx(ctx, nctx)
	return e.encode(dst, src, n, width, ctx, nctx, level)
}

// Decode decodes block into dst, whose length (a multiple of width) the
// caller knows. ctx and nctx must equal those given to Encode. A block that
// does not describe exactly len(dst) bytes, or fails any check, yields an
// error wrapping ErrCorrupt; dst's contents are then unspecified. Decode never
// allocates more than len(dst) plus a small constant bound.
func Decode(dst, block []byte, width int, ctx []uint8, nctx int) error {
	n, err := checkArgs(len(dst), width, ctx, nctx)
	if err != nil {
		return err
	}
	d := getDecoder()
	defer putDecoder(d)
	ctx, nctx = normCtx(ctx, nctx)
	return d.decode(dst, block, n, width, ctx, nctx)
}

// checkArgs validates the shape parameters and returns the word count.
func checkArgs(size, width int, ctx []uint8, nctx int) (int, error) {
	if width < 1 || width > MaxWidth {
		return 0, fmt.Errorf("%w: width %d outside 1..%d", ErrInvalidArgument, width, MaxWidth)
	}
	if size > MaxBlockBytes {
		return 0, fmt.Errorf("%w: %d bytes exceed the %d-byte block limit", ErrInvalidArgument, size, MaxBlockBytes)
	}
	if size%width != 0 {
		return 0, fmt.Errorf("%w: %d bytes is not a multiple of width %d", ErrInvalidArgument, size, width)
	}
	n := size / width
	if nctx < 0 || nctx > MaxCtx {
		return 0, fmt.Errorf("%w: nctx %d outside 0..%d", ErrInvalidArgument, nctx, MaxCtx)
	}
	if ctx != nil && nctx > 1 && len(ctx) != n {
		return 0, fmt.Errorf("%w: %d context classes for %d words", ErrInvalidArgument, len(ctx), n)
	}
	return n, nil
}

// normCtx normalises "no context" (nil ctx or nctx <= 1) to (nil, 1).
func normCtx(ctx []uint8, nctx int) ([]uint8, int) {
	if ctx == nil || nctx <= 1 {
		return nil, 1
	}
	return ctx, nctx
}

// corruptf wraps ErrCorrupt with detail.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
