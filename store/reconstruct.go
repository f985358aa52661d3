package store

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// chunkKey names one reconstructed chunk in the cache. Objects are
// immutable and content-addressed, so a key never goes stale.
type chunkKey struct {
	object string
	chunk  int
}

// maxReferenceDepth bounds the recursion through references when reading;
// it is far above any chain Ingest builds and only stops a corrupt catalog
// whose references loop.
const maxReferenceDepth = 64

// readOptions tune one reconstruction.
type readOptions struct {
	bypassCache bool // decode the top object's chunks afresh (Verify)
	// direct decodes each of the top object's chunks that dst covers
	// whole straight into dst, taking it from the cache only when the
	// cache holds it already and adding nothing to the cache: for data
	// read once and whole (an ingest's reference), which would otherwise
	// push out what readers use.
	direct bool
}

// readObject fills dst with the reconstructed bytes of object id starting
// at off. The whole range must lie inside the object's data.
func (s *Store) readObject(ctx context.Context, id string, off int64, dst []byte, depth int, ro readOptions) error {
	if depth > maxReferenceDepth {
		return corruptError(id, fmt.Errorf("references nest deeper than %d (a loop?)", maxReferenceDepth))
	}
	h, err := s.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer s.release(h)
	hdr := h.obj.Header()
	end := off + int64(len(dst))
	if off < 0 || end < off || end > hdr.RawSize {
		return corruptError(id, fmt.Errorf("range %d+%d outside the object's %d bytes", off, len(dst), hdr.RawSize))
	}
	if len(dst) == 0 {
		return nil
	}
	if hdr.ChunkSize <= 0 {
		return corruptError(id, fmt.Errorf("chunk size %d", hdr.ChunkSize))
	}
	first := int(off / hdr.ChunkSize)
	last := int((end - 1) / hdr.ChunkSize)
	if last >= hdr.NumChunks {
		return corruptError(id, fmt.Errorf("chunk %d out of %d", last, hdr.NumChunks))
	}
	return parallel(ctx, last-first+1, func(k int) error {
		i := first + k
		cOff, cLen := h.obj.ChunkRange(i)
		if ro.direct && cOff >= off && cOff+cLen <= end {
			whole := dst[cOff-off : cOff-off+cLen]
			if data, release, ok := s.chunks.Peek(chunkKey{h.id, i}); ok {
				n := copy(whole, data)
				release()
				if int64(n) == cLen {
					return nil
				}
			}
			return s.decodeChunkInto(ctx, h, i, depth, whole)
		}
		data, release, err := s.chunk(ctx, h, i, depth, ro.bypassCache)
		if err != nil {
			return err
		}
		defer release()
		if int64(len(data)) != cLen {
			return corruptError(id, fmt.Errorf("chunk %d decoded to %d bytes, want %d", i, len(data), cLen))
		}
		// Copy the overlap of [cOff, cOff+cLen) and [off, end).
		lo, hi := max(cOff, off), min(cOff+cLen, end)
		copy(dst[lo-off:hi-off], data[lo-cOff:hi-cOff])
		return nil
	})
}

// chunk returns chunk i of h's object, from the cache or decoded once, and
// the function the caller must call once it no longer reads the bytes (the
// buffer may then be reused).
func (s *Store) chunk(ctx context.Context, h *objectHandle, i, depth int, bypassCache bool) ([]byte, func(), error) {
	load := func(ctx context.Context) ([]byte, error) { return s.decodeChunk(ctx, h, i, depth) }
	if bypassCache {
		data, err := load(ctx)
		if err != nil {
			return nil, nil, err
		}
		return data, func() { s.bufs.put(data) }, nil
	}
	return s.chunks.Acquire(ctx, chunkKey{h.id, i}, load)
}

