package store

import (
	"context"
	"runtime"
	"sync/atomic"
)

// Sequential read-ahead: when a file is read sequentially (each read
// starting where the previous one ended, as the kernel's read-ahead and
// cp do), the chunks just past the read are decoded in the background, so
// decoding overlaps with the reader consuming the bytes.
const (
	// maxPrefetches bounds the read-aheads running at once (per store);
	// when all are busy, new ones are skipped, never queued.
	maxPrefetches = 4
)

// prefetchChunks is how many chunks past a sequential read are decoded
// ahead, in parallel: one per core and one more.
func prefetchChunks() int64 { return int64(runtime.GOMAXPROCS(0)) + 1 }

// prefetcher tracks where a file's last read ended and which chunks were
// already read ahead (so a run of small reads asks the cache once).
type prefetcher struct {
	lastEnd atomic.Int64
	next    atomic.Int64 // first chunk not yet read ahead
}

// noteRead records a read of the data section [off, end) of f's object and
// starts a read-ahead when the read continued the previous one.
func (f *File) noteRead(off, end int64) {
	if f.object == "" || f.s.prefetchSem == nil {
		return
	}
	if prev := f.pf.lastEnd.Swap(end); prev != off {
		return
	}
	select {
	case f.s.prefetchSem <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-f.s.prefetchSem }()
		f.s.prefetch(f.object, end, &f.pf.next)
	}()
}

// prefetch decodes, into the cache, the chunks of object id covering
// [from, from+prefetchChunks chunks) that are at or past *next, and moves
// *next past them. Errors are left for the real read to meet and report.
func (s *Store) prefetch(id string, from int64, next *atomic.Int64) {
	ctx := context.Background()
	h, err := s.acquire(ctx, id)
	if err != nil {
		return
	}
	defer s.release(h)
	hdr := h.obj.Header()
	if hdr.ChunkSize <= 0 || from < 0 || from >= hdr.RawSize {
		return
	}
	first := from / hdr.ChunkSize
	last := min(first+prefetchChunks(), int64(hdr.NumChunks))
	cur := next.Load()
	start := first
	if cur > first && cur <= last { // continuing: skip what is read ahead
		start = cur
	} // cur past the window: a new pass over the file starts afresh
	if start >= last || !next.CompareAndSwap(cur, last) {
		return
	}
	parallel(ctx, int(last-start), func(k int) error {
		_, release, err := s.chunk(ctx, h, int(start)+k, 0, false)
		if err == nil {
			release()
		}
		return err
	})
}
