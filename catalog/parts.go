package catalog

import (
	"context"
	"encoding/json"
	"fmt"
)

// Part is one tensor of a file stored tensor by tensor (a safetensors file):
// its data are Size bytes at Offset in the file, reconstructed from Object.
// The file's entry holds the rest of the file (its header) as an ordinary
// blob; its parts are kept in the parts table, keyed by the entry's inode,
// so they follow the entry through Rename and go with it on Delete.
type Part struct {
	Name        string  // the tensor's name in the file
	DType       string  // the file format's dtype name, e.g. "BF16"
	Shape       []int64 //
	Offset      int64   // where the tensor's data start in the file
	Size        int64   // bytes of data
	Object      string  // object id
	ContentHash string  // hex SHA-256 of the data
}

// Parts returns the parts of the file at path in file order (none for a
// file stored whole).
func (r reader) Parts(ctx context.Context, path string) ([]Part, error) {
	rows, err := r.query(ctx, `SELECT p.name, p.dtype, p.shape, p."offset", p.size, p.object, p.content_hash
		FROM parts p JOIN entries e ON e.inode = p.inode WHERE e.path = ? ORDER BY p."offset", p.idx`, path)
	if err != nil {
		return nil, mapErr("parts of "+quote(path), err)
	}
	defer rows.Close()
	var out []Part
	for rows.Next() {
		var p Part
		var shape string
		if err := rows.Scan(&p.Name, &p.DType, &shape, &p.Offset, &p.Size, &p.Object, &p.ContentHash); err != nil {
			return nil, mapErr("parts of "+quote(path), err)
		}
		if err := json.Unmarshal([]byte(shape), &p.Shape); err != nil {
			return nil, fmt.Errorf("part %q of %q: bad shape %q: %w", p.Name, path, shape, err)
		}
		out = append(out, p)
	}
	return out, mapErr("parts of "+quote(path), rows.Err())
}

// SetParts replaces the parts of the file at path (nil: it is stored
// whole). Every part's Object must be recorded by the time the transaction
// commits (ErrDanglingRef).
func (t *sqlTx) SetParts(ctx context.Context, path string, parts []Part) error {
	e, err := t.Get(ctx, path)
	if err != nil {
		return err
	}
	if e.Kind == KindDir {
		return fmt.Errorf("%w: parts of %q", ErrIsDir, path)
	}
	if _, err := t.exec(ctx, `DELETE FROM parts WHERE inode = ?`, int64(e.Inode)); err != nil {
		return mapErr("clear parts of "+quote(path), err)
	}
	for i, p := range parts {
		if !validID(p.Object) || p.Offset < 0 || p.Size < 0 {
			return fmt.Errorf("%w: part %q of %q: object %q at %d+%d", ErrInvalid, p.Name, path, p.Object, p.Offset, p.Size)
		}
		shape, _ := json.Marshal(p.Shape)
		if p.Shape == nil {
			shape = []byte("[]")
		}
		if _, err := t.exec(ctx, `INSERT INTO parts(inode, idx, name, dtype, shape, "offset", size, object, content_hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, int64(e.Inode), i, p.Name, p.DType, string(shape), p.Offset, p.Size, p.Object, p.ContentHash); err != nil {
			return mapErr(fmt.Sprintf("put part %q of %q", p.Name, path), err)
		}
	}
	return nil
}
