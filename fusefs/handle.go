package fusefs

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// readHandle is a file opened read-only. It reads what its node holds:
// the store's lazily decoded file, or the staging file while the node is
// written through this mount; when the node changes (a write starts, a
// commit or a release ends it) the next read switches over, so a reader
// sees the file as it is, as POSIX has it.
type readHandle struct {
	node *fileNode
	mu   sync.RWMutex // reads hold it shared, a switch of src exclusively
	src  content
	ra   *readAhead // nil: no server-side read-ahead
}

var (
	_ fs.FileReader   = (*readHandle)(nil)
	_ fs.FileReleaser = (*readHandle)(nil)
)

// content is what a read handle reads.
type content struct {
	r      contentReader
	path   string // for errors: the store path, or the staging file's
	staged bool   // r reads the staging file
	gen    uint64 // the node's generation when r was opened
}

// openContent opens what the node holds now: its staging file while it is
// written, else the committed file.
func (n *fileNode) openContent(ctx context.Context) (content, syscall.Errno) {
	n.mu.Lock()
	gen, st, committed := n.gen.Load(), n.stage, n.committed
	if st != nil {
		// Opened under n.mu: the last writer's release removes it under
		// n.mu too.
		f, err := os.Open(st.f.Name())
		n.mu.Unlock()
		if err != nil {
			return content{}, n.fsys.errno("open staging", st.f.Name(), err)
		}
		return content{r: osReader{f}, path: st.f.Name(), staged: true, gen: gen}, 0
	}
	n.mu.Unlock()
	if !committed {
		return content{}, syscall.ENOENT
	}
	path, ok := nodePath(&n.Inode)
	if !ok {
		return content{}, syscall.ENOENT
	}
	r, err := n.fsys.backend.Open(detach(ctx), path)
	if err != nil {
		return content{}, n.fsys.errno("open", path, err)
	}
	return content{r: r, path: path, gen: gen}, 0
}

// newReadHandle returns a handle reading src.
func (n *fileNode) newReadHandle(src content) *readHandle {
	h := &readHandle{node: n}
	h.use(src)
	return h
}

// use makes src what h reads; the caller holds h.mu or owns h alone.
func (h *readHandle) use(src content) {
	h.src, h.ra = src, nil
	if !src.staged {
		h.ra = newReadAhead(src.r)
	}
}

// Read returns exactly the bytes asked for until the end of the file.
func (h *readHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.mu.RLock()
	if h.src.gen != h.node.gen.Load() {
		h.mu.RUnlock()
		h.follow(ctx)
		h.mu.RLock()
	}
	defer h.mu.RUnlock()
	k, err := h.src.r.ReadAtContext(detach(ctx), dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.node.fsys.errno("read", h.src.path, err)
	}
	if h.ra != nil {
		h.ra.observe(off, k)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

// follow switches h to what its node holds now. When that cannot be opened
// (the file was removed meanwhile) h keeps reading what it had.
func (h *readHandle) follow(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	gen := h.node.gen.Load()
	if h.src.gen == gen {
		return
	}
	src, errno := h.node.openContent(ctx)
	if errno != 0 {
		h.src.gen = gen
		return
	}
	h.close()
	h.use(src)
}

// close stops the read-ahead and closes what h reads; the caller holds
// h.mu.
func (h *readHandle) close() {
	if h.ra != nil {
		h.ra.stop()
	}
	h.src.r.Close()
}

// Release stops the read-ahead and closes the file.
func (h *readHandle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.close()
	return 0
}

// writeHandle is a file opened for writing; all its handles share the
// node's staging file.
type writeHandle struct {
	node   *fileNode
	stage  *stagingFile
	active bool // counted in node.active; guarded by node.mu
}

var (
	_ fs.FileReader    = (*writeHandle)(nil)
	_ fs.FileWriter    = (*writeHandle)(nil)
	_ fs.FileFlusher   = (*writeHandle)(nil)
	_ fs.FileFsyncer   = (*writeHandle)(nil)
	_ fs.FileReleaser  = (*writeHandle)(nil)
	_ fs.FileAllocater = (*writeHandle)(nil)
	_ fs.FileLseeker   = (*writeHandle)(nil)
)

// newWriteHandle returns a handle on st, which acquireStage returned, and
// counts it active until its first close.
func (n *fileNode) newWriteHandle(st *stagingFile) *writeHandle {
	h := &writeHandle{node: n, stage: st}
	n.mu.Lock()
	h.setActive(true)
	n.mu.Unlock()
	return h
}

// setActive counts h in node.active or not; the caller holds node.mu.
func (h *writeHandle) setActive(on bool) {
	if h.active == on {
		return
	}
	h.active = on
	if on {
		h.node.active++
	} else {
		h.node.active--
	}
}

// Read reads the staged content.
func (h *writeHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	k, err := h.stage.f.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.node.fsys.errno("read staging", h.stage.f.Name(), err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

// Write writes into the staging file. A failed write (a full disk) fails
// the file: it is not committed, and the later writes fail too.
func (h *writeHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if wb := h.node.fsys.wb; wb != nil {
		wb.noteWrite()
	}
	h.markDirty()
	k, err := h.stage.writeAt(data, off)
	// Again once written: a commit or write-back record made while this
	// write waited for the file cleared the mark without these bytes.
	h.markDirty()
	if err != nil {
		return uint32(k), h.node.fsys.errno("write staging", h.stage.f.Name(), err)
	}
	return uint32(k), 0
}

func (h *writeHandle) markDirty() {
	h.node.mu.Lock()
	h.stage.dirty = true
	h.stage.commitFailed = false
	h.setActive(true)
	h.node.mu.Unlock()
	h.stage.touch()
}

// Flush runs for every close() of a descriptor of this handle, and its
// error is what close() returns. The last close of the file (no other
// handle written to or opened since its own close) commits the unsaved
// writes; a file that lost a write reports that write's error.
func (h *writeHandle) Flush(ctx context.Context) syscall.Errno {
	n := h.node
	n.mu.Lock()
	h.setActive(false)
	last := n.active == 0
	n.mu.Unlock()
	if err := h.stage.failure(); err != nil {
		if last {
			// The file is lost: serve what the store keeps from now on,
			// not only once the kernel releases the handle.
			n.dropStage(h.stage, true)
		}
		return n.fsys.errno("write staging", h.stage.f.Name(), err)
	}
	if !last {
		return 0
	}
	return n.saveWrites(ctx, true)
}

// Fsync commits unsaved writes: a committed file is durable.
func (h *writeHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if err := h.stage.failure(); err != nil {
		return h.node.fsys.errno("write staging", h.stage.f.Name(), err)
	}
	return h.node.saveWrites(ctx, false)
}

// Release drops the handle; the last one commits what no close committed
// and removes the staging file.
func (h *writeHandle) Release(ctx context.Context) syscall.Errno {
	h.node.mu.Lock()
	h.setActive(false)
	h.node.mu.Unlock()
	h.node.releaseStage(ctx)
	return 0
}

// Allocate preallocates (or punches) space in the staging file.
func (h *writeHandle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	h.markDirty()
	if err := h.stage.allocate(int64(off), int64(size), mode); err != nil {
		return h.node.fsys.errno("fallocate", h.stage.f.Name(), err)
	}
	return 0
}

// Lseek finds data and holes in the staging file.
func (h *writeHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	n, err := unix.Seek(int(h.stage.f.Fd()), int64(off), int(whence))
	if err != nil {
		return 0, toErrno(h.node.fsys.log, "lseek", h.stage.f.Name(), err)
	}
	return uint64(n), 0
}
