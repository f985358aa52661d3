package fusefs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"deltafs/store"
)

// fileNode is a regular file: committed (it has a catalog entry), or
// pending (created through the mount and not yet committed), or both while
// it is open for writing (then its content lives in a staging file).
type fileNode struct {
	fs.Inode
	fsys *fsys

	commitMu sync.Mutex // serialises commits with renames and unlinks of this node

	mu        sync.Mutex
	committed bool           // the catalog has an entry for it
	unlinked  bool           // removed from the namespace; writes are discarded
	info      store.FileInfo // last known catalog description
	mode      uint32         // permission bits of a pending file
	stage     *stagingFile   // non-nil while open for writing
	writers   int            // open write handles (and in-flight truncates)
	// gen counts the changes of what the node's content is read from (a
	// staging file made or dropped); it changes under mu, and read handles
	// opened before a change reopen.
	gen atomic.Uint64
	// cachedGen is the gen of the content the kernel last opened with
	// FOPEN_KEEP_CACHE: an open of another one drops the kernel's pages.
	cachedGen atomic.Uint64
	// active counts the write handles opened or written to since their
	// last close: the close that brings it to zero is the last one, and
	// only it commits (an overwrite replaces the stored file then, not at
	// open or at another descriptor's close).
	active int
}

var (
	_ fs.NodeGetattrer     = (*fileNode)(nil)
	_ fs.NodeSetattrer     = (*fileNode)(nil)
	_ fs.NodeOpener        = (*fileNode)(nil)
	_ fs.NodeGetxattrer    = (*fileNode)(nil)
	_ fs.NodeListxattrer   = (*fileNode)(nil)
	_ fs.NodeSetxattrer    = (*fileNode)(nil)
	_ fs.NodeRemovexattrer = (*fileNode)(nil)
)

// refresh records a newer catalog description of a committed file.
func (n *fileNode) refresh(fi store.FileInfo) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.info = fi
	n.committed = true
}

// sameEntry reports whether fi describes the catalog entry this node
// committed or was looked up as.
func (n *fileNode) sameEntry(fi store.FileInfo) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.committed && !n.unlinked && !fi.IsDir() && fi.Inode != 0 && n.info.Inode == fi.Inode
}

// writing reports whether the node is pending or open for writing, in
// which case lookups must keep returning this very node.
func (n *fileNode) writing() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stage != nil || (!n.committed && !n.unlinked)
}

// markUnlinked records that the name of the node was removed.
func (n *fileNode) markUnlinked() {
	n.mu.Lock()
	n.unlinked = true
	n.mu.Unlock()
}

// Getattr answers from the staging file while the node is being written,
// else from the catalog, else (unlinked, still open) from the last known
// description.
func (n *fileNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	st, committed, unlinked, info, mode := n.stage, n.committed, n.unlinked, n.info, n.mode
	staged := st != nil && (st.dirty || !committed || st.pending.Load() != 0)
	n.mu.Unlock()
	if staged {
		errno := st.fillAttr(info, mode, &out.Attr, out)
		out.Attr.Ino = n.StableAttr().Ino
		return errno
	}
	if !committed && !unlinked {
		return syscall.ENOENT
	}
	path, ok := nodePath(&n.Inode)
	if ok && !unlinked {
		fi, err := n.fsys.backend.Stat(detach(ctx), path)
		switch {
		case err == nil && !fi.IsDir():
			n.refresh(fi)
			info = fi
		case errors.Is(err, store.ErrNotFound):
			// Gone from the catalog (removed outside this mount): answer
			// like an unlinked open file.
			unlinked = true
		case err != nil:
			return n.fsys.errno("getattr", path, err)
		}
	}
	fillAttr(info, &out.Attr)
	if unlinked {
		out.Attr.Nlink = 0
	}
	out.Attr.Ino = n.StableAttr().Ino
	out.SetTimeout(fileTimeout)
	return 0
}

// Open opens for reading (the committed content, or the staging file while
// the node is being written) or for writing (through a staging file).
func (n *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0
	if write {
		if n.fsys.opts.ReadOnly {
			return nil, 0, syscall.EROFS
		}
		st, errno := n.acquireStage(ctx, flags&syscall.O_TRUNC != 0)
		if errno != 0 {
			return nil, 0, errno
		}
		return n.newWriteHandle(st), n.fsys.writeOpenFlags(flags), 0
	}

	src, errno := n.openContent(ctx)
	if errno != 0 {
		return nil, 0, errno
	}
	if src.staged {
		return n.newReadHandle(src), 0, 0
	}
	// Committed files are immutable: keep the page cache across opens,
	// never direct I/O, so mmap works. The first open of other content
	// than the kernel cached (a commit, a dropped overwrite, a change
	// made elsewhere) drops the kernel's pages.
	if n.cachedGen.Swap(src.gen) != src.gen {
		return n.newReadHandle(src), 0, 0
	}
	return n.newReadHandle(src), fuse.FOPEN_KEEP_CACHE, 0
}

