package fusefs

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// readHandle is a file opened read-only: the store's lazily decoded file,
// opened once per handle.
type readHandle struct {
	node *fileNode
	r    contentReader
	path string
	ra   *readAhead // nil: no server-side read-ahead
}

var (
	_ fs.FileReader   = (*readHandle)(nil)
	_ fs.FileReleaser = (*readHandle)(nil)
)

// Read returns exactly the bytes asked for until the end of the file.
func (h *readHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	k, err := h.r.ReadAtContext(detach(ctx), dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.node.fsys.errno("read", h.path, err)
	}
	if h.ra != nil {
		h.ra.observe(off, k)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

// Release stops the read-ahead and closes the store file.
func (h *readHandle) Release(ctx context.Context) syscall.Errno {
	if h.ra != nil {
		h.ra.stop()
	}
	h.r.Close()
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
	h.markDirty()
	k, err := h.stage.writeAt(data, off)
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
		return n.fsys.errno("write staging", h.stage.f.Name(), err)
	}
	if !last {
		return 0
	}
	return n.commit(ctx, true)
}

// Fsync commits unsaved writes: a committed file is durable.
func (h *writeHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if err := h.stage.failure(); err != nil {
		return h.node.fsys.errno("write staging", h.stage.f.Name(), err)
	}
	return h.node.commit(ctx, false)
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
