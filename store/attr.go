package store

import (
	"context"
	"errors"
	"os"
	"time"

	"deltafs/catalog"
)

// ErrInvalidMode means a mode has bits other than the permission,
// set-id and sticky bits (07777).
var ErrInvalidMode = errors.New("store: invalid mode")

// permBits are the mode bits the store keeps.
const permBits = 0o7777

// Owner is the user and group owning a file or directory.
type Owner = catalog.Owner

// processOwner is the effective user and group of this process: the owner
// of what it creates unless told otherwise, and of the entries whose owner
// the catalog does not know (written before owners were kept).
func processOwner() Owner {
	return Owner{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
}

// ownerOf is the owner reported for e.
func (s *Store) ownerOf(e catalog.Entry) Owner {
	if e.Owner != nil {
		return *e.Owner
	}
	return s.self
}

// Chmod sets the permission bits (mode & 07777) of the file or directory at
// path ("" the root); its content, inode and modification time stay.
func (s *Store) Chmod(ctx context.Context, path string, mode uint32) error {
	if mode&^permBits != 0 {
		return &PathError{Op: "chmod", Path: path, Err: ErrInvalidMode}
	}
	return s.setAttr(ctx, "chmod", path, func(e *catalog.Entry) bool {
		changed := e.Mode != mode
		e.Mode = mode
		return changed
	})
}

// Chown sets the owner of the file or directory at path ("" the root).
// Who may do so is the caller's to check (the kernel does for a mount).
func (s *Store) Chown(ctx context.Context, path string, o Owner) error {
	return s.setAttr(ctx, "chown", path, func(e *catalog.Entry) bool {
		changed := e.Owner == nil || *e.Owner != o
		e.Owner = &o
		return changed
	})
}

// Chtimes sets the modification time of the file or directory at path
// ("" the root; the store keeps no access time).
func (s *Store) Chtimes(ctx context.Context, path string, mtime time.Time) error {
	if mtime.IsZero() {
		mtime = time.Unix(0, 0) // the catalog reads a zero time as now
	}
	return s.setAttr(ctx, "chtimes", path, func(e *catalog.Entry) bool {
		changed := !e.MTime.Equal(mtime)
		e.MTime = mtime
		return changed
	})
}

// setAttr applies change to the entry at path in one transaction, writing
// it only when change reports a difference.
func (s *Store) setAttr(ctx context.Context, op, path string, change func(e *catalog.Entry) bool) error {
	p, err := cleanPath(path)
	if err != nil {
		return &PathError{Op: op, Path: path, Err: err}
	}
	if err := s.checkWritable(op, p); err != nil {
		return err
	}
	err = s.update(ctx, func(tx catalog.Tx) error {
		e, err := tx.Get(ctx, p)
		if err != nil {
			return err
		}
		if !change(&e) {
			return nil
		}
		if p == "" {
			return tx.SetRoot(ctx, e.Mode, e.MTime, e.Owner)
		}
		return tx.PutEntry(ctx, e)
	})
	if err != nil {
		return &PathError{Op: op, Path: p, Err: err}
	}
	return nil
}
