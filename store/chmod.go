package store

import (
	"context"
	"errors"

	"deltafs/catalog"
)

// ErrInvalidMode means a mode has bits other than the permission,
// set-id and sticky bits (07777).
var ErrInvalidMode = errors.New("store: invalid mode")

// permBits are the mode bits the store keeps.
const permBits = 0o7777

// Chmod sets the permission bits (mode & 07777) of the file or directory at
// path; its content, inode and modification time stay. The root has fixed
// permissions (ErrInvalidPath).
func (s *Store) Chmod(ctx context.Context, path string, mode uint32) error {
	p, err := cleanPath(path)
	if err == nil && p == "" {
		err = ErrInvalidPath
	}
	if err == nil && mode&^permBits != 0 {
		err = ErrInvalidMode
	}
	if err != nil {
		return &PathError{Op: "chmod", Path: path, Err: err}
	}
	if err := s.checkWritable("chmod", p); err != nil {
		return err
	}
	err = s.update(ctx, func(tx catalog.Tx) error {
		e, err := tx.Get(ctx, p)
		if err != nil {
			return err
		}
		if e.Mode == mode {
			return nil
		}
		e.Mode = mode
		return tx.PutEntry(ctx, e)
	})
	if err != nil {
		return &PathError{Op: "chmod", Path: p, Err: err}
	}
	return nil
}
