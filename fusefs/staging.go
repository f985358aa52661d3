package fusefs

import (
	"context"
	"os"
	"sync"
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

	// gate orders changes of the file against commits: every change holds
	// it shared, a commit exclusively while it reads the file, so what a
	// commit reads is what hash has seen.
	gate sync.RWMutex
	hash *seqHasher
}

// newStagingFile creates an empty staging file in dir.
func newStagingFile(dir string) (*stagingFile, error) {
	f, err := os.CreateTemp(dir, "fuse-*.stage")
	if err != nil {
		return nil, err
	}
	return &stagingFile{f: f, mtime: time.Now(), hash: newSeqHasher(f)}, nil
}

func (s *stagingFile) touch() {
	s.mu.Lock()
	s.mtime = time.Now()
	s.mu.Unlock()
}

// writeAt writes data at off, keeping the content hash in step.
func (s *stagingFile) writeAt(data []byte, off int64) (int, error) {
	s.gate.RLock()
	defer s.gate.RUnlock()
	k, err := s.f.WriteAt(data, off)
	if err != nil {
		s.hash.invalidate()
		return k, err
	}
	s.hash.noteWrite(off, int64(k))
	return k, nil
}

// allocate preallocates (or punches) space; the content hash gives up.
func (s *stagingFile) allocate(off, size int64, mode uint32) error {
	s.gate.RLock()
	defer s.gate.RUnlock()
	s.hash.invalidate()
	return unix.Fallocate(int(s.f.Fd()), mode, off, size)
}

func (s *stagingFile) truncate(size int64) error {
	s.touch()
	s.gate.RLock()
	defer s.gate.RUnlock()
	if err := s.f.Truncate(size); err != nil {
		s.hash.invalidate()
		return err
	}
	s.hash.noteTruncate(size)
	return nil
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
	s.mu.Lock()
	mtime := s.mtime
	s.mu.Unlock()
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
