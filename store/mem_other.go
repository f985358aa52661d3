//go:build !linux

package store

import (
	"errors"
	"os"
)

// mapFile is not used on this system: staged files are read instead.
func mapFile(*os.File, int64) ([]byte, error) { return nil, errors.ErrUnsupported }

// unmapFile undoes mapFile.
func unmapFile([]byte) error { return nil }

// prefault does nothing on this system: pages fault in as they are written.
func prefault([]byte) {}
