package fusefs

import (
	"context"
	"sync"
)

// Server-side read-ahead: when a handle is read sequentially, the next
// prefetchWindow bytes are decoded in the background, in prefetchStep
// pieces, so that the store's chunk cache holds them when the kernel asks.
// Decoding is the cost of a cold read; this overlaps it with the transfer
// of the previous bytes and spreads it over the cores.
const (
	prefetchWindow = 8 << 20
	prefetchStep   = 2 << 20
)

// prefetchEnabled turns the server-side read-ahead on (benchmarks compare).
var prefetchEnabled = true

var prefetchBufs = sync.Pool{New: func() any { b := make([]byte, prefetchStep); return &b }}

// readAhead tracks the sequential reads of one handle.
type readAhead struct {
	r      contentReader
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	next    int64 // offset a sequential read would start at
	ahead   int64 // bytes before this offset are decoded or being decoded
	running bool
}

func newReadAhead(r contentReader) *readAhead {
	if !prefetchEnabled {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &readAhead{r: r, ctx: ctx, cancel: cancel}
}

// observe records a read of n bytes at off and starts a prefetch when the
// reads are sequential and the decoded range is running short.
func (ra *readAhead) observe(off int64, n int) {
	end := off + int64(n)
	ra.mu.Lock()
	defer ra.mu.Unlock()
	sequential := off == ra.next || (off < ra.next && end > ra.next)
	ra.next = max(ra.next, end)
	if !sequential {
		ra.next = end
		ra.ahead = end
		return
	}
	size := ra.r.Size()
	if ra.running || ra.ahead >= size || ra.ahead-end >= prefetchWindow/2 {
		return
	}
	from := max(ra.ahead, end)
	to := min(size, end+prefetchWindow)
	if from >= to {
		return
	}
	ra.running = true
	ra.ahead = to
	ra.wg.Add(1)
	go ra.prefetch(from, to)
}

// prefetch decodes [from, to) into the store's cache, discarding the bytes.
func (ra *readAhead) prefetch(from, to int64) {
	defer ra.wg.Done()
	bp := prefetchBufs.Get().(*[]byte)
	defer prefetchBufs.Put(bp)
	for pos := from; pos < to && ra.ctx.Err() == nil; pos += prefetchStep {
		buf := (*bp)[:min(int64(prefetchStep), to-pos)]
		if _, err := ra.r.ReadAtContext(ra.ctx, buf, pos); err != nil {
			break // the reader's own request reports it
		}
	}
	ra.mu.Lock()
	ra.running = false
	ra.mu.Unlock()
}

// stop cancels a running prefetch and waits for it.
func (ra *readAhead) stop() {
	ra.cancel()
	ra.wg.Wait()
}
