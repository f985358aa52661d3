package store

// CONTRACT STUB: whole-store operations used by the command line.

import (
	"context"
	"errors"

	"deltafs/delta"
)

// Progress reports work done out of a total (bytes); it may be nil.
type Progress func(done, total int64)

// ImportOptions configure Import.
type ImportOptions struct {
	Base       string         // base model ("" none); must exist (ErrNoBase)
	Strategy   delta.Strategy // "" keeps the store's
	AllowLossy bool           // required for a lossy Strategy
	Progress   Progress
}

// ImportResult summarises an import.
type ImportResult struct {
	Files, Tensors, Blobs int
	LogicalBytes          int64
	StoredBytes           int64    // bytes of new objects written
	Warnings              []string // e.g. "a/b.npy: malformed .npy header, stored as a blob"
}

// Import imports src (a directory of files, recursively, or an .npz) as the
// new model named model. A model of that name must not exist (ErrExist).
func (s *Store) Import(ctx context.Context, src, model string, opts ImportOptions) (ImportResult, error) {
	return ImportResult{}, errors.New("unimplemented")
}

// Export writes path (a file, or a directory recursively) to dest on the
// local filesystem, byte-identical to what was ingested (lossless entries).
func (s *Store) Export(ctx context.Context, path, dest string, progress Progress) error {
	return errors.New("unimplemented")
}

// RemoveAll removes path and everything under it (a whole model included).
func (s *Store) RemoveAll(ctx context.Context, path string) error {
	return errors.New("unimplemented")
}

// Problem is one failure found by Verify.
type Problem struct {
	Path   string
	Object string
	Err    error
}

// Verify decodes every file under path ("" all) and checks its hash; it
// returns the problems found (none: the store is sound).
func (s *Store) Verify(ctx context.Context, path string, progress Progress) ([]Problem, error) {
	return nil, errors.New("unimplemented")
}

// GCResult summarises a garbage collection.
type GCResult struct {
	ObjectsRemoved int
	BytesFreed     int64
	StagingRemoved int // leftover staging files cleared
}

// GC removes objects nothing references (directly or as a base of a live
// delta). Interrupted at any point it leaves a valid store.
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	return GCResult{}, errors.New("unimplemented")
}

// UsageStats are logical and stored bytes of a group of files.
type UsageStats struct {
	Name         string // model or strategy
	Files        int
	LogicalBytes int64
	StoredBytes  int64
}

// Ratio is LogicalBytes/StoredBytes (0 when nothing is stored).
func (u UsageStats) Ratio() float64 {
	if u.StoredBytes == 0 {
		return 0
	}
	return float64(u.LogicalBytes) / float64(u.StoredBytes)
}

// Stats summarise the whole store.
type Stats struct {
	Total       UsageStats
	Models      []UsageStats // sorted by name
	Strategies  []UsageStats // sorted by name
	Objects     int
	ObjectBytes int64 // bytes of all object files, live or not
}

// Stats computes usage per model and per strategy.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	return Stats{}, errors.New("unimplemented")
}
