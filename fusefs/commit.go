package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"deltafs/store"
)

// truncate sets the size of the file to size, committing at once when
// asked by path (truncate(2)) rather than through an open file, unless the
// file is open for writing: then its last close commits (the kernel
// truncates an open(O_TRUNC) that way too, after the open).
func (n *fileNode) truncate(ctx context.Context, size int64, commitNow bool) syscall.Errno {
	if size < 0 {
		return syscall.EINVAL
	}
	st, errno := n.acquireStage(ctx, size == 0)
	if errno != 0 {
		return errno
	}
	if err := st.truncate(size); err != nil {
		n.releaseStage(ctx)
		return n.fsys.errno("truncate", st.f.Name(), err)
	}
	n.mu.Lock()
	st.dirty = true
	st.commitFailed = false
	commitNow = commitNow && n.active == 0
	n.mu.Unlock()
	if commitNow {
		if errno := n.commit(ctx, false); errno != 0 {
			n.releaseStage(ctx)
			return errno
		}
	}
	n.releaseStage(ctx)
	return 0
}

// acquireStage returns the node's staging file, creating it (filled with
// the committed content unless trunc) when the node has none, and counts
// one more writer.
func (n *fileNode) acquireStage(ctx context.Context, trunc bool) (*stagingFile, syscall.Errno) {
	n.mu.Lock()
	if st := n.stage; st != nil {
		n.writers++
		n.mu.Unlock()
		if trunc {
			// Not under n.mu: a truncate waits for a commit in progress,
			// which takes n.mu when it ends.
			if err := st.truncate(0); err != nil {
				n.releaseStage(ctx)
				return nil, n.fsys.errno("truncate", st.f.Name(), err)
			}
			n.mu.Lock()
			st.dirty = true
			n.mu.Unlock()
		}
		return st, 0
	}
	defer n.mu.Unlock()
	// A write-back file gets a staging file named durably already when
	// the store has one: its close() then fsyncs no directory.
	f, err := n.fsys.backend.CreateStagingFile(n.fsys.wb != nil)
	if err != nil {
		return nil, n.fsys.errno("create staging file", n.fsys.backend.StagingDir(), err)
	}
	st := newStagingFile(f, n.fsys.wb != nil)
	if n.committed && !trunc {
		path, ok := nodePath(&n.Inode)
		if !ok {
			st.discard()
			return nil, syscall.ENOENT
		}
		// Written past the hash's back: the store hashes it at commit.
		st.hash.invalidate()
		if err := n.copyCommitted(ctx, path, st.f); err != nil {
			st.discard()
			return nil, n.fsys.errno("copy to staging", path, err)
		}
	} else {
		st.dirty = true
	}
	if n.mode == 0 {
		n.mode = n.info.Mode & 07777
	}
	n.stage = st
	n.gen.Add(1)
	n.writers++
	return st, 0
}

