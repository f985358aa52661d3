package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Change is one row of the change log: a path whose entry a committed
// transaction created, replaced, changed, renamed or deleted (a rename
// logs the old and the new path; a directory's descendants are logged
// too), or a model whose base it set. Seq numbers grow with every change
// and are never reused.
type Change struct {
	Seq    uint64
	Path   string
	Origin string // the Origin of the catalog handle that committed it
}

// ChangeBatch is what Changes returns.
type ChangeBatch struct {
	Changes []Change // oldest first
	// Lost reports that changes right after the asked sequence were
	// pruned: the caller must assume anything may have changed.
	Lost bool
}

// changesKept is how many of the newest changes the log keeps; a reader
// further behind than that gets ChangeBatch.Lost.
var changesKept = 50_000 // a variable for tests

// newOrigin is a random name for one catalog handle.
func newOrigin() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Origin names this catalog handle in the change log: the changes it
// commits carry it.
func (c *sqliteCatalog) Origin() string { return c.origin }

// LastChange returns the sequence number of the newest committed change
// (0 when none was ever logged).
func (r reader) LastChange(ctx context.Context) (uint64, error) {
	var seq int64
	if err := r.queryRow(ctx, `SELECT coalesce(max(seq), 0) FROM changes`).Scan(&seq); err != nil {
		return 0, mapErr("read the change log", err)
	}
	return uint64(seq), nil
}

// Changes returns up to limit committed changes after sequence number
// after, oldest first: one range query on the log's primary key, so
// polling an idle store is cheap.
func (r reader) Changes(ctx context.Context, after uint64, limit int) (ChangeBatch, error) {
	if limit <= 0 {
		return ChangeBatch{}, fmt.Errorf("%w: change limit %d", ErrInvalid, limit)
	}
	rows, err := r.query(ctx, `SELECT seq, path, coalesce(origin, '') FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`,
		int64(after), limit)
	if err != nil {
		return ChangeBatch{}, mapErr("read the change log", err)
	}
	defer rows.Close()
	var b ChangeBatch
	for rows.Next() {
		var ch Change
		var seq int64
		if err := rows.Scan(&seq, &ch.Path, &ch.Origin); err != nil {
			return ChangeBatch{}, mapErr("read the change log", err)
		}
		ch.Seq = uint64(seq)
		b.Changes = append(b.Changes, ch)
	}
	if err := rows.Err(); err != nil {
		return ChangeBatch{}, mapErr("read the change log", err)
	}
	// Sequence numbers have no gaps (SQLite: AUTOINCREMENT, and a
	// rolled-back transaction rolls its numbers back; PostgreSQL: numbered
	// at commit under the write lock), except where pruning cut.
	b.Lost = len(b.Changes) > 0 && b.Changes[0].Seq != after+1
	return b, nil
}

// stampChanges signs the changes logged by the transaction tx is about to
// commit with origin (the triggers leave it NULL) and prunes the log to its
// newest changesKept rows.
func stampChanges(ctx context.Context, tx *sqlTx, origin string) error {
	res, err := tx.exec(ctx, tx.d.stamp, origin)
	if err != nil {
		return mapErr("log changes", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	_, err = tx.exec(ctx, `DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ?`, changesKept)
	return mapErr("prune the change log", err)
}
