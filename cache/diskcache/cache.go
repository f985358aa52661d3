package diskcache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"deltafs/internal/fault"
)

// Defaults of Options.
const (
	DefaultSize      = 10 << 30 // bytes of block files kept
	DefaultBlockSize = 4 << 20
	DefaultParallel  = 8 // blocks one ReadAt fetches at once
)

// Sentinel errors.
var (
	// ErrLocked: another process uses the cache directory.
	ErrLocked = fault.New("diskcache: cache directory in use by another process", fault.Busy)
	// ErrInvalid: a malformed object id, size or offset.
	ErrInvalid = errors.New("diskcache: invalid argument")
	// ErrClosed: the cache was closed.
	ErrClosed = errors.New("diskcache: cache closed")
)

// Options configure a Cache; zero values take the defaults.
type Options struct {
	Size      int64 // bound on the bytes of block files kept (DefaultSize)
	BlockSize int   // bytes per block (DefaultBlockSize); a change empties the cache
	Parallel  int   // blocks one ReadAt fetches at once (DefaultParallel)
	Logger    *slog.Logger
}

// FetchFunc fills p with the bytes of the object at off from the origin
// (len(p) bytes, all inside the object). It retries and times out by
// itself; the cache calls it with a context that the reader's cancellation
// does not reach, since other readers may wait for the same block.
type FetchFunc func(ctx context.Context, off int64, p []byte) error

// Stats counts what a Cache did since Open.
type Stats struct {
	Hits         int64 // blocks served from disk
	Misses       int64 // blocks fetched
	FetchedBytes int64 // bytes fetched
	Evictions    int64 // blocks evicted for the bound
	Corrupt      int64 // block files that failed their check (removed, fetched again)
	Bytes        int64 // bytes of block files held now
	Blocks       int64 // block files held now
}

// Cache is an on-disk block cache; safe for concurrent use.
type Cache struct {
	dir       string
	size      int64
	blockSize int
	parallel  int
	log       *slog.Logger
	lock      *os.File

	mu       sync.Mutex
	closed   bool
	lru      *list.List               // of *entry, most recent first
	index    map[string]*list.Element // block name to its element
	inflight map[string]*call
	stats    Stats
}

type entry struct {
	name string // "<id>.<index>"
	size int64  // file bytes
}

// call is one fetch of a block that several readers may wait for.
type call struct {
	done chan struct{}
	data []byte
	err  error
}

// Open opens (creating it if needed) the cache in dir and rebuilds its
// index from the block files there, least recently used last.
func Open(dir string, opts Options) (*Cache, error) {
	if opts.Size <= 0 {
		opts.Size = DefaultSize
	}
	if opts.BlockSize <= 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("diskcache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("diskcache: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("diskcache: lock %s: %w", dir, err)
	}
	c := &Cache{
		dir: dir, size: opts.Size, blockSize: opts.BlockSize, parallel: opts.Parallel,
		log: opts.Logger, lock: lock,
		lru: list.New(), index: map[string]*list.Element{}, inflight: map[string]*call{},
	}
	if err := c.load(); err != nil {
		lock.Close()
		return nil, err
	}
	c.mu.Lock()
	c.evictLocked()
	c.mu.Unlock()
	return c, nil
}

// Close releases the directory; reads after it fail with ErrClosed.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.lock.Close()
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// BlockSize returns the bytes per block.
func (c *Cache) BlockSize() int { return c.blockSize }

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Blocks = int64(len(c.index))
	return s
}

