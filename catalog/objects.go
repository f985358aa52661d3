package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"deltafs/internal/durable"
)

// tempPrefix starts the names of objects being written.
const tempPrefix = ".tmp-"

// DirObjects is the ObjectStore over a local directory: object id lives in
// dir/<first two hex digits>/<id>, a read-only file. Writes go to a temp
// file in dir, are fsynced, renamed into place and the directory fsynced, so
// an object name never holds partial bytes. Safe for concurrent use, also by
// several processes.
type DirObjects struct {
	dir        string
	createTemp func(dir, pattern string) (tempFile, error) // a seam for fault injection in tests
}

// tempFile is the part of *os.File the write path uses.
type tempFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

var _ ObjectStore = (*DirObjects)(nil)

// NewDirObjects returns an ObjectStore over dir, created if missing.
func NewDirObjects(dir string) (*DirObjects, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("catalog: object directory: %w", err)
	}
	return &DirObjects{dir: dir, createTemp: func(dir, pattern string) (tempFile, error) {
		return os.CreateTemp(dir, pattern)
	}}, nil
}

// ObjectID returns the id of data: its hex SHA-256.
func ObjectID(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func (d *DirObjects) path(id string) string { return filepath.Join(d.dir, id[:2], id) }

func checkID(id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: object id %q is not 64 lowercase hex digits", ErrInvalid, id)
	}
	return nil
}

// Put stores data durably and returns its id and whether it wrote the
// file; storing an id that exists with the right size is a no-op (a file of
// the wrong size is replaced).
func (d *DirObjects) Put(ctx context.Context, data []byte) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	id := ObjectID(data)
	if fi, err := os.Stat(d.path(id)); err == nil && fi.Size() == int64(len(data)) {
		return id, false, nil
	}
	id, err := d.write(ctx, func(w io.Writer) (string, error) {
		_, err := w.Write(data)
		return id, err
	})
	return id, err == nil, err
}

// PutReader stores everything r yields, durably, without holding it in
// memory, and returns its id and size.
func (d *DirObjects) PutReader(ctx context.Context, r io.Reader) (id string, size int64, err error) {
	id, err = d.write(ctx, func(w io.Writer) (string, error) {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), ctxReader{ctx, r})
		size = n
		return hex.EncodeToString(h.Sum(nil)), err
	})
	if err != nil {
		return "", 0, err
	}
	return id, size, nil
}

// CreateTemp creates an empty temporary object file, flock-ed through its
// own descriptor until it is closed (PutFile closes it once it is renamed
// into place), so that RemoveTemp of any process leaves it alone.
func (d *DirObjects) CreateTemp(ctx context.Context) (*os.File, error) {
	for range 8 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(d.dir, tempPrefix+"*")
		if err != nil {
			return nil, fmt.Errorf("catalog: write object: %w", err)
		}
		err = flockRetry(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			// Still the file under its name (not taken for a dead
			// writer's and removed before it was locked)?
			if st, serr := os.Stat(f.Name()); serr == nil {
				if fst, ferr := f.Stat(); ferr == nil && os.SameFile(st, fst) {
					return f, nil
				}
			}
		}
		f.Close()
		os.Remove(f.Name())
		if err != nil && !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("catalog: write object: %w", err)
		}
	}
	return nil, errors.New("catalog: write object: no temp file could be locked")
}

// PutFile hashes the object written to f, a file from CreateTemp, and makes
// it durable under its id (fsync, read-only, rename, directory fsync, then
// close, which drops the temp file's lock once it has its name); an object
// that exists already with that size is kept and f removed.
func (d *DirObjects) PutFile(ctx context.Context, f *os.File) (id string, size int64, created bool, err error) {
	tmp := f.Name()
	defer func() {
		if err != nil || !created {
			os.Remove(tmp)
		}
		f.Close()
	}()
	h := sha256.New()
	size, err = io.Copy(h, ctxReader{ctx, io.NewSectionReader(f, 0, 1<<62)})
	if err != nil {
		return "", 0, false, fmt.Errorf("catalog: write object: hash: %w", err)
	}
	id = hex.EncodeToString(h.Sum(nil))
	if fi, err := os.Stat(d.path(id)); err == nil && fi.Size() == size {
		return id, size, false, nil
	}
	if err := f.Sync(); err != nil {
		return "", 0, false, fmt.Errorf("catalog: write object %s: fsync: %w", id, err)
	}
	if err := d.placeTemp(ctx, tmp, id); err != nil {
		return "", 0, false, err
	}
	return id, size, true, nil
}

// write runs fill on a new temp file, which returns the object's id, then
// makes the file durable under that id. On any failure no file is left.
func (d *DirObjects) write(ctx context.Context, fill func(io.Writer) (string, error)) (id string, err error) {
	f, unlock, err := d.lockedTemp()
	if err != nil {
		return "", fmt.Errorf("catalog: write object: %w", err)
	}
	defer unlock() // after the rename: until then the temp file is ours
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	id, err = fill(f)
	if err != nil {
		return "", fmt.Errorf("catalog: write object: %w", err)
	}
	return id, d.commitTemp(ctx, f, id)
}

// commitTemp makes the temp file f, holding object id, durable under that
// id: fsync, close, read-only, rename, directory fsync. The caller removes
// f on error.
func (d *DirObjects) commitTemp(ctx context.Context, f tempFile, id string) error {
	tmp := f.Name()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("catalog: write object %s: fsync: %w", id, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("catalog: write object %s: close: %w", id, err)
	}
	return d.placeTemp(ctx, tmp, id)
}

