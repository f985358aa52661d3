// Package fault holds the kinds of failure that cross package boundaries.
// The lower layers' sentinels (catalog, delta) wrap a kind, and the store
// re-exports each kind under its own name (store.ErrCorrupt, store.ErrBusy),
// so the store's callers branch on the store's names alone and a new catalog
// backend or codec keeps their meaning by wrapping the same kind.
package fault

import "errors"

// The kinds. Their messages are the store's, which exports them.
var (
	// Corrupt means stored data failed an integrity check: never serve it.
	Corrupt = errors.New("store: corrupt data")
	// Busy means another process or transaction holds the store in a way
	// that excludes the operation.
	Busy = errors.New("store: in use by another process")
)

// New returns a sentinel error with its own message that also matches kind
// with errors.Is.
func New(msg string, kind error) error {
	return &sentinel{msg: msg, kind: kind}
}

type sentinel struct {
	msg  string
	kind error
}

func (s *sentinel) Error() string { return s.msg }
func (s *sentinel) Unwrap() error { return s.kind }
