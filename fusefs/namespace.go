package fusefs

import (
	"context"
	"errors"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"deltafs/store"
)

const unixRenameNoreplace = unix.RENAME_NOREPLACE

// Mkdir creates a directory (a model, at the top level).
func (n *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if n.fsys.opts.ReadOnly {
		return nil, syscall.EROFS
	}
	dir, ok := n.path()
	if !ok {
		return nil, syscall.ENOENT
	}
	if n.pendingChild(name) != nil {
		return nil, syscall.EEXIST
	}
	path := joinPath(dir, name)
	owner, sgid := newOwner(ctx, n.lastInfo())
	if mode &= 07777; sgid {
		mode |= syscall.S_ISGID
	}
	if err := n.fsys.backend.MkdirWith(detach(ctx), path, store.MkdirOptions{Mode: mode, Owner: &owner}); err != nil {
		return nil, n.fsys.errno("mkdir", path, err)
	}
	if mode == 0 { // MkdirWith reads 0 as the default mode
		if err := n.fsys.backend.Chmod(detach(ctx), path, mode); err != nil {
			return nil, n.fsys.errno("mkdir", path, err)
		}
	}
	fi, err := n.fsys.backend.Stat(detach(ctx), path)
	if err != nil {
		return nil, n.fsys.errno("mkdir", path, err)
	}
	return n.fsys.newChild(ctx, &n.Inode, fi, out), 0
}

// Create makes a new file, pending until its first commit, written through
// a staging file.
func (n *dirNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if n.fsys.opts.ReadOnly {
		return nil, nil, 0, syscall.EROFS
	}
	if n.IsRoot() && name == statsName {
		return nil, nil, 0, syscall.EEXIST
	}
	if err := store.CheckNewName(name); err != nil {
		return nil, nil, 0, syscall.EINVAL
	}
	dir, ok := n.path()
	if !ok {
		return nil, nil, 0, syscall.ENOENT
	}
	path := joinPath(dir, name)
	node := &fileNode{fsys: n.fsys, mode: mode & 07777}
	// A pending file's owner is kept in info until its first commit.
	owner, _ := newOwner(ctx, n.lastInfo())
	node.info.UID, node.info.GID = owner.UID, owner.GID
	attr := fs.StableAttr{Mode: syscall.S_IFREG}
	if pending := n.pendingChild(name); pending != nil {
		if flags&syscall.O_EXCL != 0 {
			return nil, nil, 0, syscall.EEXIST
		}
		node = pending
	} else {
		fi, err := n.fsys.backend.Stat(detach(ctx), path)
		switch {
		case err == nil && fi.IsDir():
			return nil, nil, 0, syscall.EISDIR
		case err == nil && flags&syscall.O_EXCL != 0:
			return nil, nil, 0, syscall.EEXIST
		case err == nil:
			// The kernel's entry was stale or uncached: open the existing
			// file, whose mode O_CREAT does not change.
			node.committed, node.info, node.mode = true, fi, fi.Mode&07777
			attr.Ino = fi.Inode
		case !errors.Is(err, store.ErrNotFound):
			return nil, nil, 0, n.fsys.errno("create", path, err)
		}
	}
	child := n.NewInode(ctx, node, attr)
	fn := child.Operations().(*fileNode)
	st, errno := fn.acquireStage(ctx, flags&syscall.O_TRUNC != 0)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	var a fuse.AttrOut
	if errno := fn.Getattr(ctx, nil, &a); errno != 0 {
		fn.releaseStage(ctx)
		return nil, nil, 0, errno
	}
	out.Attr = a.Attr
	// Pending entries are not cached: the next lookup sees the commit.
	out.SetEntryTimeout(0)
	out.SetAttrTimeout(0)
	return child, fn.newWriteHandle(st), fn.fsys.writeOpenFlags(flags), 0
}

