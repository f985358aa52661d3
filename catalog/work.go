package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Pending is a file closed through a write-back mount whose encoding has
// not been committed yet: its bytes are in a staging file of the session
// that recorded it. When that session dies, the next process to open the
// store encodes it.
type Pending struct {
	ID         int64  // assigned by AddPending, increasing
	Session    string // the session (one open store) that recorded it
	Stage      string // the staging file's name in the session's directory
	Path       string // where the file is to be stored
	Mode       uint32 // permission bits (0: keep the replaced file's)
	Strategy   string // "" the store's
	AllowLossy bool
	Size       int64     // bytes staged
	Owner      *Owner    // owner of a new file (nil: the user serving the store)
	MTime      time.Time // modification time (zero: when it is stored)
	// Holds is what Path held when the file was recorded or moved there,
	// as the store describes it; the file is not stored over anything
	// newer ("": unknown, records of catalogs before version 9).
	Holds string
}

// Import is an import in progress: the model it creates and the session
// running it. A model whose import's session died is removed again.
type Import struct {
	Model   string
	Session string
}

// pendingColumns are the columns scanPending reads.
const pendingColumns = `id, session, stage, path, mode, strategy, allow_lossy, size, uid, gid, mtime, holds`

// scanPending reads one row of pendingColumns.
func scanPending(row interface{ Scan(...any) error }) (Pending, error) {
	var (
		p             Pending
		uid, gid, mns sql.NullInt64
	)
	if err := row.Scan(&p.ID, &p.Session, &p.Stage, &p.Path, &p.Mode, &p.Strategy, &p.AllowLossy, &p.Size, &uid, &gid, &mns, &p.Holds); err != nil {
		return Pending{}, err
	}
	if uid.Valid && gid.Valid {
		p.Owner = &Owner{UID: uint32(uid.Int64), GID: uint32(gid.Int64)}
	}
	if mns.Valid {
		p.MTime = time.Unix(0, mns.Int64)
	}
	return p, nil
}

// PendingOf returns the pending files of session, oldest first.
func (r reader) PendingOf(ctx context.Context, session string) ([]Pending, error) {
	rows, err := r.query(ctx, `SELECT `+pendingColumns+` FROM pending WHERE session = ? ORDER BY id`, session)
	if err != nil {
		return nil, mapErr("pending", err)
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		p, err := scanPending(rows)
		if err != nil {
			return nil, mapErr("pending", err)
		}
		out = append(out, p)
	}
	return out, mapErr("pending", rows.Err())
}

// PendingByID returns pending file id (ErrNotFound if absent).
func (r reader) PendingByID(ctx context.Context, id int64) (Pending, error) {
	p, err := scanPending(r.queryRow(ctx, `SELECT `+pendingColumns+` FROM pending WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Pending{}, fmt.Errorf("%w: pending file %d", ErrNotFound, id)
	}
	return p, mapErr("pending", err)
}

// ImportsOf returns the imports in progress of session.
func (r reader) ImportsOf(ctx context.Context, session string) ([]Import, error) {
	rows, err := r.query(ctx, `SELECT model, session FROM imports WHERE session = ? ORDER BY model`, session)
	if err != nil {
		return nil, mapErr("imports", err)
	}
	defer rows.Close()
	var out []Import
	for rows.Next() {
		var im Import
		if err := rows.Scan(&im.Model, &im.Session); err != nil {
			return nil, mapErr("imports", err)
		}
		out = append(out, im)
	}
	return out, mapErr("imports", rows.Err())
}

// AddPending records p (its ID is ignored) and returns its new id.
func (t *sqlTx) AddPending(ctx context.Context, p Pending) (int64, error) {
	if p.Session == "" || p.Stage == "" || p.Path == "" || p.Size < 0 {
		return 0, fmt.Errorf("%w: pending file %+v", ErrInvalid, p)
	}
	var uid, gid, mtime any
	if p.Owner != nil {
		uid, gid = int64(p.Owner.UID), int64(p.Owner.GID)
	}
	if !p.MTime.IsZero() {
		mtime = unixNanos(p.MTime)
	}
	var id int64
	err := t.queryRow(ctx, `INSERT INTO pending(session, stage, path, mode, strategy, allow_lossy, size, uid, gid, mtime, holds)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		p.Session, p.Stage, p.Path, p.Mode, p.Strategy, p.AllowLossy, p.Size, uid, gid, mtime, p.Holds).Scan(&id)
	return id, mapErr("add pending "+p.Path, err)
}

// MovePending sets the path of pending file id and what that path holds
// (ErrNotFound if absent).
func (t *sqlTx) MovePending(ctx context.Context, id int64, path, holds string) error {
	res, err := t.exec(ctx, `UPDATE pending SET path = ?, holds = ? WHERE id = ?`, path, holds, id)
	return affectedOne(res, err, fmt.Sprintf("move pending %d", id))
}

// DeletePending forgets pending file id (ErrNotFound if absent).
func (t *sqlTx) DeletePending(ctx context.Context, id int64) error {
	res, err := t.exec(ctx, `DELETE FROM pending WHERE id = ?`, id)
	return affectedOne(res, err, fmt.Sprintf("delete pending %d", id))
}

// AddImport records an import in progress (ErrExist if one of that model
// is recorded).
func (t *sqlTx) AddImport(ctx context.Context, im Import) error {
	if im.Model == "" || im.Session == "" {
		return fmt.Errorf("%w: import %+v", ErrInvalid, im)
	}
	res, err := t.exec(ctx, `INSERT INTO imports(model, session) VALUES (?, ?) ON CONFLICT(model) DO NOTHING`, im.Model, im.Session)
	if err != nil {
		return mapErr("add import "+im.Model, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: import of %s in progress", ErrExist, im.Model)
	}
	return nil
}

// DeleteImport forgets the import of model (ErrNotFound if absent).
func (t *sqlTx) DeleteImport(ctx context.Context, model string) error {
	res, err := t.exec(ctx, `DELETE FROM imports WHERE model = ?`, model)
	return affectedOne(res, err, "delete import "+model)
}

// affectedOne maps the result of a statement that must change one row.
func affectedOne(res interface{ RowsAffected() (int64, error) }, err error, op string) error {
	if err != nil {
		return mapErr(op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, op)
	}
	return nil
}

// renamePending moves the pending files at oldPath (and below it, for a
// directory) with it: Rename's part for the pending table.
func (t *sqlTx) renamePending(ctx context.Context, oldPath, newPath string, dir bool) error {
	_, err := t.exec(ctx, `UPDATE pending SET path = ? WHERE path = ?`, newPath, oldPath)
	if err == nil && dir {
		_, err = t.exec(ctx, `UPDATE pending SET path = ?1 || `+t.d.suffixOf("path")+`
			WHERE path >= ?2 AND path < ?4`, newPath, oldPath+"/", len(oldPath)+1, subtreeUpper(oldPath))
	}
	return mapErr(fmt.Sprintf("rename pending files of %q to %q", oldPath, newPath), err)
}
