// Package safetensors parses, validates and writes the header of Hugging
// Face's .safetensors files and the index JSON of sharded models. It does no
// I/O beyond an io.ReaderAt: callers hand it bytes or a reader.
//
// # The format
//
// A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON,
// then the data section. The JSON is one object: an optional "__metadata__"
// object of strings, and for every tensor its name mapped to
// {"dtype", "shape", "data_offsets": [begin, end]}, offsets relative to the
// data section. Hugging Face's writer pads the JSON with spaces so the data
// starts 8-byte aligned; Header.Raw keeps the header bytes exactly, so a
// caller can write a file back byte-identical.
//
// # What is accepted
//
// ParseHeader and ReadHeader apply the rules of Hugging Face's reader and a
// few it leaves out, each error wrapping a sentinel:
//   - the length must fit the file (ErrTruncated) and be at most
//     MaxHeaderSize, 100 MB (ErrHeaderTooLarge);
//   - the JSON must be UTF-8, start with '{', and be followed by JSON
//     whitespace only (ErrInvalidJSON);
//   - no name may appear twice in any object, tensor names included
//     (ErrDuplicateName): the JSON is read as a token stream because
//     encoding/json keeps the last of duplicate keys silently;
//   - dimensions are integers in [0, 2^63) whose non-zero product times the
//     item size fits int64 (ErrBadShape);
//   - the tensors' data offsets tile the data section exactly: no reversed
//     range, no overlap, no gap, nothing past the last tensor
//     (ErrBadOffsets);
//   - each tensor's byte size is its offsets' span (ErrSizeMismatch).
//
// All of these also wrap ErrMalformed. A dtype outside the 15 of DTypes
// (a newer format's F8_E8M0 or F4, say) is reported after every other check
// with ErrUnknownDType, which does not wrap ErrMalformed: the file may be
// valid, only not for this package. Keys of a tensor's object other than the
// three above are ignored, as Hugging Face's reader ignores them.
//
// # Sharded models
//
// ParseIndex reads a "model.safetensors.index.json": its "weight_map" maps
// each tensor name to the file name of its shard (a plain file name in the
// same directory). Index.Check compares it with the shards' headers:
// a shard it names must be present (ErrMissingShard), and no tensor may be in
// two shards or in a shard other than the one named (ErrShardConflict).
//
// # Writing
//
// Layout lays tensors out in the given order and returns the header the way
// Hugging Face's writer formats it (metadata first, compact JSON, space
// padding to a multiple of 8); Write writes a whole file. A file that Hugging
// Face wrote with its tensors in name order is reproduced byte for byte.
package safetensors
