package catalog

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// sqlTx is a read-write transaction of either catalog: its SQL is shared.
type sqlTx struct{ reader }

var _ Tx = (*sqlTx)(nil)

// PutEntry inserts or replaces the entry at e.Path; its parent must be an
// existing directory (ErrNotFound, ErrNotDir). e.Inode is ignored: a new
// entry gets the next inode, a replaced one keeps its own. Replacing a
// directory by a directory updates its attributes and keeps its children;
// a directory is never replaced by a file (ErrIsDir) nor a file by a
// directory (ErrExist). A top-level directory is registered as a model
// (without a base). A zero MTime means now. A nil Owner keeps the owner of
// the entry replaced (unknown for a new one). A file's Object must be recorded
// (PutObject) by the time the transaction commits, or it fails with
// ErrDanglingRef.
func (t *sqlTx) PutEntry(ctx context.Context, e Entry) error {
	if err := validateEntry(e); err != nil {
		return err
	}
	parent, name := Split(e.Path)
	p, err := t.Get(ctx, parent)
	if err != nil {
		return fmt.Errorf("put %q: parent: %w", e.Path, err)
	}
	if p.Kind != KindDir {
		return fmt.Errorf("put %q: %w: parent %q", e.Path, ErrNotDir, parent)
	}
	if e.MTime.IsZero() {
		e.MTime = time.Now()
	}
	var shape, object, hash, dtype, header any
	if e.Kind == KindTensor {
		shapeJ, _ := json.Marshal(e.Shape)
		if e.Shape == nil {
			shapeJ = []byte("[]")
		}
		shape, dtype = string(shapeJ), e.DType
	}
	if e.Kind != KindDir {
		object = e.Object
		if e.ContentHash != "" {
			hash = e.ContentHash
		}
	}
	if len(e.Header) > 0 {
		header = e.Header
	}
	var uid, gid any
	if e.Owner != nil {
		uid, gid = int64(e.Owner.UID), int64(e.Owner.GID)
	}

	old, err := t.Get(ctx, e.Path)
	switch {
	case errors.Is(err, ErrNotFound):
		inode, err := t.nextInode(ctx)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `INSERT INTO entries(`+
			`path, parent, name, kind, inode, mode, mtime, size, object, content_hash, dtype, shape, fortran, header, uid, gid)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Path, parent, name, e.Kind, int64(inode), e.Mode, unixNanos(e.MTime), e.Size,
			object, hash, dtype, shape, e.Fortran, header, uid, gid)
		if err != nil {
			return mapErr("put "+quote(e.Path), err)
		}
		if parent == "" && e.Kind == KindDir {
			if _, err := t.exec(ctx, `INSERT INTO models(name) VALUES (?) ON CONFLICT DO NOTHING`, e.Path); err != nil {
				return mapErr("register model "+quote(e.Path), err)
			}
		}
		return nil
	case err != nil:
		return err
	case old.Kind == KindDir && e.Kind != KindDir:
		return fmt.Errorf("%w: cannot replace directory %q by a file", ErrIsDir, e.Path)
	case old.Kind != KindDir && e.Kind == KindDir:
		return fmt.Errorf("%w: cannot replace file %q by a directory", ErrExist, e.Path)
	}
	_, err = t.exec(ctx, `UPDATE entries SET kind = ?, mode = ?, mtime = ?, size = ?, object = ?,
		content_hash = ?, dtype = ?, shape = ?, fortran = ?, header = ?,
		uid = coalesce(?, uid), gid = coalesce(?, gid) WHERE path = ?`,
		e.Kind, e.Mode, unixNanos(e.MTime), e.Size, object, hash, dtype, shape, e.Fortran, header, uid, gid, e.Path)
	return mapErr("replace "+quote(e.Path), err)
}

// SetRoot sets the root directory's mode, modification time (zero: now)
// and owner (nil keeps it).
func (t *sqlTx) SetRoot(ctx context.Context, mode uint32, mtime time.Time, owner *Owner) error {
	if mtime.IsZero() {
		mtime = time.Now()
	}
	var uid, gid any
	if owner != nil {
		uid, gid = int64(owner.UID), int64(owner.GID)
	}
	_, err := t.exec(ctx, `UPDATE entries SET mode = ?, mtime = ?, uid = coalesce(?, uid), gid = coalesce(?, gid)
		WHERE path = ''`, mode, unixNanos(mtime), uid, gid)
	return mapErr("set the root's attributes", err)
}

func validateEntry(e Entry) error {
	if err := ValidatePath(e.Path); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: entry %q: %s", ErrInvalid, e.Path, fmt.Sprintf(format, args...))
	}
	switch {
	case e.Path == "":
		return fmt.Errorf("%w: the root cannot be replaced", ErrInvalidPath)
	case e.Kind < KindDir || e.Kind > KindBlob:
		return bad("unknown kind %d", e.Kind)
	case e.Size < 0:
		return bad("negative size %d", e.Size)
	case e.Kind == KindDir && e.Object != "":
		return bad("a directory has no object")
	case e.Kind != KindDir && !validID(e.Object):
		return bad("object id %q is not 64 lowercase hex digits", e.Object)
	}
	for _, d := range e.Shape {
		if d < 0 {
			return bad("negative dimension in shape %v", e.Shape)
		}
	}
	return nil
}

// unixNanos is t in nanoseconds since the epoch, clamped to what an int64
// holds (years 1678 to 2262) instead of overflowing.
func unixNanos(t time.Time) int64 {
	switch lo, hi := time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64); {
	case t.Before(lo):
		return math.MinInt64
	case t.After(hi):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// validID reports whether id is a hex SHA-256 in lowercase.
func validID(id string) bool {
	if len(id) != 64 || strings.ToLower(id) != id {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func (t *sqlTx) nextInode(ctx context.Context) (uint64, error) {
	var v int64
	err := t.queryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'inode' RETURNING value`).Scan(&v)
	if err != nil {
		return 0, mapErr("next inode", err)
	}
	return uint64(v), nil
}

