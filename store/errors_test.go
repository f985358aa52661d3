package store

import (
	"errors"
	"fmt"
	"testing"

	"deltafs/catalog"
	"deltafs/delta"
)

// The failures of the layers below match the store's sentinels, so that the
// mount and the command line branch on the store's names alone.
func TestLowerErrorsMatchStoreSentinels(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{catalog.ErrObjectCorrupt, ErrCorrupt},
		{delta.ErrCorrupt, ErrCorrupt},
		{delta.ErrReconstruction, ErrCorrupt},
		{delta.ErrReferenceMismatch, ErrCorrupt},
		{catalog.ErrBusy, ErrBusy},
		{delta.ErrLossyNotAllowed, ErrLossyNotAllowed},
		{catalog.ErrNotFound, ErrNotFound},
	}
	for _, tt := range tests {
		err := &PathError{Op: "read", Path: "m/x", Err: fmt.Errorf("chunk 3: %w", tt.err)}
		if !errors.Is(err, tt.want) {
			t.Errorf("errors.Is(%v, %v) = false", err, tt.want)
		}
	}
	for _, notCorrupt := range []error{catalog.ErrBusy, catalog.ErrNotFound, delta.ErrLossyNotAllowed, delta.ErrInvalidTensor} {
		if errors.Is(notCorrupt, ErrCorrupt) {
			t.Errorf("%v matches ErrCorrupt", notCorrupt)
		}
	}
}

// corruptError names the object once, keeps the cause and says "corrupt".
func TestCorruptErrorMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{delta.ErrCorrupt, "object 0123456789abcdef: store: corrupt data: delta: corrupt object"},
		{fmt.Errorf("%w: short file", ErrCorrupt), "object 0123456789abcdef: store: corrupt data: short file"},
		{corruptError("ffff", delta.ErrCorrupt), "object ffff: store: corrupt data: delta: corrupt object"},
	}
	for _, tt := range tests {
		err := corruptError("0123456789abcdef0123", tt.err)
		if err.Error() != tt.want {
			t.Errorf("corruptError(%v) = %q, want %q", tt.err, err.Error(), tt.want)
		}
		if !errors.Is(err, ErrCorrupt) || !errors.Is(err, tt.err) {
			t.Errorf("corruptError(%v) lost ErrCorrupt or its cause", tt.err)
		}
	}
}