// decodeChunk reconstructs chunk i of h's object into a buffer of its own.
func (s *Store) decodeChunk(ctx context.Context, h *objectHandle, i, depth int) ([]byte, error) {
	_, n := h.obj.ChunkRange(i)
	if n < 0 {
		return nil, corruptError(h.id, fmt.Errorf("chunk %d has length %d", i, n))
	}
	dst := s.bufs.get(n)
	if err := s.decodeChunkInto(ctx, h, i, depth, dst); err != nil {
		s.bufs.put(dst)
		return nil, err
	}
	return dst, nil
}

// decodeChunkInto reconstructs chunk i of h's object into dst (exactly the
// chunk's length), reading the reference's bytes of the same range through
// the cache when the chunk needs them. On error dst holds no meaningful
// bytes.
func (s *Store) decodeChunkInto(ctx context.Context, h *objectHandle, i, depth int, dst []byte) error {
	off, n := h.obj.ChunkRange(i)
	if int64(len(dst)) != n {
		return fmt.Errorf("chunk %d of object %s: buffer of %d bytes for %d", i, shortID(h.id), len(dst), n)
	}
	var ref []byte
	if h.obj.ChunkUsesReference(i) {
		if h.rec.Ref == "" {
			return corruptError(h.id, fmt.Errorf("chunk %d needs a reference the catalog does not record", i))
		}
		var (
			release func()
			err     error
		)
		if ref, release, err = s.referenceRange(ctx, h.rec.Ref, off, n, depth+1); err != nil {
			return fmt.Errorf("reference of object %s: %w", shortID(h.id), err)
		}
		defer release()
	}
	start := time.Now()
	if err := h.obj.DecodeChunk(i, ref, dst); err != nil {
		return corruptError(h.id, fmt.Errorf("chunk %d: %w", i, err))
	}
	s.decodeNanos.Add(int64(time.Since(start)))
	s.chunksDecoded.Add(1)
	s.bytesDecoded.Add(n)
	return nil
}

// referenceRange returns the reconstructed bytes [off, off+n) of object id
// for use as a reference, and the function to call once they are no longer
// read. When the range is exactly one chunk of id (the usual case: a delta
// and its base share the chunk size) it is the cached chunk itself, without
// a copy; DecodeChunk only reads its reference
// (TestDecodeChunkLeavesReferenceAlone guards that).
func (s *Store) referenceRange(ctx context.Context, id string, off, n int64, depth int) ([]byte, func(), error) {
	if depth > maxReferenceDepth {
		return nil, nil, corruptError(id, fmt.Errorf("references nest deeper than %d (a loop?)", maxReferenceDepth))
	}
	h, err := s.acquire(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	hdr := h.obj.Header()
	if hdr.ChunkSize > 0 && off >= 0 && off%hdr.ChunkSize == 0 && off/hdr.ChunkSize < int64(hdr.NumChunks) {
		i := int(off / hdr.ChunkSize)
		if cOff, cLen := h.obj.ChunkRange(i); cOff == off && cLen == n {
			data, release, err := s.chunk(ctx, h, i, depth, false)
			s.release(h)
			if err == nil && int64(len(data)) != n {
				release()
				err = corruptError(id, fmt.Errorf("chunk %d decoded to %d bytes, want %d", i, len(data), n))
			}
			if err != nil {
				return nil, nil, err
			}
			return data, release, nil
		}
	}
	s.release(h)
	buf := make([]byte, n)
	if err := s.readObject(ctx, id, off, buf, depth, readOptions{}); err != nil {
		return nil, nil, err
	}
	return buf, func() {}, nil
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines and returns the
// first error; the rest are skipped once one fails or ctx is done. n == 1
// runs inline.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	return parallelN(ctx, n, runtime.GOMAXPROCS(0), fn)
}

// parallelN is parallel with at most limit goroutines.
func parallelN(ctx context.Context, n, limit int, fn func(i int) error) error {
	if n == 1 {
		return fn(0)
	}
	workers := min(n, max(limit, 1))
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		failed  atomic.Bool
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := ctx.Err()
				if err == nil {
					err = fn(i)
				}
				if err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
