package fusefs

import (
	"context"
	"errors"

	"github.com/hanwen/go-fuse/v2/fuse"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"deltafs/store"
)

// Write-back (MountOptions.Writeback): close() of a written file returns
// once its staging file is fsynced and recorded as pending in the catalog
// (durable: if the mount dies, the next process to open the store stores
// it); a few workers encode and commit pending files in the background.
// Until its commit, a pending file is read from its staging file, and the
// staging file does not change: a write to it waits for the commit.

// writebackWorkers is how many pending files are encoded at once.
const writebackWorkers = 2

// Encoding waits while files are being written: a worker starts on a
// pending file once no write reached the mount for writebackQuiet, or
// once the file has waited writebackMaxDefer (a writer that never pauses).
// Encoding takes several times the CPU of the write path; run beside a
// copy on a small machine, it slowed the copy down by half (see
// BENCHMARKS.md).
const (
	writebackQuiet    = 100 * time.Millisecond
	writebackMaxDefer = 10 * time.Second
)

// writebackRetries and writebackRetryDelay: a background commit that fails
// (a full disk) is tried again this many times, after a delay growing from
// this one; then the file stays pending for the next mount or command.
const (
	writebackRetries    = 3
	writebackRetryDelay = time.Second
)

// writeback is the queue of pending files of one mount.
type writeback struct {
	log   func(msg string, args ...any)
	mu    sync.Mutex
	cond  *sync.Cond
	queue []queued
	stop  bool
	wg    sync.WaitGroup

	lastWrite atomic.Int64  // time of the latest write, Unix nanoseconds
	stopped   chan struct{} // closed by close
	// quiet and maxDefer are writebackQuiet and writebackMaxDefer (tests
	// change them), in nanoseconds.
	quiet, maxDefer atomic.Int64
}

// queued is a pending node and when it was queued.
type queued struct {
	n    *fileNode
	when time.Time
}

// newWriteback starts the workers.
func newWriteback(f *fsys) *writeback {
	wb := &writeback{log: f.log.Error, stopped: make(chan struct{})}
	wb.cond = sync.NewCond(&wb.mu)
	wb.quiet.Store(int64(writebackQuiet))
	wb.maxDefer.Store(int64(writebackMaxDefer))
	for range writebackWorkers {
		wb.wg.Add(1)
		go wb.work()
	}
	return wb
}

// enqueue schedules the commit of a pending node.
func (wb *writeback) enqueue(n *fileNode) {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	if wb.stop {
		return // the store stores it when it is closed
	}
	wb.queue = append(wb.queue, queued{n, time.Now()})
	wb.cond.Signal()
}

// noteWrite records that the mount is being written to now.
func (wb *writeback) noteWrite() {
	wb.lastWrite.Store(time.Now().UnixNano())
}

