// Package catalog is the persistent map from virtual paths to entries, from
// models to their bases, and from object ids to object records; plus the
// content-addressed object files. Both sit behind small interfaces so a
// server database or an object service can replace the embedded defaults
// (SQLite and a local directory).
//
// CONTRACT STUB: the signatures below are the agreed API; bodies are being
// implemented.
package catalog

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	ErrNotFound      = errors.New("catalog: not found")
	ErrExist         = errors.New("catalog: already exists")
	ErrNotDir        = errors.New("catalog: not a directory")
	ErrIsDir         = errors.New("catalog: is a directory")
	ErrNotEmpty      = errors.New("catalog: directory not empty")
	ErrInvalidPath   = errors.New("catalog: invalid path")
	ErrNewerSchema   = errors.New("catalog: catalog written by a newer deltafs")
	ErrBusy          = errors.New("catalog: store is busy")
	ErrObjectCorrupt = errors.New("catalog: object file corrupt")
)

// Kind is what an entry is.
type Kind int

// Entry kinds.
const (
	KindDir    Kind = iota + 1 // a directory (a top-level one is a model)
	KindTensor                 // a .npy file stored as an encoded tensor object
	KindBlob                   // any other file, stored as an opaque object
)

// Entry is one path of the namespace.
type Entry struct {
	Path        string    // clean, slash-separated, no leading slash; "" is the root
	Kind        Kind      //
	Inode       uint64    // stable; assigned by the catalog on first insert, kept by Rename
	Mode        uint32    // permission bits
	MTime       time.Time //
	Size        int64     // logical file size in bytes (for tensors: header + data)
	Object      string    // object id; "" for directories
	ContentHash string    // hex SHA-256: tensor data section, or the whole blob
	DType       string    // tensor: numpy descr, e.g. "<f4"
	Shape       []int64   // tensor: dimensions
	Fortran     bool      // tensor: fortran_order
	Header      []byte    // tensor: original header bytes if non-canonical, else nil
}

// Object is the catalog's record of one object file.
type Object struct {
	ID         string // hex SHA-256 of the object bytes
	Ref        string // id of the reference object, "" when it decodes alone
	Strategy   string // delta strategy, or "blob"
	Lossy      bool
	RawSize    int64 // reconstructed bytes
	StoredSize int64 // object file bytes
}

// Model is a top-level directory and its base model ("" for none).
type Model struct {
	Name string
	Base string
}

// Reader is the read side of the catalog.
type Reader interface {
	Get(ctx context.Context, path string) (Entry, error)
	// List returns the children of dir sorted by name.
	List(ctx context.Context, dir string) ([]Entry, error)
	// Walk returns every entry under prefix (itself included), sorted by path.
	Walk(ctx context.Context, prefix string) ([]Entry, error)
	Object(ctx context.Context, id string) (Object, error)
	// FindContent returns the entries whose ContentHash equals hash.
	FindContent(ctx context.Context, hash string) ([]Entry, error)
	Model(ctx context.Context, name string) (Model, error)
	Models(ctx context.Context) ([]Model, error)
}

// Tx is a read-write transaction.
type Tx interface {
	Reader
	// PutEntry inserts or replaces the entry at e.Path; its parent must be
	// an existing directory. Replacing keeps the inode.
	PutEntry(ctx context.Context, e Entry) error
	// PutObject records an object; recording an existing id is a no-op.
	PutObject(ctx context.Context, o Object) error
	// Delete removes a file or an empty directory.
	Delete(ctx context.Context, path string) error
	// Rename moves a file or a directory subtree, replacing a file or an
	// empty directory at newPath as rename(2) does.
	Rename(ctx context.Context, oldPath, newPath string) error
	SetModel(ctx context.Context, m Model) error
	DeleteModel(ctx context.Context, name string) error
	DeleteObject(ctx context.Context, id string) error
}

// Catalog is a transactional catalog.
type Catalog interface {
	Reader
	// Update runs fn in one transaction, committed when fn returns nil.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Objects returns every object record.
	Objects(ctx context.Context) ([]Object, error)
	// LiveObjects returns the ids referenced by entries and, transitively,
	// by the Ref of a live object.
	LiveObjects(ctx context.Context) (map[string]bool, error)
	Close() error
}

// OpenSQLite opens (creating if needed) the SQLite catalog in file.
func OpenSQLite(file string) (Catalog, error) { return nil, errors.New("unimplemented") }

// ObjectReader reads one object file.
type ObjectReader interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// ObjectStore keeps immutable objects named by the SHA-256 of their bytes.
type ObjectStore interface {
	// Put stores data durably (temp file, fsync, rename, dir fsync) and
	// returns its id; storing an existing id is a no-op.
	Put(ctx context.Context, data []byte) (string, error)
	Open(ctx context.Context, id string) (ObjectReader, error)
	Has(ctx context.Context, id string) (bool, error)
	Delete(ctx context.Context, id string) error
	List(ctx context.Context) ([]string, error)
}

// NewDirObjects returns an ObjectStore over a local directory.
func NewDirObjects(dir string) (ObjectStore, error) { return nil, errors.New("unimplemented") }
