package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// querier is what *sql.DB and *sql.Tx share: the reader runs on either.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements Reader (and the object queries) over a querier, with
// the statements prepared once through stmts.
type reader struct {
	q     querier    // *sql.DB (or a wrapper of one), or *sql.Tx inside a transaction
	tx    *sql.Tx    // nil outside a transaction
	stmts *stmtCache // nil: run every query unprepared
	d     *dialect
}

const entryColumns = `path, kind, inode, mode, mtime, size, object, content_hash, dtype, shape, fortran, header, uid, gid`

type scanner interface{ Scan(dest ...any) error }

func scanEntry(s scanner) (Entry, error) {
	var (
		e                           Entry
		mtime                       int64
		inode                       int64
		object, hash, dtype, shapeJ sql.NullString
		fortran                     bool
		header                      []byte
		uid, gid                    sql.NullInt64
	)
	if err := s.Scan(&e.Path, &e.Kind, &inode, &e.Mode, &mtime, &e.Size, &object, &hash, &dtype, &shapeJ, &fortran, &header, &uid, &gid); err != nil {
		return Entry{}, err
	}
	if uid.Valid && gid.Valid {
		e.Owner = &Owner{UID: uint32(uid.Int64), GID: uint32(gid.Int64)}
	}
	e.Inode = uint64(inode)
	e.MTime = time.Unix(0, mtime)
	e.Object, e.ContentHash, e.DType = object.String, hash.String, dtype.String
	e.Fortran = fortran
	if len(header) > 0 {
		e.Header = header
	}
	if shapeJ.Valid {
		e.Shape = []int64{}
		if err := json.Unmarshal([]byte(shapeJ.String), &e.Shape); err != nil {
			return Entry{}, fmt.Errorf("entry %q: bad shape %q: %w", e.Path, shapeJ.String, err)
		}
	}
	return e, nil
}

func queryEntries(ctx context.Context, r reader, op, query string, args ...any) ([]Entry, error) {
	rows, err := r.query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// Get returns the entry at path ("" is the root).
func (r reader) Get(ctx context.Context, path string) (Entry, error) {
	if err := ValidatePath(path); err != nil {
		return Entry{}, err
	}
	e, err := scanEntry(r.queryRow(ctx, `SELECT `+entryColumns+` FROM entries WHERE path = ?`, path))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("%w: %q", ErrNotFound, path)
	}
	if err != nil {
		return Entry{}, mapErr("get "+quote(path), err)
	}
	return e, nil
}

// List returns the children of dir sorted by name (byte order).
func (r reader) List(ctx context.Context, dir string) ([]Entry, error) {
	if err := ValidatePath(dir); err != nil {
		return nil, err
	}
	out, err := queryEntries(ctx, r, "list "+quote(dir),
		`SELECT `+entryColumns+` FROM entries WHERE parent = ? ORDER BY name`, dir)
	if err != nil || len(out) > 0 {
		return out, err
	}
	d, err := r.Get(ctx, dir)
	if err != nil {
		return nil, err
	}
	if d.Kind != KindDir {
		return nil, fmt.Errorf("%w: %q", ErrNotDir, dir)
	}
	return []Entry{}, nil
}

// Walk returns prefix and every entry under it, sorted by path (byte order,
// so a directory comes before its descendants).
func (r reader) Walk(ctx context.Context, prefix string) ([]Entry, error) {
	if err := ValidatePath(prefix); err != nil {
		return nil, err
	}
	var (
		out []Entry
		err error
	)
	if prefix == "" {
		out, err = queryEntries(ctx, r, "walk", `SELECT `+entryColumns+` FROM entries ORDER BY path`)
	} else {
		out, err = queryEntries(ctx, r, "walk "+quote(prefix),
			`SELECT `+entryColumns+` FROM entries WHERE path = ? OR (path >= ? AND path < ?) ORDER BY path`,
			prefix, prefix+"/", subtreeUpper(prefix))
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 || out[0].Path != prefix {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, prefix)
	}
	return out, nil
}

// FindContent returns the entries whose ContentHash equals hash, by path.
func (r reader) FindContent(ctx context.Context, hash string) ([]Entry, error) {
	if hash == "" {
		return nil, nil
	}
	return queryEntries(ctx, r, "find content",
		`SELECT `+entryColumns+` FROM entries WHERE content_hash = ? ORDER BY path`, hash)
}

const objectColumns = `id, ref, strategy, lossy, raw_size, stored_size, ref_match, ref_similarity`

func scanObject(s scanner) (Object, error) {
	var (
		o   Object
		ref sql.NullString
	)
	if err := s.Scan(&o.ID, &ref, &o.Strategy, &o.Lossy, &o.RawSize, &o.StoredSize, &o.RefMatch, &o.RefSimilarity); err != nil {
		return Object{}, err
	}
	o.Ref = ref.String
	return o, nil
}

// Object returns the record of object id.
func (r reader) Object(ctx context.Context, id string) (Object, error) {
	o, err := scanObject(r.queryRow(ctx, `SELECT `+objectColumns+` FROM objects WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Object{}, fmt.Errorf("%w: object %s", ErrNotFound, id)
	}
	if err != nil {
		return Object{}, mapErr("object "+id, err)
	}
	return o, nil
}

// Objects returns every object record, by id.
func (r reader) Objects(ctx context.Context) ([]Object, error) {
	rows, err := r.query(ctx, `SELECT `+objectColumns+` FROM objects ORDER BY id`)
	if err != nil {
		return nil, mapErr("objects", err)
	}
	defer rows.Close()
	var out []Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, mapErr("objects", err)
		}
		out = append(out, o)
	}
	return out, mapErr("objects", rows.Err())
}

// LiveObjects returns the ids referenced by entries and, transitively, by
// the Ref of a live object.
func (r reader) LiveObjects(ctx context.Context) (map[string]bool, error) {
	rows, err := r.query(ctx, `
WITH RECURSIVE live(id) AS (
	SELECT object FROM entries WHERE object IS NOT NULL
	UNION
	SELECT object FROM parts
	UNION
	SELECT o.ref FROM objects o JOIN live ON o.id = live.id WHERE o.ref IS NOT NULL
)
SELECT id FROM live`)
	if err != nil {
		return nil, mapErr("live objects", err)
	}
	defer rows.Close()
	live := make(map[string]bool)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr("live objects", err)
		}
		live[id] = true
	}
	return live, mapErr("live objects", rows.Err())
}

// Model returns the model named name.
func (r reader) Model(ctx context.Context, name string) (Model, error) {
	var (
		m    Model
		base sql.NullString
	)
	err := r.queryRow(ctx, `SELECT name, base FROM models WHERE name = ?`, name).Scan(&m.Name, &base)
	if errors.Is(err, sql.ErrNoRows) {
		return Model{}, fmt.Errorf("%w: model %q", ErrNotFound, name)
	}
	if err != nil {
		return Model{}, mapErr("model "+quote(name), err)
	}
	m.Base = base.String
	return m, nil
}

// Models returns every model, by name.
func (r reader) Models(ctx context.Context) ([]Model, error) {
	rows, err := r.query(ctx, `SELECT name, base FROM models ORDER BY name`)
	if err != nil {
		return nil, mapErr("models", err)
	}
	defer rows.Close()
	var out []Model
	for rows.Next() {
		var (
			m    Model
			base sql.NullString
		)
		if err := rows.Scan(&m.Name, &base); err != nil {
			return nil, mapErr("models", err)
		}
		m.Base = base.String
		out = append(out, m)
	}
	return out, mapErr("models", rows.Err())
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