// waitQuiet waits until no write reached the mount for the quiet time, or
// until since + the longest deferral, or until close; it reports false on
// close.
func (wb *writeback) waitQuiet(since time.Time) bool {
	for {
		now := time.Now()
		wait := time.Duration(wb.quiet.Load()) - now.Sub(time.Unix(0, wb.lastWrite.Load()))
		wait = min(wait, since.Add(time.Duration(wb.maxDefer.Load())).Sub(now))
		if wait <= 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-wb.stopped:
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// work commits queued nodes until close.
func (wb *writeback) work() {
	defer wb.wg.Done()
	for {
		wb.mu.Lock()
		for len(wb.queue) == 0 && !wb.stop {
			wb.cond.Wait()
		}
		if wb.stop {
			wb.mu.Unlock()
			return
		}
		q := wb.queue[0]
		wb.queue[0] = queued{}
		wb.queue = wb.queue[1:]
		wb.mu.Unlock()
		if !wb.waitQuiet(q.when) {
			return // the store stores it when it is closed
		}
		q.n.commitPending(context.Background())
	}
}

// close stops the workers once their current commits are done; files
// still pending are left to the store, which stores them when it is closed.
func (wb *writeback) close() {
	wb.mu.Lock()
	if !wb.stop {
		close(wb.stopped)
	}
	wb.stop = true
	wb.queue = nil
	wb.cond.Broadcast()
	wb.mu.Unlock()
	wb.wg.Wait()
}

// saveWrites makes the unsaved writes of the node durable: committed at
// once, or recorded as pending in write-back mode.
func (n *fileNode) saveWrites(ctx context.Context, syncNotify bool) syscall.Errno {
	if n.fsys.wb != nil {
		return n.recordPending(ctx)
	}
	return n.commit(ctx, syncNotify)
}

// recordPending fsyncs the staging file and records it as pending, then
// queues its commit. From then on the staging file does not change until
// the commit.
func (n *fileNode) recordPending(ctx context.Context) syscall.Errno {
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	st, path := n.takeUnsaved()
	if st == nil {
		return 0
	}
	opts := n.ingestOptions(st)
	st.gate.Lock()
	id, err := n.fsys.backend.RecordPending(detach(ctx), path, st.f, opts, st.pending.Load())
	if err != nil {
		st.gate.Unlock()
		n.mu.Lock()
		st.dirty = true
		st.commitFailed = true // close() reports it; release does not retry
		n.mu.Unlock()
		return n.fsys.errno("record pending", path, err)
	}
	st.pending.Store(id)
	st.tries = 0
	st.hold()
	st.gate.Unlock()
	n.fsys.wb.enqueue(n)
	return 0
}

// commitPending encodes and commits the node's pending staging file. It
// does not hold commitMu while encoding: a rename or an unlink of the file
// meanwhile changes or drops its pending record, and the commit stores the
// file where the record says then, or not at all. On success the node is
// committed, and its staging file is removed once no handle uses it.
func (n *fileNode) commitPending(ctx context.Context) {
	n.commitMu.Lock()
	n.mu.Lock()
	st := n.stage
	n.mu.Unlock()
	if st == nil {
		n.commitMu.Unlock()
		return
	}
	id := st.pending.Load()
	if id == 0 {
		st.release()
		n.commitMu.Unlock()
		return
	}
	path, ok := nodePath(&n.Inode)
	n.mu.Lock()
	gone := !ok || n.unlinked
	n.mu.Unlock()
	if gone {
		n.dropPendingLocked(ctx)
		n.commitMu.Unlock()
		return
	}
	n.commitMu.Unlock()

	fi, err := n.ingest(ctx, path, st) // forgets the pending record

	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	if st.pending.Load() != id {
		// Closed again meanwhile: a newer record, queued already.
		if err == nil {
			n.refresh(fi)
		}
		return
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrPendingGone):
		st.pending.Store(0) // removed meanwhile: nothing to store
		st.release()
		n.discardIdleStage(st)
		return
	case errors.Is(err, store.ErrPendingSuperseded):
		// Another process stored or removed a file at its path after it
		// was closed: the newer one stays, and this mount shows it.
		n.fsys.log.Warn("pending file not stored: its path was given newer content meanwhile", "path", path)
		n.dropPendingLocked(ctx)
		n.mu.Lock()
		if !n.committed {
			n.unlinked = true // never stored: the name goes to the newer file
		}
		n.mu.Unlock()
		go n.fsys.invalidate(context.Background(), path)
		return
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNotDir), errors.Is(err, store.ErrIsDir):
		// Its directory was removed meanwhile (outside this mount).
		n.fsys.log.Warn("pending file dropped: its directory is gone", "path", path, "err", err)
		n.dropPendingLocked(ctx)
		return
	default:
		n.fsys.log.Error("background commit failed", "path", path, "try", st.tries+1, "err", err)
		if st.tries++; st.tries < writebackRetries {
			time.AfterFunc(writebackRetryDelay<<(2*st.tries-2), func() { n.fsys.wb.enqueue(n) })
			return
		}
		// Still durable: the next mount or command stores it. Writes to
		// the file may go on meanwhile.
		n.fsys.log.Error("giving up the background commit; the file stays pending for the next mount", "path", path)
		st.release()
		return
	}
	n.refresh(fi)
	st.pending.Store(0)
	st.release()
	n.discardIdleStage(st)
	go n.NotifyContent(0, 0)
}

// dropPendingLocked forgets the node's pending record (the file lost its
// name); the caller holds commitMu.
func (n *fileNode) dropPendingLocked(ctx context.Context) {
	n.mu.Lock()
	st := n.stage
	n.mu.Unlock()
	if st == nil {
		return
	}
	if id := st.pending.Load(); id != 0 {
		if err := n.fsys.backend.DropPending(detach(ctx), id); err != nil {
			n.fsys.log.Error("drop pending file", "err", err)
			return
		}
		st.pending.Store(0)
	}
	st.release()
	n.discardIdleStage(st)
}

// movePendingLocked records the new path of the node's pending file,
// replacing the file there, and reports whether the node had a pending
// record to move (false: the caller renames as for any file). The caller
// holds commitMu.
func (n *fileNode) movePendingLocked(ctx context.Context, path string) (bool, syscall.Errno) {
	n.mu.Lock()
	st := n.stage
	n.mu.Unlock()
	if st == nil || st.pending.Load() == 0 {
		return false, 0
	}
	err := n.fsys.backend.MovePending(detach(ctx), st.pending.Load(), path)
	if errors.Is(err, store.ErrNotFound) {
		return false, 0 // stored at its old name just now
	}
	if err != nil {
		return false, n.fsys.errno("rename pending", path, err)
	}
	return true, 0
}

// discardIdleStage removes the staging file st once it is the node's,
// unused by any handle, saved and not pending.
func (n *fileNode) discardIdleStage(st *stagingFile) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.writers == 0 && n.stage == st && !st.dirty && st.pending.Load() == 0 {
		n.stage = nil
		n.gen.Add(1) // readers move on to the stored file
		st.discard()
	}
}

// directWriteMinor is the first FUSE protocol minor version (Linux 6.6)
// whose kernels drop the cached pages of a range written with direct I/O;
// before, another reader of the file could keep reading the old bytes.
const directWriteMinor = 39

// writeOpenFlags are the FUSE open flags of a write handle opened with
// flags. In write-back mode a write-only handle is opened for direct I/O:
// the kernel then passes the writer's own pages to the daemon instead of
// copying them into the mount's page cache first, which took a fifth of a
// cp -r (see BENCHMARKS.md). A write-only handle never reads through that
// cache, and the kernel drops the cached pages of a range it writes
// directly, so the other readers of the file see the write as before.
func (f *fsys) writeOpenFlags(flags uint32) uint32 {
	if f.wb != nil && f.directWrites.Load() && flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}
