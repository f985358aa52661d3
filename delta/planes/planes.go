// Package planes codes a sequence of fixed-width little-endian words as byte
// planes: plane k holds byte k of every word. Each plane may be split into
// streams by a per-word context class, and each stream is cut into segments
// stored with the best of raw, constant, sparse (fill byte plus exceptions),
// huff0, FSE or zstd, chosen from a byte histogram. It is the entropy stage
// of delta's auto strategy. The byte layout is specified in docs/FORMAT.md, section 8.
//
// EncodeSorted and DecodeSorted take and give the planes already sorted by
// class, for callers (delta's auto kernels) that fuse the split and merge
// with their own word transform. All four are safe for concurrent use;
// per-call state is pooled.
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
	e := getEncoder()
	defer putEncoder(e)
	ctx, nctx = normCtx(ctx, nctx)
	return e.encode(dst, src, n, width, ctx, nctx, normLevel(level))
}

// EncodeSorted is Encode for words the caller has already split into
// class-sorted planes: plane k (byte k of every word, the words of class 0
// first, then class 1, …, each class in word order) is pl[k*n:(k+1)*n] with
// n = len(pl)/width, and counts[c] is the number of words of class c
// (nil: one class). It produces the same block as Encode given the classes,
// without the split; callers fuse the split with their own word transform.
func EncodeSorted(dst, pl []byte, width int, counts []int, level int) ([]byte, error) {
	n, err := checkSorted(len(pl), width, counts)
	if err != nil {
		return dst, err
	}
	if counts == nil {
		counts = []int{n}
	}
	e := getEncoder()
	defer putEncoder(e)
	return e.streams(dst, pl, n, width, counts, normLevel(level)), nil
}

// normLevel maps a level argument to 1..9 (0 is DefaultLevel).
func normLevel(level int) int {
	switch {
	case level <= 0:
		return DefaultLevel
	case level > 9:
		return 9
	}
	return level
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

// DecodeSorted decodes block into class-sorted planes without merging them
// back into words: on success pl[k*n:(k+1)*n] (n = len(pl)/width) holds byte k
// of every word, the words in the class-sorted order EncodeSorted takes.
// counts[c] is the number of words of class c (nil: one class); counts must
// sum to n. Callers that know each word's class gather the words themselves,
// fused with their own inverse transform. Errors are as for Decode.
func DecodeSorted(pl, block []byte, width int, counts []int) error {
	n, err := checkSorted(len(pl), width, counts)
	if err != nil {
		return err
	}
	if counts == nil {
		counts = []int{n}
	}
	segLog, err := checkHeader(block, n)
	if err != nil || n == 0 {
		return err
	}
	d := getDecoder()
	defer putDecoder(d)
	return d.streams(pl, block, n, width, counts, segLog)
}

// checkSorted validates the arguments of the sorted-plane calls and returns
// the word count.
func checkSorted(size, width int, counts []int) (int, error) {
	n, err := checkArgs(size, width, nil, 0)
	if err != nil {
		return 0, err
	}
	if len(counts) > MaxCtx {
		return 0, fmt.Errorf("%w: %d classes exceed %d", ErrInvalidArgument, len(counts), MaxCtx)
	}
	if counts == nil {
		return n, nil
	}
	sum := 0
	for c, k := range counts {
		if k < 0 || k > n-sum {
			return 0, fmt.Errorf("%w: class %d count %d does not fit %d words", ErrInvalidArgument, c, k, n)
		}
		sum += k
	}
	if sum != n {
		return 0, fmt.Errorf("%w: class counts sum to %d, not %d words", ErrInvalidArgument, sum, n)
	}
	return n, nil
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
