// Package fusefs serves a deltafs store as a FUSE filesystem with go-fuse:
// models are top-level folders of ordinary files, read lazily and written
// through a local staging file that is encoded when it is closed.
//
// CONTRACT STUB: the signatures below are the agreed API; bodies are being
// implemented.
package fusefs

import (
	"context"
	"errors"
	"log/slog"
)

// MountOptions configure a mount.
type MountOptions struct {
	ReadOnly bool
	Debug    bool         // log every FUSE request
	Logger   *slog.Logger // nil: silent
}

// Mount is a live mount.
type Mount struct{}

// Serve mounts backend (normally a *store.Store) at dir and returns once the
// mount answers requests. A stale mount left at dir by a crash is cleared
// first.
func Serve(ctx context.Context, dir string, backend Backend, opts MountOptions) (*Mount, error) {
	return nil, errors.New("unimplemented")
}

// Wait blocks until the filesystem is unmounted.
func (m *Mount) Wait() {}

// Unmount unmounts, detaching lazily if files are still open.
func (m *Mount) Unmount() error { return errors.New("unimplemented") }
