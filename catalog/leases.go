package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Garbage collection beside writers on other hosts.
//
// A writer leases every object its commit will name (entries' and parts'
// objects, and the references of objects it records) before it checks
// whether the object exists or uploads it, and releases the leases in the
// commit's transaction (Tx.Release). A collection (Collect) never removes
// a leased object, and an object it has decided to remove is doomed until
// its file is gone: leasing a doomed object waits. So an object uploaded,
// or found present, for a commit still in progress is never collected:
//
//   - a lease committed before the collection decides excludes the object;
//   - a lease asked for after it waits until the doomed file is deleted,
//     so the writer then finds the object missing and uploads it again.
//
// Both sides are transactions under the catalog's write lock (SQLite's,
// or the advisory lock of the PostgreSQL catalog), so they never
// interleave. The state is in tables, so it survives a lost connection or
// a server restart; a crashed writer's leases expire after LeaseTTL and a
// crashed collector's doom after CollectWindow.

// LeaseTTL is how long a lease holds: a collection ignores (and drops)
// older ones. A writer working longer on one commit leases again, which
// renews.
var LeaseTTL = 24 * time.Hour

// CollectWindow bounds a collection's doom: its remove callback's context
// ends CollectWindow/2 after the collection began deciding, and a doom
// older than CollectWindow no longer holds leases back (its collector is
// taken for dead; the half between is the margin for a paused process).
var CollectWindow = 30 * time.Minute

// errDoomed says a lease waits for a collection.
var errDoomed = errors.New("catalog: object being collected")

// updateFunc is a catalog's Update.
type updateFunc func(ctx context.Context, fn func(tx Tx) error) error

