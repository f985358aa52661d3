package safetensors

import (
	"errors"
	"fmt"
)

// Sentinel errors; callers branch on them with errors.Is. Every error about
// a header or index that is present but wrong wraps ErrMalformed as well as
// its specific sentinel, so a caller that only needs "malformed or not"
// tests ErrMalformed.
var (
	// ErrTruncated means the input ends before the 8-byte length or before
	// the header that length announces.
	ErrTruncated = errors.New("safetensors: truncated header")
	// ErrHeaderTooLarge means the header length is above MaxHeaderSize.
	ErrHeaderTooLarge = errors.New("safetensors: header length above the limit")
	// ErrMalformed means the header or index is present but invalid or lying.
	ErrMalformed = errors.New("safetensors: malformed")
	// ErrUnknownDType means a tensor names a dtype this package does not
	// know; the file may be valid for a newer reader. It does not wrap
	// ErrMalformed.
	ErrUnknownDType = errors.New("safetensors: unknown dtype")

	// ErrInvalidJSON: not UTF-8, not JSON, or not the expected JSON shape.
	ErrInvalidJSON = fmt.Errorf("%w: invalid JSON", ErrMalformed)
	// ErrDuplicateName: a name appears twice in one JSON object.
	ErrDuplicateName = fmt.Errorf("%w: duplicate name", ErrMalformed)
	// ErrBadShape: a dimension is negative, not an integer, or the product
	// of the dimensions times the item size overflows int64.
	ErrBadShape = fmt.Errorf("%w: bad shape", ErrMalformed)
	// ErrBadOffsets: data offsets out of range, reversed, overlapping,
	// leaving gaps, or not ending at the end of the file.
	ErrBadOffsets = fmt.Errorf("%w: bad data offsets", ErrMalformed)
	// ErrSizeMismatch: the byte size of a tensor's shape and dtype differs
	// from the span of its data offsets.
	ErrSizeMismatch = fmt.Errorf("%w: shape and offsets disagree", ErrMalformed)
	// ErrMissingShard: an index names a shard that is not there.
	ErrMissingShard = fmt.Errorf("%w: missing shard", ErrMalformed)
	// ErrShardConflict: a tensor is found in two shards, or not in the shard
	// the index names for it.
	ErrShardConflict = fmt.Errorf("%w: shards disagree with the index", ErrMalformed)
)
