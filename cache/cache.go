// Package cache is a byte-bounded LRU of byte slices that computes each key
// once, however many callers ask for it at the same time.
package cache

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Stats are the cache's counters.
type Stats struct {
	Hits       uint64 // Get calls answered from a stored value
	Misses     uint64 // Get calls that started a load
	Shared     uint64 // Get calls that waited for a load another caller started
	Evictions  uint64 // values dropped to stay under MaxBytes
	LoadErrors uint64 // loads that returned an error (never cached)
	Bytes      int64  // bytes of the values held now
	MaxBytes   int64  // the bound on Bytes
	Entries    int    // values held now
}

// Cache is a byte-bounded LRU. Values must be treated as read-only: every
// caller of Get for a key receives the same slice. Safe for concurrent use.
type Cache[K comparable] struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[K, []byte]
	inflight map[K]*call
	stats    Stats
}

// call is one load in progress; done is closed when val and err are set.
type call struct {
	done      chan struct{}
	val       []byte
	err       error
	forgotten bool // Remove was called during the load: do not keep the result
}

// New returns a cache holding at most maxBytes of values, counted as
// len(value) (so loaders should not return small slices of large arrays);
// maxBytes <= 0 keeps nothing but still shares in-flight loads.
func New[K comparable](maxBytes int64) *Cache[K] {
	c := &Cache[K]{inflight: make(map[K]*call)}
	c.stats.MaxBytes = max(maxBytes, 0)
	// The LRU is unbounded in count; the byte bound is enforced by add.
	lru, err := simplelru.NewLRU[K, []byte](math.MaxInt, c.onEvict)
	if err != nil {
		panic(fmt.Sprintf("cache: simplelru.NewLRU: %v", err)) // only for size <= 0
	}
	c.lru = lru
	return c
}

// onEvict keeps the byte count in step with every removal from the LRU. It
// runs with c.mu held (it is only called from inside LRU methods).
func (c *Cache[K]) onEvict(_ K, v []byte) {
	c.stats.Bytes -= int64(len(v))
}

// Get returns the value for key, calling load once if it is absent; callers
// asking for the same key meanwhile wait for that load. A caller whose ctx is
// cancelled returns ctx.Err() at once, but the load goes on for the others
// (load gets a context that is not cancelled with the caller's) and its
// result is still cached. A failed load is not cached: every caller waiting
// for it gets its error and the next Get loads again. A panic in load is
// returned to the waiters as an error.
func (c *Cache[K]) Get(ctx context.Context, key K, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if v, ok := c.lru.Get(key); ok {
		c.stats.Hits++
		c.mu.Unlock()
		return v, nil
	}
	cl, ok := c.inflight[key]
	if ok {
		c.stats.Shared++
	} else {
		c.stats.Misses++
		cl = &call{done: make(chan struct{})}
		c.inflight[key] = cl
		go c.run(context.WithoutCancel(ctx), key, cl, load)
	}
	c.mu.Unlock()

	select {
	case <-cl.done:
		return cl.val, cl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Peek returns the value stored for key, if any, without loading it,
// waiting for a load in progress, changing its recency or counting it in
// Stats.
func (c *Cache[K]) Peek(key K) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Peek(key)
}

// run performs one load and publishes its result to the waiters and, when it
// succeeded, to the LRU.
func (c *Cache[K]) run(ctx context.Context, key K, cl *call, load func(ctx context.Context) ([]byte, error)) {
	val, err := safeLoad(ctx, load)

	c.mu.Lock()
	delete(c.inflight, key)
	if err != nil {
		c.stats.LoadErrors++
	} else if !cl.forgotten {
		c.add(key, val)
	}
	cl.val, cl.err = val, err
	c.mu.Unlock()
	close(cl.done)
}

// safeLoad calls load, turning a panic into an error so that the waiters are
// released instead of blocking forever.
func safeLoad(ctx context.Context, load func(ctx context.Context) ([]byte, error)) (val []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			val, err = nil, fmt.Errorf("cache: load panicked: %v", r)
		}
	}()
	return load(ctx)
}

// add stores val under key, evicting the oldest values until the byte bound
// holds. A value larger than the whole cache is not kept. Requires c.mu.
func (c *Cache[K]) add(key K, val []byte) {
	size := int64(len(val))
	if size > c.stats.MaxBytes {
		c.lru.Remove(key) // a stale older value must not outlive this one
		return
	}
	if old, ok := c.lru.Peek(key); ok { // Add replaces without onEvict
		c.stats.Bytes -= int64(len(old))
	}
	c.lru.Add(key, val)
	c.stats.Bytes += size
	for c.stats.Bytes > c.stats.MaxBytes {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
		c.stats.Evictions++
	}
}

// Remove drops key. A load of key in progress still answers its waiters but
// its result is not kept.
func (c *Cache[K]) Remove(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(key)
	if cl, ok := c.inflight[key]; ok {
		cl.forgotten = true
	}
}

// Purge drops every value. Loads in progress still answer their waiters but
// their results are not kept.
func (c *Cache[K]) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Purge()
	for _, cl := range c.inflight {
		cl.forgotten = true
	}
}

// Stats returns a snapshot of the counters.
func (c *Cache[K]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = c.lru.Len()
	return s
}