// lease records session's leases on ids in one transaction, waiting (up to
// busy) while a collection removes any of them.
func lease(ctx context.Context, update updateFunc, busy time.Duration, session string, ids []string) error {
	if session == "" {
		return fmt.Errorf("%w: lease without a session", ErrInvalid)
	}
	for _, id := range ids {
		if !validID(id) {
			return fmt.Errorf("%w: lease of object id %q", ErrInvalid, id)
		}
	}
	start := time.Now()
	backoff := 5 * time.Millisecond
	for {
		err := update(ctx, func(t Tx) error {
			tx := t.(*sqlTx)
			list := idList(ids)
			var doomed int
			if err := tx.queryRow(ctx, `SELECT count(*) FROM doomed WHERE object IN (SELECT id FROM `+tx.d.ids+` AS l)
				AND since > `+tx.d.now+` - ?`, list, CollectWindow.Nanoseconds()).Scan(&doomed); err != nil {
				return mapErr("lease", err)
			}
			if doomed > 0 {
				return fmt.Errorf("%w: %d of the objects", errDoomed, doomed)
			}
			// WHERE true: SQLite would read ON CONFLICT as a join's ON.
			_, err := tx.exec(ctx, `INSERT INTO leases(object, session, taken)
				SELECT DISTINCT id, CAST(? AS TEXT), `+tx.d.now+` FROM `+tx.d.ids+` AS l WHERE true
				ON CONFLICT(object, session) DO UPDATE SET taken = excluded.taken`, session, list)
			return mapErr("lease", err)
		})
		if !errors.Is(err, errDoomed) {
			return err
		}
		if time.Since(start) > busy {
			return fmt.Errorf("%w: waited %v for a collection: %v", ErrBusy, busy, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

// Release forgets session's leases on ids, or all of them when ids is nil.
// A writer calls it in its commit's transaction.
func (t *sqlTx) Release(ctx context.Context, session string, ids []string) error {
	if ids == nil {
		_, err := t.exec(ctx, `DELETE FROM leases WHERE session = ?`, session)
		return mapErr("release the leases of "+session, err)
	}
	_, err := t.exec(ctx, `DELETE FROM leases WHERE session = ? AND object IN (SELECT id FROM `+t.d.ids+` AS l)`,
		session, idList(ids))
	return mapErr("release leases", err)
}

// collect runs a collection for session (see Catalog.Collect).
func collect(ctx context.Context, update updateFunc, session string, candidates []string,
	remove func(ctx context.Context, ids []string) error) error {
	if session == "" {
		return fmt.Errorf("%w: collection without a session", ErrInvalid)
	}
	begun := time.Now() // before the doom's time is taken: the window is measured from no later
	var doomed []string
	err := update(ctx, func(t Tx) error {
		tx := t.(*sqlTx)
		doomed = doomed[:0]
		now := tx.d.now
		if _, err := tx.exec(ctx, `DELETE FROM leases WHERE taken <= `+now+` - ?`, LeaseTTL.Nanoseconds()); err != nil {
			return mapErr("drop expired leases", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM doomed WHERE since <= `+now+` - ? OR session = ?`,
			CollectWindow.Nanoseconds(), session); err != nil {
			return mapErr("drop stale dooms", err)
		}
		held := map[string]bool{}
		rows, err := tx.query(ctx, `SELECT DISTINCT object FROM leases`)
		if err != nil {
			return mapErr("read leases", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return mapErr("read leases", err)
			}
			held[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr("read leases", err)
		}
		live, err := tx.LiveObjects(ctx)
		if err != nil {
			return err
		}
		records, err := tx.Objects(ctx)
		if err != nil {
			return err
		}
		// A leased object keeps what it refers to, as a live one does.
		refs := make(map[string]string, len(records))
		for _, o := range records {
			refs[o.ID] = o.Ref
		}
		for id := range held {
			for r := refs[id]; r != "" && !held[r]; r = refs[r] {
				held[r] = true
			}
		}
		seen := map[string]bool{}
		var dead []string // doomed objects with a record
		for _, o := range records {
			if !live[o.ID] && !held[o.ID] {
				seen[o.ID] = true
				dead = append(dead, o.ID)
			}
		}
		doomed = append(doomed, dead...)
		for _, id := range candidates {
			if !seen[id] && !live[id] && !held[id] && validID(id) {
				seen[id] = true
				doomed = append(doomed, id)
			}
		}
		if len(doomed) == 0 {
			return nil
		}
		if _, err := tx.exec(ctx, `INSERT INTO doomed(object, session, since)
			SELECT id, CAST(? AS TEXT), `+now+` FROM `+tx.d.ids+` AS l`, session, idList(doomed)); err != nil {
			return mapErr("doom garbage objects", err)
		}
		_, err = tx.exec(ctx, `DELETE FROM objects WHERE id IN (SELECT id FROM `+tx.d.ids+` AS l)`, idList(dead))
		return mapErr("delete the records of garbage objects", err)
	})
	if err != nil || len(doomed) == 0 {
		return err
	}
	rctx, cancel := context.WithDeadline(ctx, begun.Add(CollectWindow/2))
	err = remove(rctx, doomed)
	cancel()
	// Lift the doom even after a failed remove: what was not removed has
	// no record, and a collection that lists its file dooms it again.
	lctx := context.WithoutCancel(ctx)
	lift := update(lctx, func(t Tx) error {
		_, err := t.(*sqlTx).exec(lctx, `DELETE FROM doomed WHERE session = ?`, session)
		return mapErr("lift the doom", err)
	})
	return errors.Join(err, lift)
}

// Lease records that session is about to use objects ids (see leases.go).
func (c *sqliteCatalog) Lease(ctx context.Context, session string, ids []string) error {
	return lease(ctx, c.Update, c.up.busyTimeout, session, ids)
}

// Collect removes garbage objects beside writers (see leases.go).
func (c *sqliteCatalog) Collect(ctx context.Context, session string, candidates []string,
	remove func(ctx context.Context, ids []string) error) error {
	return collect(ctx, c.Update, session, candidates, remove)
}

// Lease records that session is about to use objects ids (see leases.go).
func (c *pgCatalog) Lease(ctx context.Context, session string, ids []string) error {
	return lease(ctx, c.Update, c.up.busyTimeout, session, ids)
}

// Collect removes garbage objects beside writers (see leases.go).
func (c *pgCatalog) Collect(ctx context.Context, session string, candidates []string,
	remove func(ctx context.Context, ids []string) error) error {
	return collect(ctx, c.Update, session, candidates, remove)
}
