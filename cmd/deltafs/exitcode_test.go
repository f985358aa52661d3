package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"deltafs/store"
)

// TestReadmeExitCodes keeps README.md's table equal to exitCodes.
func TestReadmeExitCodes(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\| (\d+) \| (.+) \|$`).FindAllStringSubmatch(string(readme), -1)
	if len(rows) != len(exitCodes) {
		t.Fatalf("README.md documents %d exit codes, exitcode.go defines %d", len(rows), len(exitCodes))
	}
	for i, row := range rows {
		code, _ := strconv.Atoi(row[1])
		if code != exitCodes[i].Code || row[2] != exitCodes[i].Meaning {
			t.Errorf("README row %d = %d %q, want %d %q", i, code, row[2], exitCodes[i].Code, exitCodes[i].Meaning)
		}
	}
}

func TestExitCodeFor(t *testing.T) {
	wrap := func(err error) error {
		return fmt.Errorf("outer: %w", &store.PathError{Op: "op", Path: "m/x", Err: err})
	}
	tests := []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("boom"), exitFailure},
		{usageErrorf("bad"), exitUsage},
		{failf(exitNotFound, store.ErrExist, "explicit code wins"), exitNotFound},
		{wrap(store.ErrNotStore), exitNotStore},
		{wrap(store.ErrNewerSchema), exitNotStore},
		{wrap(store.ErrNotFound), exitNotFound},
		{wrap(store.ErrNoBase), exitNotFound},
		{wrap(store.ErrExist), exitExists},
		{wrap(store.ErrNotEmpty), exitExists},
		{wrap(store.ErrCorrupt), exitCorrupt},
		{wrap(store.ErrBusy), exitBusy},
		{wrap(&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}), exitNoSpace},
		{wrap(store.ErrInvalidPath), exitUsage},
		{wrap(store.ErrLossyNotAllowed), exitUsage},
		{fmt.Errorf("%w: %w", context.Canceled, store.ErrCorrupt), exitInterrupted},
		{fmt.Errorf("%w: %w", errInterrupted, errors.New("x")), exitInterrupted},
		{wrap(store.ErrReadOnly), exitFailure},
	}
	for _, tt := range tests {
		if got := exitCodeFor(tt.err); got != tt.want {
			t.Errorf("exitCodeFor(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestUserMessageIsOneLineWithHint(t *testing.T) {
	err := fmt.Errorf("reading m/x:\n%w", store.ErrCorrupt)
	got := userMessage(err, "s")
	want := "reading m/x:; store: corrupt data (check the store with: deltafs verify s)"
	if got != want {
		t.Errorf("userMessage = %q, want %q", got, want)
	}
	if got := userMessage(failf(exitExists, store.ErrExist, "x exists (hint)"), "s"); got != "x exists (hint)" {
		t.Errorf("cliError message changed: %q", got)
	}
}
