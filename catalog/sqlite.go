package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"modernc.org/sqlite"

	"deltafs/internal/durable"
)

// SQLite result codes the catalog branches on (primary codes: the low byte
// of an extended code).
const (
	sqliteBusy       = 5
	sqliteLocked     = 6
	sqliteFull       = 13 // SQLITE_FULL: the disk (or the database) is full
	sqliteNotADB     = 26
	sqliteConstraint = 19
	sqliteFKExtended = 787 // SQLITE_CONSTRAINT_FOREIGNKEY
)

// DefaultBusyTimeout is how long a writer waits for another writer (another
// process importing into the same store) before Update fails with ErrBusy.
const DefaultBusyTimeout = 30 * time.Second

// SQLiteOptions configure OpenSQLiteWith.
type SQLiteOptions struct {
	BusyTimeout time.Duration // 0: DefaultBusyTimeout
	Logger      *slog.Logger  // nil: silent
}

// sqliteCatalog is the embedded Catalog: one SQLite file in WAL mode.
type sqliteCatalog struct {
	reader
	db     *sql.DB
	log    *slog.Logger
	up     updater
	origin string // names this handle in the change log
}

// OpenSQLite opens (creating if needed) the SQLite catalog in file.
func OpenSQLite(file string) (Catalog, error) { return OpenSQLiteWith(file, SQLiteOptions{}) }

// OpenSQLiteWith opens (creating if needed) the SQLite catalog in file and
// brings its schema up to date. A catalog written by a newer deltafs fails
// with ErrNewerSchema, a file that is not a deltafs catalog with
// ErrNotCatalog.
//
// Durability: WAL journal with synchronous=FULL, so a transaction whose
// Update returned nil survives a process kill and a power cut.
func OpenSQLiteWith(file string, opts SQLiteOptions) (Catalog, error) {
	up := newUpdater(opts.BusyTimeout, opts.Logger)
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", file, err)
	}
	_, statErr := os.Stat(abs)
	db, err := sql.Open("sqlite", dsn(abs, opts.BusyTimeout))
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", file, err)
	}
	// A small pool: WAL lets readers run beside the one writer. Update's fn
	// must use its Tx, never the Catalog, or it may wait for a connection.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	stmts := newStmtCache(db)
	c := &sqliteCatalog{reader: reader{q: db, stmts: stmts, d: sqliteDialect}, db: db, log: up.log,
		up: up, origin: newOrigin()}
	if err := c.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open catalog %s: %w", file, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// A new catalog file: make its directory entry durable too.
		if err := durable.SyncDir(filepath.Dir(abs)); err != nil {
			c.Close()
			return nil, fmt.Errorf("open catalog %s: fsync directory: %w", file, err)
		}
	}
	return c, nil
}

// dsn is the driver's connection string: every connection gets the busy
// timeout first, then foreign keys, WAL and synchronous=FULL; transactions
// begin IMMEDIATE so that two writers queue on the busy timeout instead of
// failing to upgrade a read lock.
func dsn(abs string, busy time.Duration) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	return u.String() + "?" + q.Encode()
}

// migrate checks the catalog's identity and version and applies the missing
// migrations in one transaction. An up-to-date catalog is only read, so
// opening one for read-only work writes (and fsyncs) nothing.
func (c *sqliteCatalog) migrate(ctx context.Context) error {
	var appID0, version0 int
	if err := c.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID0); err == nil {
		if err := c.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version0); err == nil &&
			appID0 == applicationID && version0 == schemaVersion {
			return nil
		}
	}
	return c.Update(ctx, func(t Tx) error {
		tx := t.(*sqlTx)
		var appID, version int
		if err := tx.q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
			return mapErr("read application_id", err)
		}
		if err := tx.q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return mapErr("read user_version", err)
		}
		if appID != applicationID {
			var tables int
			if err := tx.q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
				return mapErr("read schema", err)
			}
			if appID != 0 || version != 0 || tables != 0 {
				return fmt.Errorf("%w: SQLite file of another application (application_id %#x)", ErrNotCatalog, appID)
			}
		}
		if version > schemaVersion {
			return fmt.Errorf("%w: schema version %d, this deltafs reads up to version %d; upgrade deltafs",
				ErrNewerSchema, version, schemaVersion)
		}
		for v := version; v < schemaVersion; v++ {
			if _, err := tx.q.ExecContext(ctx, migrations[v]); err != nil {
				return mapErr(fmt.Sprintf("migrate schema to version %d", v+1), err)
			}
			c.log.Info("catalog schema migrated", "version", v+1)
		}
		if _, err := tx.q.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
			return mapErr("set application_id", err)
		}
		if _, err := tx.q.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
			return mapErr("set user_version", err)
		}
		return nil
	})
}