// PutObject records an object; recording an existing id is a no-op. A
// non-empty Ref must be recorded by the time the transaction commits.
func (t *sqlTx) PutObject(ctx context.Context, o Object) error {
	switch {
	case !validID(o.ID):
		return fmt.Errorf("%w: object id %q is not 64 lowercase hex digits", ErrInvalid, o.ID)
	case o.Ref != "" && !validID(o.Ref):
		return fmt.Errorf("%w: object %s: ref %q is not 64 lowercase hex digits", ErrInvalid, o.ID, o.Ref)
	case o.Ref == o.ID:
		return fmt.Errorf("%w: object %s refers to itself", ErrInvalid, o.ID)
	case o.Strategy == "":
		return fmt.Errorf("%w: object %s has no strategy", ErrInvalid, o.ID)
	case o.RawSize < 0 || o.StoredSize < 0:
		return fmt.Errorf("%w: object %s has a negative size", ErrInvalid, o.ID)
	case o.Ref == "" && o.RefMatch != "":
		return fmt.Errorf("%w: object %s: a reference match without a reference", ErrInvalid, o.ID)
	}
	var ref any
	if o.Ref != "" {
		ref = o.Ref
	}
	_, err := t.exec(ctx, `INSERT INTO objects(id, ref, strategy, lossy, raw_size, stored_size, ref_match, ref_similarity)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		o.ID, ref, o.Strategy, o.Lossy, o.RawSize, o.StoredSize, o.RefMatch, o.RefSimilarity)
	return mapErr("put object "+o.ID, err)
}

// DeleteObject removes the record of object id (ErrNotFound if absent). An
// object still used by an entry or as another object's Ref makes the commit
// fail with ErrDanglingRef, so delete dependent records in the same
// transaction, in any order.
func (t *sqlTx) DeleteObject(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM objects WHERE id = ?`, id)
	if err != nil {
		return mapErr("delete object "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: object %s", ErrNotFound, id)
	}
	return nil
}

// Delete removes a file or an empty directory (ErrNotEmpty); the root
// cannot be deleted (ErrInvalidPath). Deleting a model's directory deletes
// the model, and the models based on it lose their base (their existing
// files keep decoding: their objects keep the base's objects alive).
func (t *sqlTx) Delete(ctx context.Context, path string) error {
	if path == "" {
		return fmt.Errorf("%w: the root cannot be deleted", ErrInvalidPath)
	}
	e, err := t.Get(ctx, path)
	if err != nil {
		return err
	}
	if e.Kind == KindDir {
		if err := t.requireEmpty(ctx, path); err != nil {
			return err
		}
	}
	if _, err := t.exec(ctx, `DELETE FROM entries WHERE path = ?`, path); err != nil {
		return mapErr("delete "+quote(path), err)
	}
	if e.Kind == KindDir && !strings.Contains(path, "/") {
		if _, err := t.exec(ctx, `DELETE FROM models WHERE name = ?`, path); err != nil {
			return mapErr("delete model "+quote(path), err)
		}
	}
	return nil
}

func (t *sqlTx) requireEmpty(ctx context.Context, dir string) error {
	var n int
	if err := t.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM entries WHERE parent = ? LIMIT 1) AS child`, dir).Scan(&n); err != nil {
		return mapErr("list "+quote(dir), err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %q", ErrNotEmpty, dir)
	}
	return nil
}

// SetModel creates or updates model m.Name with base m.Base ("" none). The
// model's top-level directory is created if missing (ErrNotDir if a file
// holds its name). The base must be an existing model (ErrNotFound) and must
// not lead back to m (ErrCycle).
func (t *sqlTx) SetModel(ctx context.Context, m Model) error {
	if err := validModelName(m.Name); err != nil {
		return err
	}
	if m.Base != "" {
		if err := validModelName(m.Base); err != nil {
			return err
		}
		if _, err := t.Model(ctx, m.Base); err != nil {
			return fmt.Errorf("model %q: base: %w", m.Name, err)
		}
		var cycle int
		err := t.queryRow(ctx, `
WITH RECURSIVE chain(name) AS (
	SELECT name FROM models WHERE name = ?
	UNION
	SELECT models.base FROM models JOIN chain ON models.name = chain.name WHERE models.base IS NOT NULL
)
SELECT count(*) FROM chain WHERE name = ?`, m.Base, m.Name).Scan(&cycle)
		if err != nil {
			return mapErr("check base chain", err)
		}
		if cycle > 0 {
			return fmt.Errorf("%w: %q cannot be based on %q", ErrCycle, m.Name, m.Base)
		}
	}
	e, err := t.Get(ctx, m.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := t.PutEntry(ctx, Entry{Path: m.Name, Kind: KindDir, Mode: 0o755}); err != nil {
			return err
		}
	case err != nil:
		return err
	case e.Kind != KindDir:
		return fmt.Errorf("%w: model %q is a file", ErrNotDir, m.Name)
	}
	var base any
	if m.Base != "" {
		base = m.Base
	}
	_, err = t.exec(ctx, `INSERT INTO models(name, base) VALUES (?, ?)
		ON CONFLICT(name) DO UPDATE SET base = excluded.base`, m.Name, base)
	return mapErr("set model "+quote(m.Name), err)
}

// DeleteModel deletes model name and its directory, which must be empty
// (ErrNotEmpty); see Delete.
func (t *sqlTx) DeleteModel(ctx context.Context, name string) error {
	if _, err := t.Model(ctx, name); err != nil {
		return err
	}
	return t.Delete(ctx, name)
}

func validModelName(name string) error {
	if err := ValidatePath(name); err != nil {
		return err
	}
	if name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("%w: model name %q must be one path component", ErrInvalidPath, name)
	}
	return nil
}
