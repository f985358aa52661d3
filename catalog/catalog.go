// Package catalog is the persistent map from virtual paths to entries, from
// models to their bases, and from object ids to object records; plus the
// content-addressed object files. Both sit behind small interfaces so a
// server database or an object service can replace the embedded defaults
// (SQLite and a local directory).
//
// The namespace: paths are clean and relative ("" is the root, always a
// directory, never deleted); every entry's parent is a directory; Rename
// follows rename(2) and keeps inodes, which are never reused. A top-level
// directory is a model: creating one registers it (no base), deleting it
// deletes the model, renaming it renames the model and the models based on
// it follow the new name; moving it below the top level deletes the model
// and moving a directory to the top level makes one. Deleting a base model
// clears the base of its dependents; their existing files still decode
// because LiveObjects keeps every object a live object refers to.
//
// The SQLite catalog: WAL journal, synchronous=FULL (a committed Update
// survives kill -9 and power loss), foreign keys, a busy timeout for a second
// process writing at once, the schema version in PRAGMA user_version with
// ordered migrations (a newer catalog is refused: ErrNewerSchema).
//
// The PostgreSQL catalog (OpenPostgres, pg.go) is the same catalog shared by
// many hosts: the same SQL (dialect.go holds what differs), the same
// semantics (every Update holds a cross-host write lock), migrations
// recorded in table deltafs_schema (pgschema.go), lost connections retried.
// Leases and Collect (leases.go) let gc run beside writers of any host.
// One conformance suite runs every catalog test on both backends
// (forEachBackend in backend_test.go).
package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"deltafs/internal/fault"
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
	ErrBusy          = fault.New("catalog: store is busy", fault.Busy)
	ErrObjectCorrupt = fault.New("catalog: object file corrupt", fault.Corrupt)
	ErrNotCatalog    = errors.New("catalog: not a deltafs catalog")             // a file that is not our SQLite catalog
	ErrDanglingRef   = errors.New("catalog: reference to an unrecorded object") // commit refused: an entry or Ref names no object record
	ErrInvalid       = errors.New("catalog: invalid argument")                  // a malformed entry, object record or object id
	ErrCycle         = errors.New("catalog: base models would form a cycle")    // SetModel would make a model its own base
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
	// Owner is who owns the entry; nil when the catalog does not know
	// (entries written before owners were kept). PutEntry keeps the
	// owner of an entry it replaces when e.Owner is nil.
	Owner *Owner
}

// Owner is the user and group owning an entry.
type Owner struct {
	UID, GID uint32
}

// Object is the catalog's record of one object file.
type Object struct {
	ID         string // hex SHA-256 of the object bytes
	Ref        string // id of the reference object, "" when it decodes alone
	Strategy   string // delta strategy, or "blob"
	Lossy      bool
	RawSize    int64 // reconstructed bytes
	StoredSize int64 // object file bytes
	// RefMatch says how Ref was chosen ("" when there is none, or for
	// objects recorded before it was kept): "path" (the same path in the
	// base), "name" (the base's only tensor of that file name) or
	// "similarity" (the base's most similar tensor, RefSimilarity).
	RefMatch      string
	RefSimilarity float64
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
	// Parts returns the parts of a file stored tensor by tensor, in file
	// order; none for a file stored whole.
	Parts(ctx context.Context, path string) ([]Part, error)
	Model(ctx context.Context, name string) (Model, error)
	Models(ctx context.Context) ([]Model, error)
	// PendingOf returns the pending files of a session, oldest first.
	PendingOf(ctx context.Context, session string) ([]Pending, error)
	PendingByID(ctx context.Context, id int64) (Pending, error)
	// ImportsOf returns the imports in progress of a session.
	ImportsOf(ctx context.Context, session string) ([]Import, error)
	// Settings returns the settings kept for model (key to value), or the
	// store-wide ones when model is "".
	Settings(ctx context.Context, model string) (map[string]string, error)
	// Sketch returns the similarity sketch recorded for object id
	// (ErrNotFound when none is).
	Sketch(ctx context.Context, id string) ([]byte, error)
}