// Close releases the catalog.
func (c *sqliteCatalog) Close() error {
	c.stmts.close()
	err := errors.Join(c.checkpoint(), c.db.Close())
	// database/sql may still be closing a connection its opener goroutine
	// was opening when Close was called; wait for it (briefly), so that the
	// last connection has closed, and SQLite removed its WAL files, when
	// Close returns.
	for deadline := time.Now().Add(2 * time.Second); c.db.Stats().OpenConnections > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return err
}

// checkpoint moves the WAL into the database file while this handle still
// owns its connections, rather than leaving it to whichever connection
// happens to close last (which left it behind now and then). It waits at
// most a second for another process's readers; with nothing in the WAL it
// writes nothing.
func (c *sqliteCatalog) checkpoint() error {
	ctx := context.Background()
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return mapErr("checkpoint", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 1000"); err != nil {
		return mapErr("checkpoint", err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return mapErr("checkpoint", err)
	}
	return nil
}

// Update runs fn in one BEGIN IMMEDIATE transaction, committed when fn
// returns nil and rolled back otherwise. While another writer holds the
// store it waits up to the busy timeout, then fails with ErrBusy; fn may be
// called again after a busy failure, so it must only act through tx.
func (c *sqliteCatalog) Update(ctx context.Context, fn func(tx Tx) error) error {
	// Writers of this process queue in Go, where waiting is fair and
	// cancellable; SQLite's busy handler (sleep and retry, no queue) is left
	// to arbitrate between processes only.
	return c.up.run(ctx, func() error { return c.updateOnce(ctx, fn) }, func(err error) (error, time.Duration) {
		if isBusy(err) {
			return ErrBusy, c.up.busyTimeout
		}
		return nil, 0
	})
}

func (c *sqliteCatalog) updateOnce(ctx context.Context, fn func(tx Tx) error) error {
	return inTx(ctx, c.db, c.reader, c.origin, nil, fn, func(err error) error { return mapErr("commit", err) })
}

// sqliteCode returns the extended SQLite result code in err's chain, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func isBusy(err error) bool {
	if errors.Is(err, ErrBusy) {
		return true
	}
	code := sqliteCode(err) & 0xff
	return code == sqliteBusy || code == sqliteLocked
}

// mapErr wraps a driver error with what the catalog was doing, mapping the
// codes callers branch on to sentinels.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	switch code := sqliteCode(err); {
	case code&0xff == sqliteBusy || code&0xff == sqliteLocked:
		return fmt.Errorf("%w: %s: %v", ErrBusy, op, err)
	case code&0xff == sqliteNotADB:
		return fmt.Errorf("%w: %s: %v", ErrNotCatalog, op, err)
	case code&0xff == sqliteFull:
		// Callers branch on a full disk whichever file filled it.
		return fmt.Errorf("catalog: %s: %w (%v)", op, syscall.ENOSPC, err)
	case code == sqliteFKExtended:
		return fmt.Errorf("%w: %s: %v", ErrDanglingRef, op, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("catalog: %s: %w", op, err)
	}
	if mapped := mapPgErr(op, err); mapped != nil {
		return mapped
	}
	return fmt.Errorf("catalog: %s: %w", op, err)
}
