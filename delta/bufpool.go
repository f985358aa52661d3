package delta

import "sync"

// Scratch buffers reused across chunks (word views, transforms, context
// classes), so steady-state encoding and decoding do not allocate per chunk.

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// getBuf returns a scratch buffer of length n with unspecified contents.
func getBuf(n int) *[]byte {
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	*bp = (*bp)[:n]
	return bp
}

// putBuf returns a buffer from getBuf (nil is ignored).
func putBuf(bp *[]byte) {
	if bp != nil {
		bufPool.Put(bp)
	}
}
