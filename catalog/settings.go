package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Settings returns the settings kept for model, or the store's when model
// is "".
func (r reader) Settings(ctx context.Context, model string) (map[string]string, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if model == "" {
		rows, err = r.query(ctx, `SELECT key, value FROM store_settings`)
	} else {
		rows, err = r.query(ctx, `SELECT key, value FROM model_settings WHERE model = ?`, model)
	}
	if err != nil {
		return nil, mapErr("settings", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, mapErr("settings", err)
		}
		out[k] = v
	}
	return out, mapErr("settings", rows.Err())
}

// SetSetting keeps (or, with an empty value, removes) one setting.
func (t *sqlTx) SetSetting(ctx context.Context, model, key, value string) error {
	if key == "" {
		return fmt.Errorf("%w: empty setting name", ErrInvalid)
	}
	if model != "" {
		if _, err := t.Model(ctx, model); err != nil {
			return err
		}
	}
	var err error
	switch {
	case model == "" && value == "":
		_, err = t.exec(ctx, `DELETE FROM store_settings WHERE key = ?`, key)
	case model == "":
		_, err = t.exec(ctx, `INSERT INTO store_settings(key, value) VALUES (?, ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	case value == "":
		_, err = t.exec(ctx, `DELETE FROM model_settings WHERE model = ? AND key = ?`, model, key)
	default:
		_, err = t.exec(ctx, `INSERT INTO model_settings(model, key, value) VALUES (?, ?, ?)
			ON CONFLICT(model, key) DO UPDATE SET value = excluded.value`, model, key, value)
	}
	return mapErr("set setting "+quote(key), err)
}

// Sketch returns the similarity sketch of object id.
func (r reader) Sketch(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := r.queryRow(ctx, `SELECT sketch FROM sketches WHERE object = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: sketch of object %s", ErrNotFound, id)
	}
	return b, mapErr("sketch "+id, err)
}

// PutSketch records the similarity sketch of object id, replacing any.
func (t *sqlTx) PutSketch(ctx context.Context, id string, sketch []byte) error {
	if !validID(id) {
		return fmt.Errorf("%w: object id %q is not 64 lowercase hex digits", ErrInvalid, id)
	}
	_, err := t.exec(ctx, `INSERT INTO sketches(object, sketch) VALUES (?, ?)
		ON CONFLICT(object) DO UPDATE SET sketch = excluded.sketch`, id, sketch)
	return mapErr("put sketch "+id, err)
}
