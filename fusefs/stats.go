package fusefs

import (
	"context"
	"encoding/json"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// statsName is the hidden, read-only file at the root that reports the
// live counters of the store as JSON. It is not listed (so cp -r and rsync
// of the mount skip it) but can be opened by name.
const statsName = ".deltafs-stats"

// statsIno is the inode number of the stats file, far from the catalog's
// numbers and from go-fuse's automatic ones (2^63 and up).
const statsIno = 1 << 62

// statsReport is the content of the stats file.
type statsReport struct {
	CacheHits       uint64  `json:"cache_hits"`
	CacheMisses     uint64  `json:"cache_misses"`
	CacheEvictions  uint64  `json:"cache_evictions"`
	CacheBytes      int64   `json:"cache_bytes"`
	CacheMaxBytes   int64   `json:"cache_max_bytes"`
	BytesDecoded    int64   `json:"bytes_decoded"`
	ChunksDecoded   int64   `json:"chunks_decoded"`
	MeanDecodeMicro float64 `json:"mean_decode_latency_us"`
	PendingEncodes  int64   `json:"pending_encodes"`
	// The write-back backlog: files closed and not yet stored.
	WritebackFiles int64  `json:"writeback_pending_files"`
	WritebackBytes int64  `json:"writeback_pending_bytes"`
	LastError      string `json:"last_error"`
}

// statsSnapshot renders the current counters.
func (f *fsys) statsSnapshot() []byte {
	rs := f.backend.RuntimeStats()
	rep := statsReport{
		CacheHits: rs.CacheHits, CacheMisses: rs.CacheMisses, CacheEvictions: rs.CacheEvictions,
		CacheBytes: rs.CacheBytes, CacheMaxBytes: rs.CacheMaxBytes,
		BytesDecoded: rs.BytesDecoded, ChunksDecoded: rs.ChunksDecoded,
		PendingEncodes: rs.PendingEncodes, LastError: rs.LastError,
		WritebackFiles: rs.WritebackFiles, WritebackBytes: rs.WritebackBytes,
	}
	if rs.ChunksDecoded > 0 {
		rep.MeanDecodeMicro = float64(rs.DecodeNanos) / float64(rs.ChunksDecoded) / 1e3
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return []byte("{}\n")
	}
	return append(b, '\n')
}

// statsNode is the stats file.
type statsNode struct {
	fs.Inode
	fsys *fsys
}

var (
	_ fs.NodeGetattrer = (*statsNode)(nil)
	_ fs.NodeOpener    = (*statsNode)(nil)
	_ fs.NodeSetattrer = (*statsNode)(nil)
)

// statsInode returns the stats file's node, filling out.
func (f *fsys) statsInode(ctx context.Context, root *fs.Inode, out *fuse.EntryOut) *fs.Inode {
	child := root.NewInode(ctx, &statsNode{fsys: f}, fs.StableAttr{Mode: syscall.S_IFREG, Ino: statsIno})
	var a fuse.AttrOut
	child.Operations().(*statsNode).Getattr(ctx, nil, &a)
	out.Attr = a.Attr
	out.SetEntryTimeout(fileTimeout)
	out.SetAttrTimeout(0)
	return child
}

// Getattr reports the size of a fresh snapshot; it changes all the time.
func (n *statsNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0444
	out.Nlink = 1
	out.Ino = statsIno
	out.Size = uint64(len(n.fsys.statsSnapshot()))
	now := time.Now()
	out.SetTimes(&now, &now, &now)
	out.SetTimeout(0)
	return 0
}

// Setattr refuses every change.
func (n *statsNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EACCES
}

// Open takes a snapshot for this handle; direct I/O because the size
// changes between snapshots.
func (n *statsNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EACCES
	}
	return &bytesHandle{data: n.fsys.statsSnapshot()}, fuse.FOPEN_DIRECT_IO, 0
}

// bytesHandle reads a fixed byte slice.
type bytesHandle struct{ data []byte }

var _ fs.FileReader = (*bytesHandle)(nil)

// Read returns the bytes at off.
func (h *bytesHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(h.data)) || off < 0 {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(h.data[off:min(int64(len(h.data)), off+int64(len(dest)))]), 0
}