// copyCommitted copies the committed content of path into dst.
func (n *fileNode) copyCommitted(ctx context.Context, path string, dst *os.File) error {
	r, err := n.fsys.backend.Open(detach(ctx), path)
	if err != nil {
		return err
	}
	defer r.Close()
	buf := make([]byte, maxWrite)
	for off := int64(0); ; {
		k, err := r.ReadAtContext(detach(ctx), buf, off)
		if k > 0 {
			if _, werr := dst.WriteAt(buf[:k], off); werr != nil {
				return werr
			}
			off += int64(k)
		}
		if errors.Is(err, io.EOF) || (err == nil && k == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// releaseStage drops one writer; the last one commits what is still dirty
// (unless the file lost a write, or close() already reported its commit's
// failure) and removes the staging file.
func (n *fileNode) releaseStage(ctx context.Context) {
	n.mu.Lock()
	n.writers--
	if n.writers > 0 || n.stage == nil {
		n.mu.Unlock()
		return
	}
	st := n.stage
	dirty, reported := st.dirty, st.commitFailed
	n.mu.Unlock()
	failed := st.failure()
	if dirty && failed == nil && !reported {
		if errno := n.saveWrites(ctx, false); errno != 0 {
			n.fsys.log.Error("commit on release failed, data dropped", "path", st.f.Name(), "errno", errno)
			reported = false // logged here, once
		}
	}
	n.dropStage(st, failed != nil || reported)
}

// dropStage stops serving st once no write handle needs it: the node
// serves its committed content again and the staging file goes. lost says
// a write or a commit of st failed and close() reported it; the file is
// then logged as not stored. A pending (write-back) stage goes with its
// commit instead.
func (n *fileNode) dropStage(st *stagingFile, lost bool) {
	n.mu.Lock()
	if n.active != 0 || n.writers > 1 || n.stage != st || st.pending.Load() != 0 {
		n.mu.Unlock()
		return
	}
	n.stage = nil
	n.gen.Add(1)
	unsaved := st.dirty
	st.discard()
	vanished := !n.committed
	n.mu.Unlock()
	if unsaved && lost {
		path, _ := nodePath(&n.Inode)
		n.fsys.log.Warn("file not stored: a write to it or its commit failed and close() reported it; the store keeps what it had",
			"path", path, "err", st.failure())
	}
	switch {
	case vanished:
		// A new file whose commit failed: make the kernel look it up again.
		if name, parent := n.Parent(); parent != nil {
			go parent.NotifyEntry(name)
		}
	case unsaved:
		// An overwrite that was not stored: the kernel's pages may hold
		// the lost bytes, the store the old ones.
		go n.NotifyContent(0, 0)
	}
}

// takeUnsaved returns the node's staging file and path when it holds
// writes to save, and marks them saved (the caller marks them unsaved
// again when saving fails). Writes to a file that no longer has a name
// are dropped: there is nothing to keep. The caller holds commitMu.
func (n *fileNode) takeUnsaved() (*stagingFile, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.stage
	if st == nil || !st.dirty {
		return nil, ""
	}
	st.dirty = false
	path, ok := nodePath(&n.Inode)
	if !ok || n.unlinked {
		return nil, ""
	}
	return st, path
}

// commit ingests the staging file at the node's current path when it holds
// unsaved writes. After it returns 0 the content is durable.
func (n *fileNode) commit(ctx context.Context, syncNotify bool) syscall.Errno {
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	st, path := n.takeUnsaved()
	if st == nil {
		return 0
	}
	start := time.Now()
	fi, err := n.ingest(ctx, path, st)
	n.fsys.log.Debug("commit", "path", path, "bytes", fi.Size, "stored", fi.StoredSize,
		"strategy", fi.Strategy, "base", fi.Base, "took", time.Since(start), "err", err)
	n.mu.Lock()
	if err != nil {
		st.dirty = true
		st.commitFailed = true
		n.mu.Unlock()
		return n.fsys.errno("commit", path, err)
	}
	n.committed = true
	n.info = fi
	n.mu.Unlock()
	// The committed bytes may differ from what the page cache holds (a
	// lossy strategy) and the attributes changed (st_blocks, mtime):
	// invalidate both before close() returns, so that a stat right after
	// it is exact. FLUSH holds no inode lock, so this cannot deadlock;
	// other callers (truncate holds the inode lock) notify asynchronously.
	if syncNotify {
		n.NotifyContent(0, 0)
	} else {
		go n.NotifyContent(0, 0)
	}
	return 0
}

// ingest hands the staged content to the core.
func (n *fileNode) ingest(ctx context.Context, path string, st *stagingFile) (store.FileInfo, error) {
	if _, err := st.f.Seek(0, io.SeekStart); err != nil {
		return store.FileInfo{}, fmt.Errorf("rewind staging file: %w", err)
	}
	opts := n.ingestOptions(st)
	// No change of the file while the store reads it: the hash computed as
	// it was written is then the hash of what the store reads, and the
	// store may map the file instead of copying it (Stable).
	st.gate.Lock()
	defer st.gate.Unlock()
	opts.Content = st.contentSum()
	opts.Stable = true
	opts.Pending = st.pending.Load() // write-back: forgotten with the commit
	return n.fsys.backend.Ingest(detach(ctx), path, st.f, opts)
}

// ingestOptions are the options a commit (or a pending record) of st
// stores the file with: the mount's strategy, the node's mode and owner
// (mode 0: the store keeps the replaced file's, or gives 0644; a replaced
// file keeps its owner whatever is given) and the time set on it since its
// last change (zero: the time of the commit).
func (n *fileNode) ingestOptions(st *stagingFile) store.IngestOptions {
	n.mu.Lock()
	mode := n.mode
	owner := store.Owner{UID: n.info.UID, GID: n.info.GID}
	n.mu.Unlock()
	return store.IngestOptions{Strategy: n.fsys.opts.Strategy, AllowLossy: n.fsys.opts.AllowLossy, Mode: mode,
		Owner: &owner, MTime: st.commitMTime()}
}
