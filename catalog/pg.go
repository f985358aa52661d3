package catalog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Defaults of PostgresOptions.
const (
	DefaultConnectTimeout   = 10 * time.Second // one attempt to connect
	DefaultStatementTimeout = time.Minute      // one statement, server side
	DefaultRetryTimeout     = 30 * time.Second // retrying a lost connection
	DefaultMaxConns         = 16
)

// pgWriteLock is the key of the transaction-scoped advisory lock every
// Update of the PostgreSQL catalog holds ("dlfscat1"): writers of all hosts
// take turns, as SQLite's writers do.
const pgWriteLock int64 = 0x646c6673_63617431

// PostgresOptions configure OpenPostgres. Zero values mean the defaults.
type PostgresOptions struct {
	Logger *slog.Logger // nil: silent
	// ConnectTimeout bounds one attempt to connect (DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// StatementTimeout bounds one statement on the server
	// (DefaultStatementTimeout); negative: no bound.
	StatementTimeout time.Duration
	// BusyTimeout is how long an Update waits for the write lock, which
	// another host's transaction holds, before failing with ErrBusy
	// (DefaultBusyTimeout).
	BusyTimeout time.Duration
	// RetryTimeout is how long a read or an Update is retried while the
	// server cannot be reached (restarting, failing over) before it fails
	// with ErrUnavailable (DefaultRetryTimeout).
	RetryTimeout time.Duration
	// MaxConns bounds the handle's connections (DefaultMaxConns).
	MaxConns int
}

// ErrUnavailable reports a catalog server that could not be reached for
// longer than the retry timeout, or a commit whose outcome is unknown
// because the connection was lost while committing.
var ErrUnavailable = errors.New("catalog: database unreachable")

// pgCatalog is the Catalog on a PostgreSQL database, shared by any number
// of hosts.
type pgCatalog struct {
	reader
	db           *sql.DB
	log          *slog.Logger
	up           updater
	origin       string
	retryTimeout time.Duration
}

// OpenPostgres opens the catalog in the PostgreSQL database at url (a
// postgres:// URL or a key=value connection string, as libpq reads them)
// and brings its schema up to date, creating it in an empty database. A
// catalog written by a newer deltafs fails with ErrNewerSchema, a database
// holding other tables with ErrNotCatalog.
//
// Credentials come from the URL and the environment (PGPASSWORD,
// ~/.pgpass, PGSSLMODE and the other libpq variables), never from us.
//
// Every Update is one READ COMMITTED transaction that first takes the
// catalog's write lock (a transaction-scoped advisory lock, waited for up
// to BusyTimeout), so that transactions of all hosts commit one at a time
// as SQLite's do; reads never wait. A lost connection (the server
// restarting) is retried for up to RetryTimeout: reads run again, and an
// Update runs fn again unless the connection was lost while committing
// (then it fails with ErrUnavailable: the commit may or may not have
// happened).
func OpenPostgres(ctx context.Context, url string, opts PostgresOptions) (Catalog, error) {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.StatementTimeout == 0 {
		opts.StatementTimeout = DefaultStatementTimeout
	}
	if opts.RetryTimeout <= 0 {
		opts.RetryTimeout = DefaultRetryTimeout
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	up := newUpdater(opts.BusyTimeout, opts.Logger)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err) // pgx leaves the password out
	}
	cfg.ConnectTimeout = opts.ConnectTimeout
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "deltafs"
	}
	if opts.StatementTimeout > 0 {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(min(4, opts.MaxConns))
	db.SetConnMaxIdleTime(5 * time.Minute)
	c := &pgCatalog{db: db, log: up.log, up: up, origin: newOrigin(), retryTimeout: opts.RetryTimeout}
	c.reader = reader{q: pgRetry{db: db, within: opts.RetryTimeout, log: up.log}, d: postgresDialect}
	where := cfg.Database
	if err := c.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open catalog %s: %w", where, err)
	}
	return c, nil
}

// Origin names this catalog handle in the change log.
func (c *pgCatalog) Origin() string { return c.origin }

// Close releases the handle's connections.
func (c *pgCatalog) Close() error { return c.db.Close() }

// migrate checks the catalog's version and applies the missing migrations
// in one transaction, under the write lock (two hosts opening a new
// catalog at once take turns). An up-to-date catalog is only read.
func (c *pgCatalog) migrate(ctx context.Context) error {
	var v sql.NullInt64
	// Through the retrying querier: a command started while the server
	// restarts waits for it, as every later query does.
	err := c.reader.q.QueryRowContext(ctx, `SELECT max(version) FROM deltafs_schema`).Scan(&v)
	if err == nil && v.Int64 == int64(pgSchemaVersion) {
		return nil
	}
	if err != nil && pgCode(err) != "42P01" { // undefined_table: a new database
		return mapErr("read the schema version", err)
	}
	return c.Update(ctx, func(t Tx) error {
		tx := t.(*sqlTx)
		var exists bool
		if err := tx.queryRow(ctx, `SELECT to_regclass('deltafs_schema') IS NOT NULL`).Scan(&exists); err != nil {
			return mapErr("read the schema version", err)
		}
		if !exists {
			var tables int
			if err := tx.queryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil {
				return mapErr("read the schema", err)
			}
			if tables > 0 {
				return fmt.Errorf("%w: the database holds %d tables of another application", ErrNotCatalog, tables)
			}
			if _, err := tx.exec(ctx, `CREATE TABLE deltafs_schema (
				version integer PRIMARY KEY,
				applied timestamptz NOT NULL DEFAULT now())`); err != nil {
				return mapErr("create the schema version table", err)
			}
		}
		var version int
		if err := tx.queryRow(ctx, `SELECT coalesce(max(version), 0) FROM deltafs_schema`).Scan(&version); err != nil {
			return mapErr("read the schema version", err)
		}
		if version > pgSchemaVersion {
			return fmt.Errorf("%w: schema version %d, this deltafs reads up to version %d; upgrade deltafs",
				ErrNewerSchema, version, pgSchemaVersion)
		}
		for v := version; v < pgSchemaVersion; v++ {
			if _, err := tx.tx.ExecContext(ctx, pgMigrations[v]); err != nil {
				return mapErr(fmt.Sprintf("migrate schema to version %d", v+1), err)
			}
			if _, err := tx.exec(ctx, `INSERT INTO deltafs_schema(version) VALUES (?)`, v+1); err != nil {
				return mapErr("record the schema version", err)
			}
			c.log.Info("catalog schema migrated", "version", v+1)
		}
		return nil
	})
}

