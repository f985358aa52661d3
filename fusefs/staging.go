package fusefs

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"deltafs/store"
)

// stagingFile is the local file a node is written through.
type stagingFile struct {
	f     *os.File
	mu    sync.Mutex
	dirty bool      // guarded by the node's mu
	mtime time.Time // guarded by mu
	// mtimeSet: mtime was set (utimens) after the last change, and the
	// commit keeps it; guarded by mu.
	mtimeSet bool

	// failed is the error of a write that failed (guarded by mu): the
	// file no longer holds what was written, so it is never committed.
	failed error
	// commitFailed records (guarded by the node's mu) that the last commit
	// failed and close() or fsync() reported it: a release does not try
	// again (on a full disk that would keep it full), a new write does.
	commitFailed bool

	// gate orders changes of the file against commits: every change holds
	// it shared, a commit exclusively while it reads the file, so what a
	// commit reads is what hash has seen.
	gate sync.RWMutex
	hash *seqHasher // nil: not hashed as written

	// writeOutEvery (0: never) and writtenOut: the write-out of
	// [0, writtenOut) was started (see stagingWriteOut) with writeOut.
	writeOutEvery int64
	writtenOut    atomic.Int64
	writeOut      func(off, n int64) error

	// Write-back: pending is the id of the file's pending record (0:
	// none; changed under the node's commitMu), busy is open while its
	// commit is queued or running (changes wait for it; set under gate
	// and busyMu, cleared under busyMu), tries counts failed commits
	// (guarded by commitMu).
	pending atomic.Int64
	busyMu  sync.Mutex
	busy    chan struct{}
	tries   int
}

// stagingWriteOut is how far the disk write of a write-back staging file
// trails its writes: each time the file's writes cross a multiple of it,
// the write-out of what lies below starts (sync_file_range), so that the
// fsync at close() finds little left to write.
const stagingWriteOut = 4 << 20

// newStagingFile makes the empty file f a staging file. A file for a
// write-back mount (writeBack) is fsynced at close() rather than read by a
// commit: its write-out to disk starts while it is written, and it is not
// hashed as it is written (the background commit hashes it as it reads
// it, off the writer's critical path).
func newStagingFile(f *os.File, writeBack bool) *stagingFile {
	st := &stagingFile{f: f, mtime: time.Now()}
	if writeBack {
		st.writeOutEvery = stagingWriteOut
		st.writeOut = func(off, n int64) error {
			return unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
		}
	} else {
		st.hash = newSeqHasher(f)
	}
	return st
}

// touch records a change of the content now.
func (s *stagingFile) touch() {
	s.mu.Lock()
	s.mtime, s.mtimeSet = time.Now(), false
	s.mu.Unlock()
}

// setMTime sets the modification time the file is committed with.
func (s *stagingFile) setMTime(t time.Time) {
	s.mu.Lock()
	s.mtime, s.mtimeSet = t, true
	s.mu.Unlock()
}

// commitMTime is the modification time to commit with: the one set since
// the last change, else zero (the time of the commit).
func (s *stagingFile) commitMTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mtimeSet {
		return s.mtime
	}
	return time.Time{}
}

// modTime is the time of the last change (or the one set since).
func (s *stagingFile) modTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mtime
}

// writeAt writes data at off, keeping the content hash in step. A failed
// write fails the file (see fail), and so does every write after it.
func (s *stagingFile) writeAt(data []byte, off int64) (int, error) {
	if err := s.failure(); err != nil {
		return 0, err
	}
	s.lockForChange()
	defer s.gate.RUnlock()
	k, err := s.f.WriteAt(data, off)
	if err != nil {
		s.fail(err)
		return k, err
	}
	s.hash.noteWrite(off, int64(k))
	s.startWriteOut(off + int64(k))
	return k, nil
}

