package fusefs

import (
	"context"
	"os"
	"time"

	"deltafs/store"
)

// Backend is what the filesystem needs from the core; *store.Store
// implements it.
type Backend interface {
	Stat(ctx context.Context, path string) (store.FileInfo, error)
	ReadDir(ctx context.Context, dir string) ([]store.FileInfo, error)
	Open(ctx context.Context, path string) (*store.File, error)
	Ingest(ctx context.Context, path string, src *os.File, opts store.IngestOptions) (store.FileInfo, error)
	MkdirWith(ctx context.Context, path string, opts store.MkdirOptions) error
	Remove(ctx context.Context, path string) error
	Rename(ctx context.Context, oldPath, newPath string) error
	SetBase(ctx context.Context, model, base string) error
	Chmod(ctx context.Context, path string, mode uint32) error
	Chown(ctx context.Context, path string, o store.Owner) error
	Chtimes(ctx context.Context, path string, mtime time.Time) error
	StagingDir() string
	CreateStagingFile(durableName bool) (*os.File, error)
	RuntimeStats() store.RuntimeStats
	Dir() string // the store's directory, shown as the mount's source
	RecordPending(ctx context.Context, path string, f *os.File, opts store.IngestOptions, replaces int64) (int64, error)
	MovePending(ctx context.Context, id int64, path string) error
	DropPending(ctx context.Context, id int64) error
}

var _ Backend = (*store.Store)(nil)

// contentReader is the read side of an open file: *store.File, or a staging
// file being written.
type contentReader interface {
	Size() int64
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
	Close() error
}
