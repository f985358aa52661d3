// Package store is deltafs's core: it ingests files (encoding tensors against
// their model's base) and reconstructs them on read, chunk by chunk through a
// shared cache. It is the only package that ties catalog, delta and cache
// together; the mount (fusefs) and the command line use exactly this API.
//
// CONTRACT STUB: the signatures below are the agreed API; bodies are being
// implemented.
package store

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"deltafs/catalog"
	"deltafs/delta"
)

// Sentinel errors; callers (the mount's errno mapping, the CLI's exit codes)
// branch on them with errors.Is.
var (
	ErrNotStore    = errors.New("store: not a deltafs store")
	ErrNotFound    = catalog.ErrNotFound
	ErrExist       = catalog.ErrExist
	ErrNotDir      = catalog.ErrNotDir
	ErrIsDir       = catalog.ErrIsDir
	ErrNotEmpty    = catalog.ErrNotEmpty
	ErrInvalidPath = catalog.ErrInvalidPath
	ErrNewerSchema = catalog.ErrNewerSchema
	ErrReadOnly    = errors.New("store: read-only")
	ErrCorrupt     = errors.New("store: corrupt data")
	ErrNoBase      = errors.New("store: base model does not exist")
)

// Options configure an open store.
type Options struct {
	CacheSize     int64        // bytes of reconstructed chunks kept; default 1 GiB
	Logger        *slog.Logger // nil: silent
	Delta         delta.Config // encoder settings; zero value: delta.DefaultConfig()
	ReadOnly      bool
	DefaultBase   string // base model for new top-level directories ("" none)
	MaxChainDepth int    // default 8
}

// Store is an open store. Safe for concurrent use.
type Store struct{}

// Init creates an empty store in dir (created if missing, must be empty).
func Init(dir string) error { return errors.New("unimplemented") }

// Open opens the store in dir.
func Open(dir string, opts Options) (*Store, error) { return nil, errors.New("unimplemented") }

// Close releases the store.
func (s *Store) Close() error { return nil }

// FileInfo describes one path, answered from the catalog alone.
type FileInfo struct {
	Path        string
	Name        string
	Kind        catalog.Kind
	Inode       uint64
	Mode        uint32
	MTime       time.Time
	Size        int64  // logical bytes
	StoredSize  int64  // bytes of the object file(s) this entry owns
	ContentHash string // hex SHA-256
	DType       string // tensor only
	Shape       []int64
	Strategy    string
	Lossy       bool
	Base        string // path of the reference tensor, "" if standalone
	Model       string // top-level directory
}

// IsDir reports whether the entry is a directory.
func (fi FileInfo) IsDir() bool { return fi.Kind == catalog.KindDir }

// Stat describes path ("" is the root).
func (s *Store) Stat(ctx context.Context, path string) (FileInfo, error) {
	return FileInfo{}, errors.New("unimplemented")
}

// ReadDir lists dir, sorted by name.
func (s *Store) ReadDir(ctx context.Context, dir string) ([]FileInfo, error) {
	return nil, errors.New("unimplemented")
}

// File is an open file for reading: its bytes are reconstructed lazily.
type File struct{}

// Open opens a file for reading.
func (s *Store) Open(ctx context.Context, path string) (*File, error) {
	return nil, errors.New("unimplemented")
}

// Size is the file's logical size.
func (f *File) Size() int64 { return 0 }

// ReadAtContext reads len(p) bytes at off, decoding only the chunks covered.
// It returns io.EOF with n < len(p) at the end of the file.
func (f *File) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return 0, errors.New("unimplemented")
}

// ReadAt implements io.ReaderAt with a background context.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	return f.ReadAtContext(context.Background(), p, off)
}

// Close releases the file.
func (f *File) Close() error { return nil }

var _ io.ReaderAt = (*File)(nil)

// IngestOptions override the store's encoder settings for one file.
type IngestOptions struct {
	Strategy   delta.Strategy // "" keeps the store's
	AllowLossy bool
}

// Ingest stores the contents of src (a staged file) at path, replacing any
// file there atomically: a valid .npy is encoded against the model's base,
// anything else stored as an opaque blob. When Ingest returns nil the data
// and the catalog entry are durable.
func (s *Store) Ingest(ctx context.Context, path string, src *os.File, opts IngestOptions) (FileInfo, error) {
	return FileInfo{}, errors.New("unimplemented")
}

// Mkdir creates a directory (a top-level one is a model, given the store's
// DefaultBase as its base).
func (s *Store) Mkdir(ctx context.Context, path string) error { return errors.New("unimplemented") }

// Remove removes a file or an empty directory.
func (s *Store) Remove(ctx context.Context, path string) error { return errors.New("unimplemented") }

// Rename renames as rename(2) does.
func (s *Store) Rename(ctx context.Context, oldPath, newPath string) error {
	return errors.New("unimplemented")
}

// SetBase sets the base model of model ("" clears it). Existing files keep
// their encoding; new ones use the new base.
func (s *Store) SetBase(ctx context.Context, model, base string) error {
	return errors.New("unimplemented")
}

// StagingDir is a directory on the store's disk for spooling new files.
func (s *Store) StagingDir() string { return "" }

// RuntimeStats are live counters of an open store.
type RuntimeStats struct {
	CacheHits, CacheMisses, CacheEvictions uint64
	CacheBytes, CacheMaxBytes              int64
	BytesDecoded                           int64
	ChunksDecoded                          int64
	DecodeNanos                            int64 // total time spent decoding chunks
	PendingEncodes                         int64
	LastError                              string
}

// RuntimeStats returns a snapshot of the live counters.
func (s *Store) RuntimeStats() RuntimeStats { return RuntimeStats{} }