// ReadAt reads len(p) bytes at off of object id, size bytes long, from the
// blocks on disk, fetching the missing ones with fetch. It follows
// io.ReaderAt: fewer bytes than len(p) only at the end of the object, with
// io.EOF. An error of fetch comes back wrapped.
func (c *Cache) ReadAt(ctx context.Context, id string, size int64, p []byte, off int64, fetch FetchFunc) (int, error) {
	if !validID(id) || size < 0 || off < 0 {
		return 0, fmt.Errorf("%w: object %q, size %d, offset %d", ErrInvalid, id, size, off)
	}
	if off >= size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := len(p)
	if rest := size - off; int64(n) > rest {
		n = int(rest)
	}
	if n == 0 {
		return 0, nil
	}
	bs := int64(c.blockSize)
	first, last := off/bs, (off+int64(n)-1)/bs
	err := forEach(ctx, int(last-first+1), c.parallel, func(i int) error {
		idx := first + int64(i)
		start := idx * bs // object offset of the block
		lo, hi := max(off, start), min(off+int64(n), start+bs)
		return c.block(ctx, id, size, idx, lo-start, hi-start, p[lo-off:hi-off], fetch)
	})
	if err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Forget drops every cached block of object id, size bytes long (after
// the object was deleted from the origin).
func (c *Cache) Forget(id string, size int64) {
	if !validID(id) || size <= 0 {
		return
	}
	blocks := (size + int64(c.blockSize) - 1) / int64(c.blockSize)
	c.mu.Lock()
	defer c.mu.Unlock()
	for idx := range blocks {
		if el, ok := c.index[blockName(id, idx)]; ok {
			c.removeLocked(el)
		}
	}
}

// block copies bytes [lo, hi) of block idx of object id into dst: from
// disk when a valid file holds them, else from the block fetched (once,
// whoever else asks meanwhile) and written to disk.
func (c *Cache) block(ctx context.Context, id string, size, idx, lo, hi int64, dst []byte, fetch FetchFunc) error {
	name := blockName(id, idx)
	length := min(int64(c.blockSize), size-idx*int64(c.blockSize))
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if el, ok := c.index[name]; ok {
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		err := c.readRange(name, length, lo, hi, dst)
		if err == nil {
			c.mu.Lock()
			c.stats.Hits++
			c.mu.Unlock()
			return nil
		}
		c.mu.Lock()
		if errors.Is(err, errCorrupt) {
			c.stats.Corrupt++
			c.log.Warn("diskcache: corrupt block file removed, fetching it again", "file", c.path(name), "err", err)
		}
		if el, ok := c.index[name]; ok {
			c.removeLocked(el)
		}
	}
	cl, ok := c.inflight[name]
	if !ok {
		cl = &call{done: make(chan struct{})}
		c.inflight[name] = cl
		// The fetch goes on if this reader gives up: others may wait for it.
		go c.fetch(context.WithoutCancel(ctx), cl, id, name, idx, length, fetch)
	}
	c.mu.Unlock()
	data, err := cl.wait(ctx)
	if err != nil {
		return err
	}
	copy(dst, data[lo:hi])
	return nil
}

// fetch fetches block idx of object id for cl, keeps it on disk and hands
// it to cl's readers.
func (c *Cache) fetch(ctx context.Context, cl *call, id, name string, idx, length int64, fetch FetchFunc) {
	data := make([]byte, length)
	err := fetch(ctx, idx*int64(c.blockSize), data)
	if err != nil {
		cl.err = fmt.Errorf("diskcache: fetch block %d of %s: %w", idx, id, err)
	} else {
		cl.data = data
		c.store(name, data)
	}
	c.mu.Lock()
	delete(c.inflight, name)
	if err == nil {
		c.stats.Misses++
		c.stats.FetchedBytes += length
	}
	c.mu.Unlock()
	close(cl.done)
}

func (cl *call) wait(ctx context.Context) ([]byte, error) {
	select {
	case <-cl.done:
		return cl.data, cl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// store writes a fetched block to disk and indexes it; a failure to write
// (a full disk) is logged, the cache being an optimisation only.
func (c *Cache) store(name string, data []byte) {
	size, err := c.writeBlock(name, data)
	if err != nil {
		c.log.Warn("diskcache: cannot keep a block", "block", name, "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if el, ok := c.index[name]; ok { // written meanwhile by a fetch of the same block
		c.stats.Bytes -= el.Value.(*entry).size
		el.Value.(*entry).size = size
		c.stats.Bytes += size
		c.lru.MoveToFront(el)
	} else {
		c.index[name] = c.lru.PushFront(&entry{name: name, size: size})
		c.stats.Bytes += size
	}
	c.evictLocked()
}

// evictLocked removes least recently used blocks until the bound holds.
func (c *Cache) evictLocked() {
	for c.stats.Bytes > c.size {
		el := c.lru.Back()
		if el == nil {
			return
		}
		c.removeLocked(el)
		c.stats.Evictions++
	}
}

// removeLocked forgets a block and removes its file.
func (c *Cache) removeLocked(el *list.Element) {
	e := el.Value.(*entry)
	c.lru.Remove(el)
	delete(c.index, e.name)
	c.stats.Bytes -= e.size
	if err := os.Remove(c.path(e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("diskcache: cannot remove a block file", "file", c.path(e.name), "err", err)
	}
}

// forEach runs fn(0..n-1), up to par at once, and returns the first error;
// after an error (or ctx's end) it starts no more.
func forEach(ctx context.Context, n, par int, fn func(i int) error) error {
	if n == 1 {
		return fn(0)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, par)
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	}
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			fail(ctx.Err())
		}
		if failed() {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	return first
}

// touch marks a block file used now (its modification time orders the LRU
// list when the cache is opened again).
func touch(path string) {
	now := time.Now()
	_ = os.Chtimes(path, now, now)
}
