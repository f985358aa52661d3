package fusefs

import (
	"context"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"deltafs/store"
)

// fsys is the state shared by every node of one mount.
type fsys struct {
	backend Backend
	log     *slog.Logger
	opts    MountOptions
	root    *dirNode
}

// detach keeps the request's values but not its cancellation: the kernel
// interrupts a request for any signal the caller receives (Go programs get
// SIGURG all the time), and an interrupted decode or commit would surface as
// EINTR from close() or as SIGBUS in an mmap fault.
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// errno maps err for operation op on path, logging unexpected errors.
func (f *fsys) errno(op, path string, err error) syscall.Errno {
	return toErrno(f.log, op, path, err)
}

// nodePath is the store path of in, or ok=false when it was unlinked (it
// no longer hangs from the root).
func nodePath(in *fs.Inode) (path string, ok bool) {
	var segs []string
	for p := in; !p.IsRoot(); {
		name, parent := p.Parent()
		if parent == nil {
			return "", false
		}
		segs = append(segs, name)
		p = parent
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return strings.Join(segs, "/"), true
}

// joinPath is the path of name inside dir ("" is the root).
func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// defaultDirMode is the mode the store gives a new directory.
const defaultDirMode = 0o755

// fillAttr describes fi to the kernel: the logical size, st_blocks counting
// the stored bytes (so du shows the real footprint) and the catalog's
// stable inode number.
func fillAttr(fi store.FileInfo, a *fuse.Attr) {
	a.Ino = fi.Inode
	mode := fi.Mode & 07777
	if fi.IsDir() {
		a.Mode = syscall.S_IFDIR | mode
		a.Nlink = 2
		a.Size = 4096
		a.Blocks = 8
	} else {
		a.Mode = syscall.S_IFREG | mode
		a.Nlink = 1
		a.Size = uint64(max(fi.Size, 0))
		a.Blocks = uint64(max(fi.StoredSize, 0)+511) / 512
	}
	a.Blksize = maxWrite
	setTimes(a, fi.MTime)
}

// setTimes sets mtime, ctime and atime to t.
func setTimes(a *fuse.Attr, t time.Time) {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	a.SetTimes(&t, &t, &t)
}

// stableAttr is the go-fuse identity of fi.
func stableAttr(fi store.FileInfo) fs.StableAttr {
	if fi.IsDir() {
		return fs.StableAttr{Mode: syscall.S_IFDIR, Ino: fi.Inode}
	}
	return fs.StableAttr{Mode: syscall.S_IFREG, Ino: fi.Inode}
}

// newChild makes the node for fi below parent and fills out.
func (f *fsys) newChild(ctx context.Context, parent *fs.Inode, fi store.FileInfo, out *fuse.EntryOut) *fs.Inode {
	var ops fs.InodeEmbedder
	if fi.IsDir() {
		ops = &dirNode{fsys: f, info: fi}
	} else {
		ops = &fileNode{fsys: f, committed: true, info: fi}
	}
	child := parent.NewInode(ctx, ops, stableAttr(fi))
	if fn, ok := child.Operations().(*fileNode); ok && fn != ops {
		fn.refresh(fi)
	}
	fillAttr(fi, &out.Attr)
	setEntryTimeouts(fi.IsDir(), out)
	return child
}

// setEntryTimeouts sets how long the kernel may cache an entry.
func setEntryTimeouts(isDir bool, out *fuse.EntryOut) {
	out.SetEntryTimeout(fileTimeout)
	if isDir {
		out.SetAttrTimeout(dirAttrTimeout)
	} else {
		out.SetAttrTimeout(fileTimeout)
	}
}

// childOps returns the node of the known child name of dir when it is a T.
func childOps[T fs.InodeEmbedder](dir *fs.Inode, name string) (T, bool) {
	var zero T
	child := dir.GetChild(name)
	if child == nil {
		return zero, false
	}
	ops, ok := child.Operations().(T)
	return ops, ok
}
