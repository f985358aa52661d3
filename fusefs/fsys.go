package fusefs

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
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
	wb      *writeback // nil unless MountOptions.Writeback
	// directWrites: write-only handles of a write-back mount may use
	// direct I/O (see writeOpenFlags); set once mounted.
	directWrites atomic.Bool
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
	a.Owner = fuse.Owner{Uid: fi.UID, Gid: fi.GID}
	setTimes(a, fi.MTime)
}

// newOwner is the owner of an entry created by the request in ctx in a
// directory described by parent: the caller, with the directory's group
// when the directory is set-group-ID (as on a local filesystem). It also
// reports whether a new directory inherits the set-group-ID bit.
func newOwner(ctx context.Context, parent store.FileInfo) (store.Owner, bool) {
	o := store.Owner{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	if c, ok := fuse.FromContext(ctx); ok {
		o = store.Owner{UID: c.Uid, GID: c.Gid}
	}
	sgid := parent.Mode&syscall.S_ISGID != 0 && parent.Inode != 0
	if sgid {
		o.GID = parent.GID
	}
	return o, sgid
}

// callerIsOwner reports whether the request in ctx comes from root or from
// the owner of fi.
func callerIsOwner(ctx context.Context, fi store.FileInfo) bool {
	c, ok := fuse.FromContext(ctx)
	if !ok {
		return true // not a kernel request: the mounting process itself
	}
	return c.Uid == 0 || c.Uid == fi.UID
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

// setStoredAttr stores the mode, owner and modification time that in
// changes for the committed entry at path.
func (f *fsys) setStoredAttr(ctx context.Context, path string, in *fuse.SetAttrIn) syscall.Errno {
	if mode, ok := in.GetMode(); ok {
		if err := f.backend.Chmod(detach(ctx), path, mode&07777); err != nil {
			return f.errno("chmod", path, err)
		}
	}
	uid, setUID := in.GetUID()
	gid, setGID := in.GetGID()
	if setUID || setGID {
		fi, err := f.backend.Stat(detach(ctx), path)
		if err != nil {
			return f.errno("chown", path, err)
		}
		o := store.Owner{UID: fi.UID, GID: fi.GID}
		if setUID {
			o.UID = uid
		}
		if setGID {
			o.GID = gid
		}
		if err := f.backend.Chown(detach(ctx), path, o); err != nil {
			return f.errno("chown", path, err)
		}
	}
	if mtime, ok := in.GetMTime(); ok {
		if err := f.backend.Chtimes(detach(ctx), path, mtime); err != nil {
			return f.errno("utimens", path, err)
		}
	}
	return 0
}
