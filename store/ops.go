package store

import (
	"context"
	"slices"
	"strings"

	"deltafs/catalog"
)

// Progress reports work done out of a total (bytes); it may be nil.
type Progress func(done, total int64)

// report calls p when it is set.
func (p Progress) report(done, total int64) {
	if p != nil {
		p(done, total)
	}
}

// RemoveAll removes path and everything under it (a whole model included).
func (s *Store) RemoveAll(ctx context.Context, path string) error {
	p, err := cleanPath(path)
	if err == nil && p == "" {
		err = ErrInvalidPath // the root is never removed
	}
	if err != nil {
		return &PathError{Op: "remove", Path: path, Err: err}
	}
	if err := s.checkWritable("remove", p); err != nil {
		return err
	}
	err = s.update(ctx, func(tx catalog.Tx) error { return removeAllTx(ctx, tx, p) })
	if err != nil {
		return &PathError{Op: "remove", Path: p, Err: err}
	}
	return nil
}

// removeAllTx deletes p and its subtree, deepest first, and the model
// record when p is a model.
func removeAllTx(ctx context.Context, tx catalog.Tx, p string) error {
	e, err := tx.Get(ctx, p)
	if err != nil {
		return err
	}
	entries := []catalog.Entry{e}
	if e.Kind == catalog.KindDir {
		if entries, err = tx.Walk(ctx, p); err != nil {
			return err
		}
	}
	// Deepest first, so every directory is empty when its turn comes.
	slices.SortStableFunc(entries, func(a, b catalog.Entry) int {
		return strings.Count(b.Path, "/") - strings.Count(a.Path, "/")
	})
	for _, e := range entries {
		if err := tx.Delete(ctx, e.Path); err != nil {
			return err
		}
	}
	return nil // deleting a model's directory drops the model
}