// Setattr truncates (through a staging file, committed at once unless the
// file is open for writing) and changes the mode, the owner and the
// modification time (the kernel has checked that the caller may): stored at
// once for a committed file, with the first commit for a pending one (and,
// for the time, with the commit of unsaved writes). The access time is not
// kept.
func (n *fileNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	size, setSize := in.GetSize()
	mode, setMode := in.GetMode()
	uid, setUID := in.GetUID()
	gid, setGID := in.GetGID()
	mtime, setMTime := in.GetMTime()
	if (setSize || setMode || setUID || setGID || setMTime) && n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	if setSize {
		if errno := n.truncate(ctx, int64(size), fh == nil); errno != 0 {
			return errno
		}
	}
	if setMode {
		if errno := n.chmod(ctx, mode&07777); errno != 0 {
			return errno
		}
	}
	if setUID || setGID {
		if errno := n.chown(ctx, uid, setUID, gid, setGID); errno != 0 {
			return errno
		}
	}
	if setMTime {
		if errno := n.setMTime(ctx, mtime); errno != 0 {
			return errno
		}
	}
	return n.Getattr(ctx, fh, out)
}

// chown sets the node's owner (uid, gid or both): in the catalog when the
// file is committed, and for its first commit when it is pending.
func (n *fileNode) chown(ctx context.Context, uid uint32, setUID bool, gid uint32, setGID bool) syscall.Errno {
	n.commitMu.Lock() // a commit in flight must not undo the change
	defer n.commitMu.Unlock()
	n.mu.Lock()
	if setUID {
		n.info.UID = uid
	}
	if setGID {
		n.info.GID = gid
	}
	o := store.Owner{UID: n.info.UID, GID: n.info.GID}
	committed := n.committed && !n.unlinked
	n.mu.Unlock()
	if !committed {
		return 0
	}
	_, errno := n.storeAttr(ctx, "chown", func(ctx context.Context, path string) error {
		return n.fsys.backend.Chown(ctx, path, o)
	})
	return errno
}

// storeAttr records an attribute change of the node in the catalog with
// set, at the node's current path, and reports whether it did: a node that
// lost its name has nothing to record.
func (n *fileNode) storeAttr(ctx context.Context, op string, set func(ctx context.Context, path string) error) (bool, syscall.Errno) {
	path, ok := nodePath(&n.Inode)
	if !ok {
		return false, 0
	}
	if err := set(detach(ctx), path); err != nil {
		return false, n.fsys.errno(op, path, err)
	}
	return true, 0
}

// setMTime sets the node's modification time: in the catalog when the file
// is committed with nothing unsaved, else with the commit that follows.
func (n *fileNode) setMTime(ctx context.Context, t time.Time) syscall.Errno {
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	n.mu.Lock()
	st := n.stage
	unsaved := st != nil && (st.dirty || !n.committed)
	committed := n.committed && !n.unlinked
	n.mu.Unlock()
	if st != nil {
		st.setMTime(t)
	}
	if unsaved || !committed {
		return 0
	}
	if stored, errno := n.storeAttr(ctx, "utimens", func(ctx context.Context, path string) error {
		return n.fsys.backend.Chtimes(ctx, path, t)
	}); !stored {
		return errno
	}
	n.mu.Lock()
	n.info.MTime = t
	n.mu.Unlock()
	return 0
}

// chmod sets the node's permission bits: in the catalog when the file is
// committed, and for its next commit.
func (n *fileNode) chmod(ctx context.Context, mode uint32) syscall.Errno {
	n.commitMu.Lock() // a commit in flight must not undo the change
	defer n.commitMu.Unlock()
	n.mu.Lock()
	n.mode = mode
	committed := n.committed && !n.unlinked
	n.mu.Unlock()
	if !committed {
		return 0
	}
	if stored, errno := n.storeAttr(ctx, "chmod", func(ctx context.Context, path string) error {
		return n.fsys.backend.Chmod(ctx, path, mode)
	}); !stored {
		return errno
	}
	n.mu.Lock()
	n.info.Mode = mode // n.mode 0 falls back to it
	n.mu.Unlock()
	return 0
}