// placeTemp makes the synced temp file tmp, holding object id, read-only
// and renames it into place durably.
func (d *DirObjects) placeTemp(ctx context.Context, tmp, id string) error {
	if err := os.Chmod(tmp, 0o444); err != nil {
		return fmt.Errorf("catalog: write object %s: %w", id, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	shard := filepath.Join(d.dir, id[:2])
	if err := d.ensureShard(shard); err != nil {
		return fmt.Errorf("catalog: write object %s: %w", id, err)
	}
	if err := os.Rename(tmp, d.path(id)); err != nil {
		return fmt.Errorf("catalog: write object %s: %w", id, err)
	}
	if err := durable.SyncDir(shard); err != nil {
		return fmt.Errorf("catalog: write object %s: fsync directory: %w", id, err)
	}
	return nil
}

// ensureShard creates a shard directory durably.
func (d *DirObjects) ensureShard(shard string) error {
	if _, err := os.Stat(shard); err == nil {
		return nil
	}
	if err := os.Mkdir(shard, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return durable.SyncDir(d.dir)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// fileReader is an ObjectReader over an open file; ReadAt (pread) is safe
// for concurrent use.
type fileReader struct {
	*os.File
	size int64
}

func (r fileReader) Size() int64 { return r.size }

// Open opens object id for reading (ErrNotFound if absent).
func (d *DirObjects) Open(ctx context.Context, id string) (ObjectReader, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: object %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: open object: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("catalog: open object: %w", err)
	}
	return fileReader{File: f, size: fi.Size()}, nil
}

// Has reports whether object id exists.
func (d *DirObjects) Has(ctx context.Context, id string) (bool, error) {
	if err := checkID(id); err != nil {
		return false, err
	}
	_, err := os.Stat(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("catalog: stat object: %w", err)
	}
	return true, nil
}

// Delete removes object id; removing a missing object is not an error, so
// an interrupted collection can simply run again.
func (d *DirObjects) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := os.Remove(d.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("catalog: delete object: %w", err)
	}
	return nil
}

// List returns the ids of every object, sorted.
func (d *DirObjects) List(ctx context.Context) ([]string, error) {
	shards, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("catalog: list objects: %w", err)
	}
	var ids []string
	for _, s := range shards {
		if !s.IsDir() || len(s.Name()) != 2 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		files, err := os.ReadDir(filepath.Join(d.dir, s.Name()))
		if err != nil {
			return nil, fmt.Errorf("catalog: list objects: %w", err)
		}
		for _, f := range files {
			if id := f.Name(); validID(id) && id[:2] == s.Name() && f.Type().IsRegular() {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Verify re-hashes object id: ErrObjectCorrupt if its bytes do not match.
func (d *DirObjects) Verify(ctx context.Context, id string) error { return VerifyObject(ctx, d, id) }

// lockedTemp creates a temp file and holds an flock on it until unlock is
// called, so that RemoveTemp of any process leaves it alone. A temp file
// taken for a dead writer's and removed between its creation and its
// locking is replaced by a new one.
func (d *DirObjects) lockedTemp() (f tempFile, unlock func(), err error) {
	for range 8 {
		f, err := d.createTemp(d.dir, tempPrefix+"*")
		if err != nil {
			return nil, nil, err
		}
		of, ok := f.(*os.File)
		if !ok { // a test's fault-injecting file: nothing to lock
			return f, func() {}, nil
		}
		// A duplicate descriptor carries the lock past f.Close.
		fd, err := syscall.Dup(int(of.Fd()))
		if err == nil {
			err = flockRetry(fd, syscall.LOCK_EX|syscall.LOCK_NB)
			if err != nil {
				syscall.Close(fd)
			}
		}
		if err == nil {
			if st, serr := os.Stat(of.Name()); serr == nil {
				if fst, ferr := of.Stat(); ferr == nil && os.SameFile(st, fst) {
					return f, func() { syscall.Close(fd) }, nil
				}
			}
			syscall.Close(fd)
		}
		f.Close()
		os.Remove(of.Name())
		if err != nil && !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil, err
		}
	}
	return nil, nil, errors.New("no temp file could be locked")
}

// flockRetry applies how to fd, retrying on EINTR.
func flockRetry(fd, how int) error {
	for {
		err := syscall.Flock(fd, how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// RemoveTemp removes leftover temp files of interrupted writes: those at
// least age old whose writer is gone (every writer holds an flock on its
// temp file until it is renamed into place), and returns how many it
// removed.
func (d *DirObjects) RemoveTemp(ctx context.Context, age time.Duration) (int, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return 0, fmt.Errorf("catalog: list temp objects: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < age {
			continue
		}
		if removeUnlocked(filepath.Join(d.dir, e.Name())) {
			removed++
		}
	}
	return removed, ctx.Err()
}

// removeUnlocked removes the temp file name unless its writer holds its
// lock, and reports whether it did.
func removeUnlocked(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	if flockRetry(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false // a live writer's
	}
	return os.Remove(name) == nil
}

// VerifyObject re-hashes object id of any ObjectStore: ErrObjectCorrupt if
// its bytes do not hash to id, ErrNotFound if it is missing.
func VerifyObject(ctx context.Context, s ObjectStore, id string) error {
	r, err := s.Open(ctx, id)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, io.NewSectionReader(r, 0, r.Size())}); err != nil {
		return fmt.Errorf("catalog: verify object %s: %w", id, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != id {
		return fmt.Errorf("%w: object %s hashes to %s", ErrObjectCorrupt, id, got)
	}
	return nil
}