// Update runs fn in one transaction holding the catalog's write lock,
// committed when fn returns nil. Waiting for the lock longer than the busy
// timeout fails with ErrBusy; a lost connection is retried (fn runs again)
// for up to the retry timeout, unless it was lost while committing.
func (c *pgCatalog) Update(ctx context.Context, fn func(tx Tx) error) error {
	return c.up.run(ctx, func() error { return c.updateOnce(ctx, fn) }, func(err error) (error, time.Duration) {
		var f finalError
		switch {
		case errors.As(err, &f):
			return nil, 0
		case isBusy(err):
			return ErrBusy, c.up.busyTimeout
		case errors.Is(err, ErrUnavailable), connLost(err):
			c.log.Warn("catalog connection lost, retrying the transaction", "err", err)
			return ErrUnavailable, c.retryTimeout
		}
		return nil, 0
	})
}

// finalError is a failure Update must not retry.
type finalError struct{ error }

func (f finalError) Unwrap() error { return f.error }

func (c *pgCatalog) updateOnce(ctx context.Context, fn func(tx Tx) error) error {
	return inTx(ctx, c.db, c.reader, c.origin, func(tx *sqlTx) error {
		_, err := tx.exec(ctx, `SELECT set_config('lock_timeout', ?, true), pg_advisory_xact_lock(?)`,
			strconv.FormatInt(max(c.up.busyTimeout.Milliseconds(), 1), 10), pgWriteLock)
		return mapErr("take the catalog's write lock", err)
	}, fn, func(err error) error {
		if connLost(err) && !pgconn.SafeToRetry(err) {
			return finalError{fmt.Errorf("%w: commit: connection lost, the outcome is unknown: %v", ErrUnavailable, err)}
		}
		return mapErr("commit", err)
	})
}

// pgRetry runs the reads of the catalog outside transactions, running a
// query again while the connection is lost (the server restarting), for
// up to within.
type pgRetry struct {
	db     *sql.DB
	within time.Duration
	log    *slog.Logger
}

func (p pgRetry) do(ctx context.Context, f func() error) {
	start := time.Now()
	backoff := 5 * time.Millisecond
	for {
		err := f()
		if !connLost(err) || ctx.Err() != nil || time.Since(start) > p.within {
			return
		}
		p.log.Warn("catalog connection lost, retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func (p pgRetry) QueryContext(ctx context.Context, query string, args ...any) (rows *sql.Rows, err error) {
	p.do(ctx, func() error {
		rows, err = p.db.QueryContext(ctx, query, args...)
		return err
	})
	return rows, err
}

func (p pgRetry) QueryRowContext(ctx context.Context, query string, args ...any) (row *sql.Row) {
	p.do(ctx, func() error {
		row = p.db.QueryRowContext(ctx, query, args...)
		return row.Err()
	})
	return row
}

// ExecContext runs a statement again only when it surely did not run.
func (p pgRetry) ExecContext(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	p.do(ctx, func() error {
		res, err = p.db.ExecContext(ctx, query, args...)
		if err != nil && !pgconn.SafeToRetry(err) && !errors.Is(err, driver.ErrBadConn) {
			return nil
		}
		return err
	})
	return res, err
}

// pgCode returns the SQLSTATE of a server error in err's chain, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// connLost reports whether err is a lost or refused connection to the
// server, as a restart causes, rather than an error of the statement.
func connLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if code := pgCode(err); code != "" {
		// connection_exception, admin_shutdown, crash_shutdown,
		// cannot_connect_now (starting up)
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err) || errors.As(err, &ce) ||
		errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, sql.ErrConnDone)
}

// mapPgErr maps a PostgreSQL failure to the catalog's sentinels, or
// returns nil when err is none the catalog branches on.
func mapPgErr(op string, err error) error {
	switch code := pgCode(err); {
	case code == "23503": // foreign_key_violation
		return fmt.Errorf("%w: %s: %v", ErrDanglingRef, op, err)
	case code == "55P03", code == "40001", code == "40P01": // lock_not_available, serialization_failure, deadlock_detected
		return fmt.Errorf("%w: %s: %v", ErrBusy, op, err)
	case code == "53100": // disk_full
		return fmt.Errorf("catalog: %s: %w (%v)", op, syscall.ENOSPC, err)
	case code == "22021", code == "22P05": // not valid in the database's encoding (paths must be UTF-8)
		return fmt.Errorf("%w: %s: %v", ErrInvalid, op, err)
	case code == "54000": // program_limit_exceeded: a key too long for an index
		return fmt.Errorf("%w: %s: %v", ErrInvalidPath, op, err)
	case connLost(err):
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
	}
	return nil
}
