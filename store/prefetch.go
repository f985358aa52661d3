package store

import (
	"context"
	"runtime"
	"sync/atomic"
)

// Sequential read-ahead: when a file is read sequentially (each read
// starting where the previous one ended, as the kernel's read-ahead and
// cp do), the chunks just past the read are decoded in the background, so
// decoding overlaps with the reader consuming the bytes. A file stored in
// parts (safetensors) is read ahead the same way across its parts: a read
// near the end of one tensor reads ahead into the next.
const (
	// maxPrefetches bounds the read-aheads running at once (per store);
	// when all are busy, new ones are skipped, never queued.
	maxPrefetches = 4
)

// prefetchChunks is how many chunks past a sequential read are decoded
// ahead, in parallel: one per core and one more.
func prefetchChunks() int64 { return int64(runtime.GOMAXPROCS(0)) + 1 }

// prefetcher tracks where a file's last read ended and how far it was
// already read ahead (so a run of small reads asks the cache once). Both
// are offsets in the space of the file's read-ahead parts (aheadParts).
type prefetcher struct {
	lastEnd atomic.Int64
	next    atomic.Int64 // the read-ahead started covers the chunks before it
}

// aheadParts are the object-backed ranges a read-ahead of f walks: f's
// parts (file offsets), or its one object (offsets in its data section).
func (f *File) aheadParts() []filePart {
	if f.parts != nil {
		return f.parts
	}
	return []filePart{{off: 0, size: f.size - int64(len(f.header)), object: f.object}}
}

// noteRead records a read of [off, end) (offsets as aheadParts gives them)
// and starts a read-ahead when the read continued the previous one.
func (f *File) noteRead(off, end int64) {
	if (f.object == "" && f.parts == nil) || f.s.prefetchSem == nil {
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
		f.s.prefetch(f.aheadParts(), end, &f.pf.next)
	}()
}

// aheadChunk is one chunk of a read-ahead window: chunk i of h's object,
// starting at off.
type aheadChunk struct {
	h   *objectHandle
	i   int
	off int64
}

// prefetch decodes, into the cache, the prefetchChunks chunks at and past
// from, over parts (crossing into the next part when one ends), that start
// at or past *next, and moves *next to the window's end. Errors are left
// for the real read to meet and report.
func (s *Store) prefetch(parts []filePart, from int64, next *atomic.Int64) {
	ctx := context.Background()
	window, end, handles := s.aheadWindow(ctx, parts, from)
	defer func() {
		for _, h := range handles {
			s.release(h)
		}
	}()
	cur := next.Load()
	if cur > from && cur <= end { // continuing: skip what is read ahead
		for len(window) > 0 && window[0].off < cur {
			window = window[1:]
		}
	} // cur past the window: a new pass over the file starts afresh
	if len(window) == 0 || !next.CompareAndSwap(cur, end) {
		return
	}
	parallel(ctx, len(window), func(k int) error {
		c := window[k]
		_, release, err := s.chunk(ctx, c.h, c.i, 0, false)
		if err == nil {
			release()
		}
		return err
	})
}

// aheadWindow lists the prefetchChunks chunks of parts covering from and
// after it, and where the last of them ends; the caller releases the
// handles.
func (s *Store) aheadWindow(ctx context.Context, parts []filePart, from int64) ([]aheadChunk, int64, []*objectHandle) {
	var (
		window  []aheadChunk
		handles []*objectHandle
	)
	end := from
	budget := prefetchChunks()
	i := partAt(parts, from)
	for ; i < len(parts) && budget > 0; i++ {
		p := parts[i]
		h, err := s.acquire(ctx, p.object)
		if err != nil {
			break
		}
		handles = append(handles, h)
		hdr := h.obj.Header()
		if hdr.ChunkSize <= 0 {
			break
		}
		first := max(from-p.off, 0) / hdr.ChunkSize
		last := min(first+budget, int64(hdr.NumChunks))
		for c := first; c < last; c++ {
			window = append(window, aheadChunk{h: h, i: int(c), off: p.off + c*hdr.ChunkSize})
		}
		budget -= last - first
		end = p.off + min(last*hdr.ChunkSize, p.size)
	}
	return window, end, handles
}
