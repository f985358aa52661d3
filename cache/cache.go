// Package cache is a byte-bounded LRU of byte slices that computes each key
// once, however many callers ask for it at the same time.
//
// CONTRACT STUB: the signatures below are the agreed API; bodies are being
// implemented.
package cache

import (
	"context"
	"errors"
)

// Stats are the cache's counters.
type Stats struct {
	Hits, Misses, Evictions, LoadErrors uint64
	Bytes, MaxBytes                     int64
	Entries                             int
}

// Cache is a byte-bounded LRU. Values must be treated as read-only.
type Cache[K comparable] struct{}

// New returns a cache holding at most maxBytes of values.
func New[K comparable](maxBytes int64) *Cache[K] { return &Cache[K]{} }

// Get returns the value for key, calling load once if it is absent; callers
// asking for the same key meanwhile wait for that load. A caller whose ctx is
// cancelled returns ctx.Err() at once, but the load goes on for the others
// (load gets a context that is not cancelled with the caller's).
func (c *Cache[K]) Get(ctx context.Context, key K, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	return nil, errors.New("unimplemented")
}

// Remove drops key.
func (c *Cache[K]) Remove(key K) {}

// Stats returns a snapshot of the counters.
func (c *Cache[K]) Stats() Stats { return Stats{} }