// Unlink removes a file; a file still being written loses its name and its
// writes are discarded when it is closed.
func (n *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	if n.IsRoot() && name == statsName {
		return syscall.EPERM
	}
	dir, ok := n.path()
	if !ok {
		return syscall.ENOENT
	}
	path := joinPath(dir, name)
	fn, _ := childOps[*fileNode](&n.Inode, name)
	if fn != nil {
		fn.commitMu.Lock()
		defer fn.commitMu.Unlock()
	}
	err := n.fsys.backend.Remove(detach(ctx), path)
	if err != nil && !(errors.Is(err, store.ErrNotFound) && fn != nil && fn.writing()) {
		return n.fsys.errno("unlink", path, err)
	}
	if fn != nil {
		fn.markUnlinked()
		fn.dropPendingLocked(ctx) // write-back: a removed file is not stored later
	}
	return 0
}

// Rmdir removes an empty directory.
func (n *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	dir, ok := n.path()
	if !ok {
		return syscall.ENOENT
	}
	if child, ok := childOps[*dirNode](&n.Inode, name); ok {
		for _, c := range child.Children() {
			if fn, ok := c.Operations().(*fileNode); ok && fn.writing() {
				return syscall.ENOTEMPTY
			}
		}
	}
	path := joinPath(dir, name)
	if err := n.fsys.backend.Remove(detach(ctx), path); err != nil {
		return n.fsys.errno("rmdir", path, err)
	}
	return 0
}

// Rename moves name to newName in newParent as rename(2) does. A file not
// yet committed is renamed in memory and committed at its new name.
func (n *dirNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	if flags&^uint32(unixRenameNoreplace) != 0 {
		return syscall.EINVAL // RENAME_EXCHANGE, RENAME_WHITEOUT
	}
	np, ok := newParent.(*dirNode)
	if !ok {
		return syscall.ENOTDIR
	}
	if (n.IsRoot() && name == statsName) || (np.IsRoot() && newName == statsName) {
		return syscall.EPERM
	}
	if err := store.CheckNewName(newName); err != nil {
		return syscall.EINVAL
	}
	dir, ok1 := n.path()
	newDir, ok2 := np.path()
	if !ok1 || !ok2 {
		return syscall.ENOENT
	}
	oldPath, newPath := joinPath(dir, name), joinPath(newDir, newName)

	src, _ := childOps[*fileNode](&n.Inode, name)
	dst, _ := childOps[*fileNode](&np.Inode, newName)
	if src != nil {
		src.commitMu.Lock()
		defer src.commitMu.Unlock()
	}
	if dst != nil && dst != src {
		dst.commitMu.Lock()
		defer dst.commitMu.Unlock()
	}
	dstInfo, statErr := n.fsys.backend.Stat(detach(ctx), newPath)
	dstExists := statErr == nil || (dst != nil && dst.writing())
	if flags&unixRenameNoreplace != 0 && dstExists {
		return syscall.EEXIST
	}

	srcPending := src != nil && src.writing() && !src.isCommitted()
	if srcPending {
		if statErr == nil && dstInfo.IsDir() {
			return syscall.EISDIR
		}
		// Only in memory so far: replace what is at the new name, and the
		// commit at close happens there. A write-back record moves and
		// replaces in one transaction; one stored just now is renamed.
		moved, errno := src.movePendingLocked(ctx, newPath)
		if errno != 0 {
			return errno
		}
		if !moved {
			err := n.fsys.backend.Rename(detach(ctx), oldPath, newPath)
			if errors.Is(err, store.ErrNotFound) { // not stored: only replace
				err = n.fsys.backend.Remove(detach(ctx), newPath)
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return n.fsys.errno("rename", newPath, err)
			}
		}
	} else if err := n.fsys.backend.Rename(detach(ctx), oldPath, newPath); err != nil {
		if !(errors.Is(err, store.ErrNotFound) && src != nil && src.writing()) {
			return n.fsys.errno("rename", oldPath, err)
		}
	}
	if dst != nil && dst != src {
		dst.markUnlinked()
		dst.dropPendingLocked(ctx)
	}
	return 0
}

// isCommitted reports whether the catalog has an entry for the node.
func (n *fileNode) isCommitted() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.committed
}
