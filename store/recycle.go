package store

import (
	"sync"
	"sync/atomic"
	"testing"
)

// maxRecycledBytes bounds the decoded-chunk buffers kept for reuse.
const maxRecycledBytes = 16 << 20

// poisonRecycled makes recycled buffers carry a pattern until reused, so
// that a reader still using a buffer after its release would see wrong
// bytes in the tests, which compare everything they read.
var poisonRecycled = testing.Testing()

// chunkBufs keeps buffers of decoded chunks that the cache dropped and no
// reader holds (and those of the write check, verifyEncoded), for the next
// decode of a chunk of the same length: in a
// steady stream of reads through a full cache, decoding then allocates
// nothing, so the garbage collector (kept busy by the daemon's memory
// limit) and the kernel (faulting in fresh pages) have no work.
type chunkBufs struct {
	mu     sync.Mutex
	free   map[int][][]byte // by length
	bytes  int64
	reused atomic.Int64 // buffers get returned from free
}

// get returns a buffer of n bytes: a recycled one, or a new one. Its
// contents are undefined.
func (p *chunkBufs) get(n int64) []byte {
	p.mu.Lock()
	if list := p.free[int(n)]; len(list) > 0 {
		b := list[len(list)-1]
		p.free[int(n)] = list[:len(list)-1]
		p.bytes -= n
		p.mu.Unlock()
		p.reused.Add(1)
		return b
	}
	p.mu.Unlock()
	b := make([]byte, n)
	prefault(b)
	return b
}

// put keeps b for reuse while the pool is under its bound; the caller must
// not use b afterwards.
func (p *chunkBufs) put(b []byte) {
	n := int64(len(b))
	if n == 0 {
		return
	}
	if poisonRecycled {
		for i := 0; i < len(b); i += 512 {
			b[i] = 0xDB
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bytes+n > maxRecycledBytes {
		return // dropped for the garbage collector
	}
	if p.free == nil {
		p.free = make(map[int][][]byte)
	}
	p.free[int(n)] = append(p.free[int(n)], b)
	p.bytes += n
}
