package npy

import "errors"

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrNotNPY means the input does not start with the .npy magic.
	ErrNotNPY = errors.New("npy: not an .npy file")
	// ErrTruncated means the input ended inside the header.
	ErrTruncated = errors.New("npy: truncated header")
	// ErrMalformed means the header is present but invalid or lying.
	ErrMalformed = errors.New("npy: malformed header")
	// ErrUnsupportedDType means the descr names a dtype deltafs does not handle.
	ErrUnsupportedDType = errors.New("npy: unsupported dtype")
)
