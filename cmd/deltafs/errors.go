package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"deltafs/store"
)

// cliError is an error with the exit code and the one-line message the user
// sees; err (may be nil) is what caused it.
type cliError struct {
	code int
	msg  string
	err  error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// usageErrorf returns an error that exits with exitUsage.
func usageErrorf(format string, args ...any) error {
	return &cliError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// failf returns an error with an explicit code and message wrapping err.
func failf(code int, err error, format string, args ...any) error {
	return &cliError{code: code, msg: fmt.Sprintf(format, args...), err: err}
}

// hintFor suggests what to do about err, or "".
func hintFor(err error, storeDir string) string {
	switch {
	case errors.Is(err, errInterrupted), errors.Is(err, context.Canceled):
		return "run the command again to finish"
	case errors.Is(err, store.ErrNotStore):
		return fmt.Sprintf("create a store with: deltafs init %s", storeDir)
	case errors.Is(err, store.ErrNewerSchema):
		return "the catalog was written by a newer deltafs; upgrade deltafs to use this store"
	case errors.Is(err, store.ErrBusy):
		return "another deltafs process holds the store; retry when it is done"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Sprintf("free some space (deltafs gc %s may help) and retry", storeDir)
	case exitCodeFor(err) == exitCorrupt:
		return fmt.Sprintf("check the store with: deltafs verify %s", storeDir)
	case errors.Is(err, store.ErrReadOnly):
		return "the store is read-only"
	}
	return ""
}

// userMessage is the single line printed for err: the message, then a hint
// unless the message is a cliError's, written with its hint.
func userMessage(err error, storeDir string) string {
	msg := err.Error()
	var ce *cliError
	if !errors.As(err, &ce) {
		if h := hintFor(err, storeDir); h != "" && !strings.Contains(msg, h) {
			msg += " (" + h + ")"
		}
	}
	return oneLine(msg)
}
