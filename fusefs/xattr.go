package fusefs

import (
	"context"
	"strconv"
	"strings"
	"syscall"

	"deltafs/store"
)

// Extended attribute names. Files expose how they are stored; a model
// directory exposes (and accepts) its base model.
const (
	xattrBase       = "user.deltafs.base"
	xattrBaseMatch  = "user.deltafs.base_match" // how the base was chosen: path, name or "similarity 0.9931"
	xattrStrategy   = "user.deltafs.strategy"
	xattrRatio      = "user.deltafs.ratio"
	xattrHash       = "user.deltafs.hash"
	xattrLossy      = "user.deltafs.lossy"
	xattrStoredSize = "user.deltafs.stored_size"
)

// fileXattrs are the attributes of a committed file, in listing order.
func fileXattrs(fi store.FileInfo) [][2]string {
	ratio := 0.0
	if fi.StoredSize > 0 {
		ratio = float64(fi.Size) / float64(fi.StoredSize)
	}
	var attrs [][2]string
	if fi.Base != "" {
		attrs = append(attrs, [2]string{xattrBase, fi.Base})
	}
	switch fi.BaseMatch {
	case "":
	case "similarity":
		attrs = append(attrs, [2]string{xattrBaseMatch, "similarity " + strconv.FormatFloat(fi.BaseSimilarity, 'f', 4, 64)})
	default:
		attrs = append(attrs, [2]string{xattrBaseMatch, fi.BaseMatch})
	}
	return append(attrs,
		[2]string{xattrStrategy, fi.Strategy},
		[2]string{xattrRatio, strconv.FormatFloat(ratio, 'f', 3, 64)},
		[2]string{xattrHash, fi.ContentHash},
		[2]string{xattrLossy, strconv.FormatBool(fi.Lossy)},
		[2]string{xattrStoredSize, strconv.FormatInt(fi.StoredSize, 10)},
	)
}

// getXattr copies the value of name among attrs into dest, ERANGE (with
// the size) when dest is too small, ENODATA when it is absent.
func getXattr(attrs [][2]string, name string, dest []byte) (uint32, syscall.Errno) {
	for _, a := range attrs {
		if a[0] != name {
			continue
		}
		if len(dest) < len(a[1]) {
			return uint32(len(a[1])), syscall.ERANGE
		}
		return uint32(copy(dest, a[1])), 0
	}
	return 0, syscall.ENODATA
}

// listXattrs writes the NUL-terminated names of attrs into dest.
func listXattrs(attrs [][2]string, dest []byte) (uint32, syscall.Errno) {
	var b strings.Builder
	for _, a := range attrs {
		b.WriteString(a[0])
		b.WriteByte(0)
	}
	if len(dest) < b.Len() {
		return uint32(b.Len()), syscall.ERANGE
	}
	return uint32(copy(dest, b.String())), 0
}

// xattrs returns the attributes of the file, none while it is pending.
func (n *fileNode) xattrs(ctx context.Context) ([][2]string, syscall.Errno) {
	n.mu.Lock()
	committed, info := n.committed, n.info
	n.mu.Unlock()
	if !committed {
		return nil, 0
	}
	if path, ok := nodePath(&n.Inode); ok {
		fi, err := n.fsys.backend.Stat(detach(ctx), path)
		if err != nil {
			return nil, n.fsys.errno("getxattr", path, err)
		}
		info = fi
	}
	return fileXattrs(info), 0
}

// Getxattr reads one user.deltafs.* attribute.
func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if !strings.HasPrefix(attr, "user.deltafs.") {
		return 0, syscall.ENODATA
	}
	attrs, errno := n.xattrs(ctx)
	if errno != 0 {
		return 0, errno
	}
	return getXattr(attrs, attr, dest)
}

// Listxattr lists the user.deltafs.* attributes.
func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	attrs, errno := n.xattrs(ctx)
	if errno != 0 {
		return 0, errno
	}
	return listXattrs(attrs, dest)
}

// Setxattr: file attributes describe the stored object and cannot be set.
func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	return syscall.ENOTSUP
}

// Removexattr: see Setxattr.
func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	return syscall.ENOTSUP
}

// model returns the name of the model when the directory is a top-level one.
func (n *dirNode) model() (string, bool) {
	name, parent := n.Parent()
	if parent == nil || !parent.IsRoot() {
		return "", false
	}
	return name, true
}

// dirXattrs are the attributes of a directory: a model's base.
func (n *dirNode) dirXattrs(ctx context.Context) ([][2]string, syscall.Errno) {
	model, ok := n.model()
	if !ok {
		return nil, 0
	}
	fi, err := n.fsys.backend.Stat(detach(ctx), model)
	if err != nil {
		return nil, n.fsys.errno("getxattr", model, err)
	}
	if fi.Base == "" {
		return nil, 0
	}
	return [][2]string{{xattrBase, fi.Base}}, 0
}

// Getxattr reads user.deltafs.base of a model directory.
func (n *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if attr != xattrBase {
		return 0, syscall.ENODATA
	}
	attrs, errno := n.dirXattrs(ctx)
	if errno != 0 {
		return 0, errno
	}
	return getXattr(attrs, attr, dest)
}

// Listxattr lists user.deltafs.base on a model directory that has a base.
func (n *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	attrs, errno := n.dirXattrs(ctx)
	if errno != 0 {
		return 0, errno
	}
	return listXattrs(attrs, dest)
}

// requireOwner refuses (EPERM) a request from anyone but root and the
// owner of model: a model's base is changed by those who may chown it.
func (n *dirNode) requireOwner(ctx context.Context, model string) syscall.Errno {
	fi, err := n.fsys.backend.Stat(detach(ctx), model)
	if err != nil {
		return n.fsys.errno("setxattr", model, err)
	}
	if !callerIsOwner(ctx, fi) {
		return syscall.EPERM
	}
	return 0
}

// Setxattr sets the base model of a model directory:
// setfattr -n user.deltafs.base -v BASE MODEL (root and the model's owner
// only).
func (n *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	model, ok := n.model()
	if attr != xattrBase || !ok {
		return syscall.ENOTSUP
	}
	if errno := n.requireOwner(ctx, model); errno != 0 {
		return errno
	}
	base := strings.TrimRight(string(data), "\x00\n")
	if err := n.fsys.backend.SetBase(detach(ctx), model, base); err != nil {
		return n.fsys.errno("setxattr", model, err)
	}
	return 0
}

// Removexattr clears the base model of a model directory.
func (n *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	model, ok := n.model()
	if attr != xattrBase || !ok {
		return syscall.ENOTSUP
	}
	if errno := n.requireOwner(ctx, model); errno != 0 {
		return errno
	}
	if err := n.fsys.backend.SetBase(detach(ctx), model, ""); err != nil {
		return n.fsys.errno("removexattr", model, err)
	}
	return 0
}
