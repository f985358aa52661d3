package fusefs

import (
	"errors"
	"io"
	"os"
	"sync"

	"deltafs/store"
)

// seqHashPiece is how much the background hasher reads back at once.
const seqHashPiece = 1 << 20

var seqHashBufs = sync.Pool{New: func() any { b := make([]byte, seqHashPiece); return &b }}

// seqHasher computes the content hash the store needs (store.ContentHasher)
// in the background while a staging file is written sequentially from its
// start, as cp, rsync and np.save write, so that close() need not hash the
// file again. A goroutine reads back what was appended and hashes it, on
// the core the writer leaves idle. A write anywhere but at the end, a
// truncate to another size than 0 or the current one, fallocate, or an I/O
// error makes it give up for good (until a truncate to 0); the store then
// hashes the file itself. A nil *seqHasher hashes nothing.
type seqHasher struct {
	f *os.File

	mu      sync.Mutex
	stopped *sync.Cond // broadcast when the goroutine stops
	valid   bool
	end     int64                // the file is [0, end) as far as the hash knows
	h       *store.ContentHasher // owned by the goroutine while running
	gen     int                  // bumped when the hash restarts or gives up
	running bool
}

// newSeqHasher starts hashing the empty file f.
func newSeqHasher(f *os.File) *seqHasher {
	s := &seqHasher{f: f, valid: true, h: new(store.ContentHasher)}
	s.stopped = sync.NewCond(&s.mu)
	return s
}

// noteWrite records that n bytes were written at off.
func (s *seqHasher) noteWrite(off, n int64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.valid || n == 0 {
		return
	}
	if off != s.end {
		s.giveUpLocked()
		return
	}
	s.end += n
	if !s.running {
		s.running = true
		go s.run(s.gen, s.h)
	}
}

// noteTruncate records a truncate to size: to 0 the hash starts afresh, to
// the current size nothing changes, to any other size it gives up.
func (s *seqHasher) noteTruncate(size int64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case size == 0:
		s.gen++
		s.waitLocked()
		s.valid, s.end, s.h = true, 0, new(store.ContentHasher)
	case !s.valid || size == s.end:
	default:
		s.giveUpLocked()
	}
}

// invalidate gives up hashing and waits for the goroutine to stop.
func (s *seqHasher) invalidate() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.giveUpLocked()
	s.waitLocked()
}

// giveUpLocked gives up; the goroutine stops at its next step. s.mu is held.
func (s *seqHasher) giveUpLocked() {
	s.valid = false
	s.gen++
}

// waitLocked waits for the goroutine to stop. s.mu is held.
func (s *seqHasher) waitLocked() {
	for s.running {
		s.stopped.Wait()
	}
}

// sum waits for the goroutine to hash everything written and returns the
// hash, or nil when it gave up. No write may run meanwhile.
func (s *seqHasher) sum() *store.ContentSum {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waitLocked()
	if !s.valid || s.h.Size() != s.end {
		return nil
	}
	cs := s.h.Sum()
	return &cs
}

// run reads back and hashes [h.Size(), end) until it catches up with the
// writes or generation gen ends.
func (s *seqHasher) run(gen int, h *store.ContentHasher) {
	bp := seqHashBufs.Get().(*[]byte)
	defer seqHashBufs.Put(bp)
	for {
		s.mu.Lock()
		from := h.Size()
		if gen != s.gen || from >= s.end {
			s.running = false
			s.stopped.Broadcast()
			s.mu.Unlock()
			return
		}
		buf := (*bp)[:min(s.end-from, seqHashPiece)]
		s.mu.Unlock()
		k, err := s.f.ReadAt(buf, from)
		if err != nil && !(errors.Is(err, io.EOF) && k == len(buf)) {
			s.mu.Lock()
			if gen == s.gen {
				s.giveUpLocked()
			}
			s.mu.Unlock()
			continue
		}
		h.Write(buf) // only this goroutine touches h while running
	}
}
