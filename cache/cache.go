// Package cache is a byte-bounded LRU of byte slices that computes each key
// once, however many callers ask for it at the same time, and can hand the
// values it drops back for reuse once no caller holds them.
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
//
// A cache may hand the values it no longer needs back for reuse (OnFree).
// It does so only for values no caller holds: Acquire and Peek take a hold
// that the caller releases once done with the bytes; a value returned by
// Get is held for good, so it is never handed back.
type Cache[K comparable] struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[K, *entry]
	inflight map[K]*call
	stats    Stats
	free     func([]byte) // receives dropped values no caller holds (nil: none)
}

// entry is a value and the holds on it.
type entry struct {
	val     []byte
	holds   int  // callers holding val
	dropped bool // no longer in the LRU: free it once holds is 0
}

// call is one load in progress; done is closed once err, or entry on
// success, is set.
type call struct {
	done      chan struct{}
	err       error
	forgotten bool   // Remove was called during the load: do not keep the result
	waiters   int    // callers that will take a hold on the result
	finished  bool   // the result is published (entry set on success)
	entry     *entry // the result's entry, holding one hold per waiter
}

// New returns a cache holding at most maxBytes of values, counted as
// len(value) (so loaders should not return small slices of large arrays);
// maxBytes <= 0 keeps nothing but still shares in-flight loads.
func New[K comparable](maxBytes int64) *Cache[K] {
	c := &Cache[K]{inflight: make(map[K]*call)}
	c.stats.MaxBytes = max(maxBytes, 0)
	// The LRU is unbounded in count; the byte bound is enforced by add.
	lru, err := simplelru.NewLRU[K, *entry](math.MaxInt, c.onEvict)
	if err != nil {
		panic(fmt.Sprintf("cache: simplelru.NewLRU: %v", err)) // only for size <= 0
	}
	c.lru = lru
	return c
}

// OnFree makes the cache hand each value it drops (evicted, removed,
// replaced, or never kept) to free once no caller holds it, so that its
// buffer can be reused. Call it before the cache is used. free runs with
// the cache's lock held: it must be quick and must not call the cache.
func (c *Cache[K]) OnFree(free func([]byte)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.free = free
}

// onEvict keeps the byte count in step with every removal from the LRU. It
// runs with c.mu held (it is only called from inside LRU methods).
func (c *Cache[K]) onEvict(_ K, e *entry) {
	c.stats.Bytes -= int64(len(e.val))
	c.dropLocked(e)
}

// dropLocked marks e as out of the LRU and frees it if no one holds it.
// Requires c.mu.
func (c *Cache[K]) dropLocked(e *entry) {
	e.dropped = true
	if e.holds == 0 && c.free != nil {
		c.free(e.val)
	}
}

// releaseLocked ends one hold on e. Requires c.mu.
func (c *Cache[K]) releaseLocked(e *entry) {
	e.holds--
	if e.holds < 0 {
		panic("cache: value released more often than held")
	}
	if e.holds == 0 && e.dropped && c.free != nil {
		c.free(e.val)
	}
}

// releaser returns the function that ends one hold on e, once.
func (c *Cache[K]) releaser(e *entry) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.releaseLocked(e)
			c.mu.Unlock()
		})
	}
}

// Get returns the value for key, calling load once if it is absent; callers
// asking for the same key meanwhile wait for that load. A caller whose ctx is
// cancelled returns ctx.Err() at once, but the load goes on for the others
// (load gets a context that is not cancelled with the caller's) and its
// result is still cached. A failed load is not cached: every caller waiting
// for it gets its error and the next Get loads again. A panic in load is
// returned to the waiters as an error. The value is the caller's to keep:
// it is never handed to OnFree's function.
func (c *Cache[K]) Get(ctx context.Context, key K, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	val, _, err := c.Acquire(ctx, key, load) // never released: held for good
	return val, err
}

// Acquire is Get with a hold on the value: the caller must call release
// once it no longer reads the bytes (release may be called more than
// once; only the first call counts). Until then the value is not reused
// even if the cache drops it. On error release is nil.
func (c *Cache[K]) Acquire(ctx context.Context, key K, load func(ctx context.Context) ([]byte, error)) (val []byte, release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	if e, ok := c.lru.Get(key); ok {
		c.stats.Hits++
		e.holds++
		c.mu.Unlock()
		return e.val, c.releaser(e), nil
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
	cl.waiters++
	c.mu.Unlock()

	select {
	case <-cl.done:
		if cl.err != nil {
			return nil, nil, cl.err
		}
		return cl.entry.val, c.releaser(cl.entry), nil
	case <-ctx.Done():
		c.mu.Lock()
		if !cl.finished {
			cl.waiters--
		} else if cl.entry != nil {
			c.releaseLocked(cl.entry) // the hold taken for this caller
		}
		c.mu.Unlock()
		return nil, nil, ctx.Err()
	}
}

// Peek returns the value stored for key, if any, with a hold on it as
// Acquire gives, without loading it, waiting for a load in progress,
// changing its recency or counting it in Stats.
func (c *Cache[K]) Peek(key K) (val []byte, release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Peek(key)
	if !ok {
		return nil, nil, false
	}
	e.holds++
	return e.val, c.releaser(e), true
}

// run performs one load and publishes its result to the waiters and, when it
// succeeded, to the LRU.
func (c *Cache[K]) run(ctx context.Context, key K, cl *call, load func(ctx context.Context) ([]byte, error)) {
	val, err := safeLoad(ctx, load)

	c.mu.Lock()
	delete(c.inflight, key)
	cl.err, cl.finished = err, true
	if err != nil {
		c.stats.LoadErrors++
	} else {
		// One hold for every waiter, each released by its caller (or at
		// once by a waiter that gave up).
		e := &entry{val: val, holds: cl.waiters}
		cl.entry = e
		if cl.forgotten || !c.add(key, e) {
			c.dropLocked(e)
		}
	}
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

// add stores e under key, evicting the oldest values until the byte bound
// holds, and reports whether it kept e: a value larger than the whole
// cache is not kept. Requires c.mu.
func (c *Cache[K]) add(key K, e *entry) bool {
	size := int64(len(e.val))
	if size > c.stats.MaxBytes {
		c.lru.Remove(key) // a stale older value must not outlive this one
		return false
	}
	if old, ok := c.lru.Peek(key); ok { // Add replaces without onEvict
		c.stats.Bytes -= int64(len(old.val))
		c.dropLocked(old)
	}
	c.lru.Add(key, e)
	c.stats.Bytes += size
	for c.stats.Bytes > c.stats.MaxBytes {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
		c.stats.Evictions++
	}
	return true
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
