package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"deltafs/catalog"
)

// MkdirOptions are the attributes of a new directory.
type MkdirOptions struct {
	Mode  uint32    // permission bits; 0 gives 0755
	Owner *Owner    // nil: the user running this process
	MTime time.Time // zero: now
}

// Mkdir creates a directory (a top-level one is a model, given the store's
// DefaultBase as its base), owned by the user running this process.
func (s *Store) Mkdir(ctx context.Context, path string) error {
	return s.MkdirWith(ctx, path, MkdirOptions{})
}

// MkdirWith is Mkdir with the new directory's attributes.
func (s *Store) MkdirWith(ctx context.Context, path string, opts MkdirOptions) error {
	p, err := cleanNewPath(path)
	if err == nil && p == "" {
		err = ErrExist
	}
	if err == nil && opts.Mode&^permBits != 0 {
		err = ErrInvalidMode
	}
	if err != nil {
		return &PathError{Op: "mkdir", Path: path, Err: err}
	}
	if err := s.checkWritable("mkdir", p); err != nil {
		return err
	}
	base := s.opts.DefaultBase
	if base == p {
		base = ""
	}
	err = s.update(ctx, func(tx catalog.Tx) error {
		return mkdirTx(ctx, tx, s.dirEntry(p, opts), base)
	})
	if err != nil {
		return &PathError{Op: "mkdir", Path: p, Err: err}
	}
	return nil
}

// dirEntry is the catalog entry of a new directory p with opts.
func (s *Store) dirEntry(p string, opts MkdirOptions) catalog.Entry {
	e := catalog.Entry{Path: p, Kind: catalog.KindDir, Mode: opts.Mode, MTime: opts.MTime, Owner: opts.Owner}
	if e.Mode == 0 {
		e.Mode = dirMode
	}
	if e.MTime.IsZero() {
		e.MTime = time.Now()
	}
	if e.Owner == nil {
		self := s.self
		e.Owner = &self
	}
	return e
}

// mkdirTx creates directory entry e in tx; a top-level one becomes a model
// with the given base.
func mkdirTx(ctx context.Context, tx catalog.Tx, e catalog.Entry, base string) error {
	p := e.Path
	if _, err := tx.Get(ctx, p); err == nil {
		return ErrExist
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	if err := tx.PutEntry(ctx, e); err != nil {
		return err
	}
	if isTopLevel(p) && base != "" {
		if _, err := tx.Model(ctx, base); err != nil {
			return nil // the default base is gone: a model without a base
		}
		return tx.SetModel(ctx, catalog.Model{Name: p, Base: base})
	}
	return nil
}

// Remove removes a file or an empty directory.
func (s *Store) Remove(ctx context.Context, path string) error {
	p, err := cleanPath(path)
	if err == nil && p == "" {
		err = ErrInvalidPath
	}
	if err != nil {
		return &PathError{Op: "remove", Path: path, Err: err}
	}
	if err := s.checkWritable("remove", p); err != nil {
		return err
	}
	err = s.update(ctx, func(tx catalog.Tx) error {
		return tx.Delete(ctx, p) // deleting a model's directory drops the model
	})
	if err != nil {
		return &PathError{Op: "remove", Path: p, Err: err}
	}
	return nil
}

// Rename renames as rename(2) does.
func (s *Store) Rename(ctx context.Context, oldPath, newPath string) error {
	op, err := cleanPath(oldPath)
	if err == nil && op == "" {
		err = ErrInvalidPath
	}
	if err != nil {
		return &PathError{Op: "rename", Path: oldPath, Err: err}
	}
	np, err := cleanNewPath(newPath)
	if err == nil && np == "" {
		err = ErrInvalidPath
	}
	if err != nil {
		return &PathError{Op: "rename", Path: newPath, Err: err}
	}
	if err := s.checkWritable("rename", op); err != nil {
		return err
	}
	if op == np {
		if _, err := s.catalog.Get(ctx, op); err != nil {
			return &PathError{Op: "rename", Path: op, Err: err}
		}
		return nil
	}
	err = s.update(ctx, func(tx catalog.Tx) error {
		e, err := tx.Get(ctx, op)
		if err != nil {
			return err
		}
		// The catalog renames models with their directories (dependents
		// follow), and drops a model moved below the top level.
		if err := tx.Rename(ctx, op, np); err != nil {
			return err
		}
		// A directory moved to the top level becomes a model: give it the
		// default base, as Mkdir would.
		if e.Kind == catalog.KindDir && !isTopLevel(op) && isTopLevel(np) && s.opts.DefaultBase != "" && s.opts.DefaultBase != np {
			if _, err := tx.Model(ctx, s.opts.DefaultBase); err == nil {
				return tx.SetModel(ctx, catalog.Model{Name: np, Base: s.opts.DefaultBase})
			}
		}
		return nil
	})
	if err != nil {
		return &PathError{Op: "rename", Path: op, Err: err}
	}
	return nil
}

// SetBase sets the base model of model ("" clears it). Existing files keep
// their encoding; new ones use the new base.
func (s *Store) SetBase(ctx context.Context, model, base string) error {
	m, err := cleanPath(model)
	if err == nil && !isTopLevel(m) {
		err = ErrInvalidPath
	}
	if err != nil {
		return &PathError{Op: "setbase", Path: model, Err: err}
	}
	if err := s.checkWritable("setbase", m); err != nil {
		return err
	}
	b, err := cleanPath(base)
	if err == nil && b != "" && !isTopLevel(b) {
		err = ErrInvalidPath
	}
	if err != nil {
		return &PathError{Op: "setbase", Path: m, Err: err}
	}
	err = s.update(ctx, func(tx catalog.Tx) error {
		e, err := tx.Get(ctx, m)
		if err != nil {
			return err
		}
		if e.Kind != catalog.KindDir {
			return ErrNotDir
		}
		if err := checkBaseTx(ctx, tx, m, b); err != nil {
			return err
		}
		return tx.SetModel(ctx, catalog.Model{Name: m, Base: b})
	})
	if err != nil {
		return &PathError{Op: "setbase", Path: m, Err: err}
	}
	return nil
}

// checkBaseTx checks that base exists and that making it model's base
// closes no cycle.
func checkBaseTx(ctx context.Context, tx catalog.Reader, model, base string) error {
	for b, n := base, 0; b != ""; n++ {
		if b == model {
			return ErrBaseCycle
		}
		if n > maxReferenceDepth {
			return ErrBaseCycle
		}
		m, err := tx.Model(ctx, b)
		if errors.Is(err, catalog.ErrNotFound) {
			if b == base {
				return fmt.Errorf("%q: %w", base, ErrNoBase)
			}
			return nil
		}
		if err != nil {
			return err
		}
		b = m.Base
	}
	return nil
}
