// Package npy parses and formats the header of numpy's .npy files (format
// versions 1.0, 2.0 and 3.0) and describes their scalar dtypes.
//
// # What is accepted
//
// ParseHeader and ReadHeader accept the header dictionary exactly as numpy
// writes it and the variants numpy's own reader accepts: any key order,
// single or double quotes, free spacing and newlines, trailing commas,
// True/False, and the "L" suffix on integers of old Python 2 files (versions
// 1.0 and 2.0 only, as in numpy). They reject, with an error wrapping one of
// the sentinels, every header that lies or that deltafs cannot represent:
// missing, duplicate or unknown keys, a shape that is not a tuple of
// non-negative integers, more than MaxDims dimensions, a shape whose size in
// bytes overflows int64, a header length beyond the input or above
// MaxHeaderSize, and structured, subarray, object, string or datetime dtypes
// (ErrUnsupportedDType).
//
// # Byte order
//
// A DType always carries a concrete order: '<' little-endian, '>' big-endian,
// or '|' for one-byte types. The descriptor orders that mean "native" ('='
// for any type, '|' or no prefix for a multi-byte type) are normalised to the
// byte order of the machine running deltafs, exactly as numpy does when it
// reads them (numpy itself never writes '='; on a little-endian host it
// writes '<'). One-byte types are always normalised to '|', whatever prefix
// the descriptor had.
//
// # bfloat16
//
// numpy has no bfloat16 dtype, so deltafs presents a bfloat16 tensor as a
// float32 .npy file: every bfloat16 value widens to float32 exactly (the
// bfloat16 bits become the upper 16 bits of the float32, the lower 16 bits
// are zero). Nothing in the file marks such a tensor; instead the codecs
// recognise float32 data whose low halves are all zero (IsBF16Representable)
// and store only the upper halves, so a bf16 checkpoint costs bf16 space
// while np.load and torch.from_numpy see an ordinary float32 array.
//
// # Formatting
//
// FormatHeader writes the bytes numpy 1.24 and later writes: the keys in
// sorted order, repr() of the shape tuple, the spare spaces numpy reserves so
// that the growth axis (the first, the last in Fortran order) can be rewritten
// in place, padding with spaces to a multiple of 64 bytes (ARRAY_ALIGN) and a
// final newline, in version 1.0 unless the header does not fit its 16-bit
// length field. Older numpy wrote no spare spaces; such headers parse all the
// same (ReadHeader returns the raw bytes for callers that must keep them).
// The fields are written as given: fortran_order True on a 1-d shape, which
// np.save never writes, stays True.
package npy