// startWriteOut starts the disk write of the file below the last multiple
// of writeOutEvery under end, when a write up to end crossed one. It only
// starts it (SYNC_FILE_RANGE_WRITE does not wait for the disk, nor make
// anything durable: the fsync at close does); a failure is left to that
// fsync.
func (s *stagingFile) startWriteOut(end int64) {
	if s.writeOutEvery == 0 {
		return
	}
	to := end / s.writeOutEvery * s.writeOutEvery
	from := s.writtenOut.Load()
	if to <= from || !s.writtenOut.CompareAndSwap(from, to) {
		return
	}
	_ = s.writeOut(from, to-from)
}

// fail records that the file lost a write: it is never committed, and the
// disk space it holds is given back at once (a write that found the disk
// full must not keep it full for the files after it).
func (s *stagingFile) fail(err error) {
	s.mu.Lock()
	if s.failed == nil {
		s.failed = err
	}
	s.mu.Unlock()
	s.hash.invalidate()
	_ = s.f.Truncate(0) // the content is lost anyway
}

// failure is the error of the write that failed the file, or nil.
func (s *stagingFile) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// allocate preallocates (or punches) space; the content hash gives up.
func (s *stagingFile) allocate(off, size int64, mode uint32) error {
	s.lockForChange()
	defer s.gate.RUnlock()
	s.hash.invalidate()
	return unix.Fallocate(int(s.f.Fd()), mode, off, size)
}

func (s *stagingFile) truncate(size int64) error {
	s.touch()
	s.lockForChange()
	defer s.gate.RUnlock()
	if err := s.f.Truncate(size); err != nil {
		s.hash.invalidate()
		return err
	}
	s.hash.noteTruncate(size)
	if size < s.writtenOut.Load() {
		s.writtenOut.Store(size) // written again from there
	}
	return nil
}

// lockForChange takes gate shared once the file is not pending a commit
// (write-back keeps a pending file as it was closed until its commit).
func (s *stagingFile) lockForChange() {
	for {
		s.gate.RLock()
		s.busyMu.Lock()
		busy := s.busy
		s.busyMu.Unlock()
		if busy == nil {
			return
		}
		s.gate.RUnlock()
		<-busy
	}
}

// hold makes changes of the file wait until release; the caller holds
// gate exclusively.
func (s *stagingFile) hold() {
	s.busyMu.Lock()
	if s.busy == nil {
		s.busy = make(chan struct{})
	}
	s.busyMu.Unlock()
}

// release lets changes of the file go on after its commit (or after the
// commit was given up or the file removed).
func (s *stagingFile) release() {
	s.busyMu.Lock()
	if s.busy != nil {
		close(s.busy)
		s.busy = nil
	}
	s.busyMu.Unlock()
}

// contentSum returns the hash of the whole content when the file was
// written sequentially from its start, else nil. The caller holds gate
// exclusively.
func (s *stagingFile) contentSum() *store.ContentSum {
	return s.hash.sum()
}

// discard closes and removes the staging file.
func (s *stagingFile) discard() {
	s.hash.invalidate()
	s.f.Close()
	os.Remove(s.f.Name())
}

// fillAttr describes the file being written.
func (s *stagingFile) fillAttr(info store.FileInfo, mode uint32, a *fuse.Attr, out *fuse.AttrOut) syscall.Errno {
	st, err := s.f.Stat()
	if err != nil {
		return syscall.EIO
	}
	if mode == 0 {
		mode = 0644
	}
	mtime := s.modTime()
	info.Kind = 0
	info.Mode = mode
	info.Size = st.Size()
	info.MTime = mtime
	fillAttr(info, a)
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		a.Blocks = uint64(sys.Blocks)
	}
	out.SetTimeout(0)
	return 0
}

// osReader reads a local file as a contentReader.
type osReader struct{ f *os.File }

func (r osReader) Size() int64 {
	st, err := r.f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

func (r osReader) ReadAtContext(_ context.Context, p []byte, off int64) (int, error) {
	return r.f.ReadAt(p, off)
}

func (r osReader) Close() error { return r.f.Close() }
