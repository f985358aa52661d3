package fusefs

import (
	"context"
	"sort"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"deltafs/store"
)

// dirNode is a directory: the root, a model (top-level) or a folder in one.
type dirNode struct {
	fs.Inode
	fsys *fsys

	mu   sync.Mutex
	info store.FileInfo // last known description, for fstat after removal
}

var (
	_ fs.NodeLookuper      = (*dirNode)(nil)
	_ fs.NodeGetattrer     = (*dirNode)(nil)
	_ fs.NodeSetattrer     = (*dirNode)(nil)
	_ fs.NodeReaddirer     = (*dirNode)(nil)
	_ fs.NodeMkdirer       = (*dirNode)(nil)
	_ fs.NodeCreater       = (*dirNode)(nil)
	_ fs.NodeUnlinker      = (*dirNode)(nil)
	_ fs.NodeRmdirer       = (*dirNode)(nil)
	_ fs.NodeRenamer       = (*dirNode)(nil)
	_ fs.NodeGetxattrer    = (*dirNode)(nil)
	_ fs.NodeSetxattrer    = (*dirNode)(nil)
	_ fs.NodeRemovexattrer = (*dirNode)(nil)
	_ fs.NodeListxattrer   = (*dirNode)(nil)
	_ fs.NodeStatfser      = (*dirNode)(nil)
)

// path is the store path of the directory, ok=false once it was removed.
func (n *dirNode) path() (string, bool) { return nodePath(&n.Inode) }

// pendingChild returns the child called name when it is a file being
// written (not yet, or not only, in the catalog).
func (n *dirNode) pendingChild(name string) *fileNode {
	if fn, ok := childOps[*fileNode](&n.Inode, name); ok && fn.writing() {
		return fn
	}
	return nil
}

// Lookup answers from the catalog alone (no decode), or from the staging
// file of a child being written.
func (n *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if n.IsRoot() && name == statsName {
		return n.fsys.statsInode(ctx, &n.Inode, out), 0
	}
	dir, ok := n.path()
	if !ok {
		return nil, syscall.ENOENT
	}
	if fn := n.pendingChild(name); fn != nil {
		var attr fuse.AttrOut
		if errno := fn.Getattr(ctx, nil, &attr); errno != 0 {
			return nil, errno
		}
		out.Attr = attr.Attr
		// Not cached while being written: the next lookup sees the commit.
		out.SetEntryTimeout(0)
		out.SetAttrTimeout(0)
		return &fn.Inode, 0
	}
	path := joinPath(dir, name)
	fi, err := n.fsys.backend.Stat(detach(ctx), path)
	if err != nil {
		return nil, n.fsys.errno("lookup", path, err)
	}
	if fn, ok := childOps[*fileNode](&n.Inode, name); ok && fn.sameEntry(fi) {
		// A file created through this mount keeps the node (and inode
		// number) it was created with while the kernel knows it.
		fn.refresh(fi)
		fillAttr(fi, &out.Attr)
		out.Attr.Ino = fn.StableAttr().Ino
		setEntryTimeouts(false, out)
		return &fn.Inode, 0
	}
	return n.fsys.newChild(ctx, &n.Inode, fi, out), 0
}

// lastInfo is the last known description of the directory.
func (n *dirNode) lastInfo() store.FileInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.info
}

// Getattr describes the directory from the catalog.
func (n *dirNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	path, ok := n.path()
	n.mu.Lock()
	fi := n.info
	n.mu.Unlock()
	if ok {
		var err error
		fi, err = n.fsys.backend.Stat(detach(ctx), path)
		if err != nil {
			return n.fsys.errno("getattr", path, err)
		}
		n.mu.Lock()
		n.info = fi
		n.mu.Unlock()
	} else if fi.Inode == 0 {
		return syscall.ENOENT
	}
	fillAttr(fi, &out.Attr)
	if !ok {
		out.Attr.Nlink = 0
	}
	out.Attr.Ino = n.StableAttr().Ino
	out.SetTimeout(dirAttrTimeout)
	return 0
}

// Setattr stores a directory's new mode, owner and modification time (the
// kernel has checked that the caller may change them), the root's too.
func (n *dirNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	path, ok := n.path()
	if !ok {
		return syscall.ENOENT
	}
	if errno := n.fsys.setStoredAttr(ctx, path, in); errno != 0 {
		return errno
	}
	return n.Getattr(ctx, fh, out)
}

// Readdir lists the catalog's entries and the files being created here,
// sorted by name. The stats file is not listed.
func (n *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	dir, ok := n.path()
	if !ok {
		return nil, syscall.ENOENT
	}
	infos, err := n.fsys.backend.ReadDir(detach(ctx), dir)
	if err != nil {
		return nil, n.fsys.errno("readdir", dir, err)
	}
	entries := make([]fuse.DirEntry, 0, len(infos))
	seen := make(map[string]bool, len(infos))
	for _, fi := range infos {
		mode := uint32(syscall.S_IFREG)
		if fi.IsDir() {
			mode = syscall.S_IFDIR
		}
		entries = append(entries, fuse.DirEntry{Name: fi.Name, Mode: mode, Ino: fi.Inode})
		seen[fi.Name] = true
	}
	for name, child := range n.Children() {
		if seen[name] {
			continue
		}
		if fn, ok := child.Operations().(*fileNode); ok && fn.writing() {
			entries = append(entries, fuse.DirEntry{Name: name, Mode: syscall.S_IFREG, Ino: child.StableAttr().Ino})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return fs.NewListDirStream(append(n.dots(), entries...)), 0
}

// dots are the entries "." and ".." that every directory lists (go-fuse
// answers their lookups itself).
func (n *dirNode) dots() []fuse.DirEntry {
	parent := n.StableAttr().Ino
	if _, p := n.Parent(); p != nil {
		parent = p.StableAttr().Ino
	}
	return []fuse.DirEntry{
		{Name: ".", Mode: syscall.S_IFDIR, Ino: n.StableAttr().Ino},
		{Name: "..", Mode: syscall.S_IFDIR, Ino: parent},
	}
}

// Statfs reports the space of the disk holding the store (where staged
// and encoded files go).
func (n *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Statfs(n.fsys.backend.StagingDir(), &st); err != nil {
		return n.fsys.errno("statfs", n.fsys.backend.StagingDir(), err)
	}
	out.FromStatfsT(&st)
	return 0
}
