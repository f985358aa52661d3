package store

import (
	"errors"
	"strings"
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
// matches ErrCorrupt and names the object while keeping the cause. An error
// that already names its object is returned as it is.
func corruptError(id string, err error) error {
	var oe *objectError
	if errors.As(err, &oe) {
		return err
	}
	return &objectError{id: id, err: err}
}

// objectError is an integrity failure of one object.
type objectError struct {
	id  string
	err error
}

func (e *objectError) Error() string {
	msg := e.err.Error()
	if !strings.HasPrefix(msg, ErrCorrupt.Error()) {
		msg = ErrCorrupt.Error() + ": " + msg
	}
	return "object " + shortID(e.id) + ": " + msg
}

func (e *objectError) Unwrap() []error { return []error{ErrCorrupt, e.err} }

// isIntegrityError reports whether err means stored data failed a check
// (the lower layers' integrity sentinels wrap ErrCorrupt).
func isIntegrityError(err error) bool {
	return errors.Is(err, ErrCorrupt)
}

// shortID abbreviates an object id for messages.
func shortID(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