// Tx is a read-write transaction.
type Tx interface {
	Reader
	// PutEntry inserts or replaces the entry at e.Path; its parent must be
	// an existing directory. Replacing keeps the inode.
	PutEntry(ctx context.Context, e Entry) error
	// SetParts replaces the parts of the file at path (nil: none).
	SetParts(ctx context.Context, path string, parts []Part) error
	// SetRoot sets the root directory's mode, modification time and owner
	// (nil keeps it): the root is never replaced, only these change.
	SetRoot(ctx context.Context, mode uint32, mtime time.Time, owner *Owner) error
	// PutObject records an object; recording an existing id is a no-op.
	PutObject(ctx context.Context, o Object) error
	// Delete removes a file or an empty directory.
	Delete(ctx context.Context, path string) error
	// Rename moves a file or a directory subtree, replacing a file or an
	// empty directory at newPath as rename(2) does.
	Rename(ctx context.Context, oldPath, newPath string) error
	SetModel(ctx context.Context, m Model) error
	// SetSetting keeps value under key for model (an existing model,
	// ErrNotFound otherwise), or store-wide when model is ""; an empty
	// value removes the setting. Settings of a model follow its renames and
	// go with it.
	SetSetting(ctx context.Context, model, key, value string) error
	// PutSketch records the similarity sketch of object id (recorded by the
	// time the transaction commits); it goes with the object's record.
	PutSketch(ctx context.Context, id string, sketch []byte) error
	DeleteModel(ctx context.Context, name string) error
	DeleteObject(ctx context.Context, id string) error
	// Objects and LiveObjects are as on Catalog, seen from inside the
	// transaction (a collector decides and deletes in one snapshot).
	Objects(ctx context.Context) ([]Object, error)
	LiveObjects(ctx context.Context) (map[string]bool, error)
	// AddPending records a pending file and returns its id; MovePending
	// and DeletePending change and forget one.
	AddPending(ctx context.Context, p Pending) (int64, error)
	MovePending(ctx context.Context, id int64, path, holds string) error
	DeletePending(ctx context.Context, id int64) error
	// AddImport and DeleteImport record and forget an import in progress.
	AddImport(ctx context.Context, im Import) error
	DeleteImport(ctx context.Context, model string) error
	// Release forgets session's leases on ids (nil: all of the session's);
	// a writer releases its leases in its commit's transaction.
	Release(ctx context.Context, session string, ids []string) error
}

// Catalog is a transactional catalog.
type Catalog interface {
	Reader
	// Update runs fn in one transaction, committed when fn returns nil and
	// rolled back otherwise. fn must act only through tx (never through the
	// Catalog: a nested Update would wait for itself until ErrBusy) and may
	// be called again after a busy failure. While another process writes,
	// Update waits up to the busy timeout, then fails with ErrBusy.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Objects returns every object record.
	Objects(ctx context.Context) ([]Object, error)
	// LiveObjects returns the ids referenced by entries and, transitively,
	// by the Ref of a live object.
	LiveObjects(ctx context.Context) (map[string]bool, error)
	// Changes returns up to limit committed changes logged after sequence
	// number after, oldest first; LastChange the newest one's number.
	// Other mounts of the store poll them to drop what they cached.
	Changes(ctx context.Context, after uint64, limit int) (ChangeBatch, error)
	LastChange(ctx context.Context) (uint64, error)
	// Origin names this handle: the changes it commits carry it.
	Origin() string
	// Lease records, committed, that session is about to use objects ids:
	// a writer leases every object its commit will name before it checks
	// that the object exists or uploads it, and releases the leases in the
	// commit's transaction (Tx.Release). While a collection removes one of
	// ids, Lease waits (up to the busy timeout, then ErrBusy). Leases
	// expire after LeaseTTL; leasing again renews them.
	Lease(ctx context.Context, session string, ids []string) error
	// Collect removes the objects that are garbage, safely beside writers
	// of any host. In one transaction it decides which objects are
	// garbage among the recorded ones and candidates (object files the
	// caller listed before calling): neither live (LiveObjects), nor
	// leased, nor referred to by a leased object. It deletes their records
	// and dooms them, so that leasing them waits; then remove deletes
	// their files (its context ends CollectWindow/2 after the decision
	// began: stop there), and the doom is lifted, even when remove fails.
	Collect(ctx context.Context, session string, candidates []string, remove func(ctx context.Context, ids []string) error) error
	Close() error
}

// ObjectReader reads one object file.
type ObjectReader interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// ObjectStore keeps immutable objects named by the SHA-256 of their bytes.
type ObjectStore interface {
	// Put stores data durably (temp file, fsync, rename, dir fsync) and
	// returns its id and whether it wrote it; storing an existing id is a
	// no-op that reports created false.
	Put(ctx context.Context, data []byte) (id string, created bool, err error)
	// CreateTemp creates an empty temporary file among the objects, for an
	// object too large to hold in memory: the caller writes it in place
	// and hands it to PutFile (or closes and removes it). Temp files an
	// interrupted writer leaves behind are removed by RemoveTemp.
	CreateTemp(ctx context.Context) (*os.File, error)
	// PutFile makes the object written to f (from CreateTemp) durable
	// under its id, as Put does, reading it back to hash it; it returns the
	// id, the object's size and whether it created the object file. f is
	// closed and its temporary name gone afterwards, whatever the outcome.
	PutFile(ctx context.Context, f *os.File) (id string, size int64, created bool, err error)
	Open(ctx context.Context, id string) (ObjectReader, error)
	Has(ctx context.Context, id string) (bool, error)
	Delete(ctx context.Context, id string) error
	List(ctx context.Context) ([]string, error)
}

// String names the kind as listings show it.
func (k Kind) String() string {
	switch k {
	case KindDir:
		return "dir"
	case KindTensor:
		return "tensor"
	case KindBlob:
		return "blob"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}
