package catalog

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps one prepared statement per query text, so that the hot
// queries are parsed once per connection rather than on every call
// (database/sql re-prepares a statement on each connection it runs on).
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool // being prepared in the background
	closed  bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// get returns the prepared statement for query, or nil: then the caller runs
// the query unprepared. Preparing takes a pooled connection, so inside a
// transaction (which already holds one) it is done in the background rather
// than waited for: a transaction never waits for a second connection.
func (c *stmtCache) get(query string, inTx bool) *sql.Stmt {
	c.mu.Lock()
	s, ok := c.stmts[query]
	if ok || c.closed || c.pending[query] {
		c.mu.Unlock()
		return s
	}
	c.pending[query] = true
	c.mu.Unlock()
	if inTx {
		go c.prepare(query)
		return nil
	}
	return c.prepare(query)
}

func (c *stmtCache) prepare(query string) *sql.Stmt {
	s, err := c.db.PrepareContext(context.Background(), query)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, query)
	if err != nil {
		return nil // not cached: the next call tries again
	}
	if c.closed {
		s.Close()
		return nil
	}
	c.stmts[query] = s
	return s
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, s := range c.stmts {
		s.Close()
	}
	c.stmts = nil
}

// stmt returns query prepared for this reader's transaction or database,
// or nil.
func (r reader) stmt(ctx context.Context, query string) *sql.Stmt {
	if r.stmts == nil {
		return nil
	}
	s := r.stmts.get(query, r.tx != nil)
	if s == nil || r.tx == nil {
		return s
	}
	return r.tx.StmtContext(ctx, s) // closed with the transaction
}

// sql is query as the driver reads it (its placeholders rebound).
func (r reader) sql(query string) string {
	if r.d.rebind == nil {
		return query
	}
	return r.d.rebind(query)
}

func (r reader) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	query = r.sql(query)
	if s := r.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return r.q.QueryRowContext(ctx, query, args...)
}

func (r reader) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = r.sql(query)
	if s := r.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return r.q.QueryContext(ctx, query, args...)
}

func (r reader) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = r.sql(query)
	if s := r.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return r.q.ExecContext(ctx, query, args...)
}
