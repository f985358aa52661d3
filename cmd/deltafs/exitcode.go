package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"deltafs/store"
)

// Exit codes of the deltafs command. This is the one place they are defined;
// --help and README.md print exitCodes, and a test keeps README.md in step.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitNotStore    = 3
	exitNotFound    = 4
	exitExists      = 5
	exitCorrupt     = 6
	exitBusy        = 7
	exitNoSpace     = 8
	exitInterrupted = 130
)

// exitCode documents one exit code.
type exitCode struct {
	Code    int
	Meaning string
}

// exitCodes is the documented table, in order.
var exitCodes = []exitCode{
	{exitOK, "success"},
	{exitFailure, "failure not covered below (I/O error, read-only store, ...)"},
	{exitUsage, "bad usage: unknown flag, missing argument, invalid path or model name, lossy strategy without --allow-lossy"},
	{exitNotStore, "not a deltafs store, or a catalog written by a newer deltafs"},
	{exitNotFound, "not found: path, model, base model or import source"},
	{exitExists, "already exists: model, path or export destination"},
	{exitCorrupt, "corrupt data: verify found problems, or a read failed its checksum (nothing wrong was written)"},
	{exitBusy, "busy: the store is locked by another process, or the mount point already has a live mount"},
	{exitNoSpace, "no space left on device"},
	{exitInterrupted, "interrupted by SIGINT or SIGTERM"},
}

// exitCodeHelp renders exitCodes for --help.
func exitCodeHelp() string {
	var b strings.Builder
	b.WriteString("EXIT CODES:\n")
	for _, c := range exitCodes {
		fmt.Fprintf(&b, "   %-4d %s\n", c.Code, c.Meaning)
	}
	return b.String()
}

// errInterrupted marks the error of a command stopped by a signal.
var errInterrupted = errors.New("interrupted")

// exitCodeFor maps an error to its exit code: the code a cliError carries,
// else the first sentinel of the table below that err wraps.
func exitCodeFor(err error) int {
	if err == nil {
		return exitOK
	}
	var ce *cliError
	if errors.As(err, &ce) && ce.code != 0 {
		return ce.code
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return exitFailure
}

// errorCodes maps sentinel errors of the core to exit codes, most specific
// first.
var errorCodes = []struct {
	err  error
	code int
}{
	{errInterrupted, exitInterrupted},
	{context.Canceled, exitInterrupted},
	{store.ErrNotStore, exitNotStore},
	{store.ErrNewerSchema, exitNotStore},
	{store.ErrCorrupt, exitCorrupt},
	{store.ErrBusy, exitBusy},
	{syscall.ENOSPC, exitNoSpace},
	{syscall.EDQUOT, exitNoSpace},
	{store.ErrNoBase, exitNotFound},
	{store.ErrNotFound, exitNotFound},
	{store.ErrExist, exitExists},
	{store.ErrNotEmpty, exitExists},
	{store.ErrInvalidPath, exitUsage},
	{store.ErrLossyNotAllowed, exitUsage},
	{store.ErrInvalidSetting, exitUsage},
}
