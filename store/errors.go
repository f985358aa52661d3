package store

import (
	"errors"
	"fmt"

	"deltafs/catalog"
	"deltafs/delta"
)

// PathError records an error and the operation and path that caused it.
type PathError struct {
	Op   string
	Path string
	Err  error
}

// Error formats the error as "op path: err".
func (e *PathError) Error() string {
	p := e.Path
	if p == "" {
		p = "/"
	}
	return e.Op + " " + p + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *PathError) Unwrap() error { return e.Err }

// corruptError wraps err, an integrity failure of object id, so that it
// matches ErrCorrupt while keeping the cause.
func corruptError(id string, err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("object %s: %w: %w", shortID(id), ErrCorrupt, err)
}

// isIntegrityError reports whether err means stored data failed a check.
func isIntegrityError(err error) bool {
	return errors.Is(err, delta.ErrCorrupt) ||
		errors.Is(err, delta.ErrReferenceMismatch) ||
		errors.Is(err, delta.ErrReconstruction) ||
		errors.Is(err, catalog.ErrObjectCorrupt) ||
		errors.Is(err, ErrCorrupt)
}

// shortID abbreviates an object id for messages.
func shortID(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
