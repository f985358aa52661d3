// Package fusefs serves a deltafs store as a FUSE filesystem with go-fuse:
// models are top-level folders of ordinary files, read lazily and written
// through a local staging file that is encoded when it is closed.
package fusefs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"deltafs/store"
)

// Kernel cache lifetimes. Committed files are immutable and every change
// made through the mount is announced to the kernel, as is every change
// made elsewhere (another mount, a command) once the store's change log
// shows it (coherence.go), so entries and file attributes may be cached
// for long; directory attributes (mtime) and negative lookups are kept
// briefly besides.
const (
	fileTimeout     = time.Hour
	dirAttrTimeout  = time.Second
	negativeTimeout = time.Second
	maxWrite        = 1 << 20
)

// DefaultReadAheadKB is the read-ahead set on a mount by default: with
// 1 MiB the kernel keeps several reads in flight, which decodes chunks in
// parallel (see BENCHMARKS.md).
const DefaultReadAheadKB = 1024

// MountOptions configure a mount.
type MountOptions struct {
	ReadOnly bool
	Debug    bool         // log every FUSE request
	Logger   *slog.Logger // nil: silent
	// Strategy and AllowLossy are passed to every Ingest of a file written
	// through the mount ("" keeps the store's strategy).
	Strategy   store.Strategy
	AllowLossy bool
	// Writeback makes close() return once the written file is fsynced and
	// recorded as pending, and encodes it in the background (see
	// writeback.go); the store stores what is still pending when it is
	// closed, or, after a crash, when it is next opened.
	Writeback bool
	// ReadAheadKB sets the kernel read-ahead of the mount
	// (/sys/class/bdi/…/read_ahead_kb, root only): 0 means
	// DefaultReadAheadKB, a negative value leaves the kernel's (128 KiB).
	ReadAheadKB int
	// AllowOther lets users other than the mounting one reach the mount
	// (FUSE's allow_other; a non-root mounter needs user_allow_other in
	// /etc/fuse.conf). Off, only the mounting user (and not even root,
	// when someone else mounted) gets past the mount point.
	AllowOther bool
}

// Mount is a live mount.
type Mount struct {
	dir    string
	server *fuse.Server
	fsys   *fsys

	unmountOnce sync.Once
	unmountErr  error
	done        chan struct{}
}

// Serve mounts backend (normally a *store.Store) at dir and returns once the
// mount answers requests. A stale mount left at dir by a crash is cleared
// first; a live mount there is refused (ErrMountPointBusy), a missing dir is
// an error wrapping fs.ErrNotExist. Cancelling ctx unmounts.
func Serve(ctx context.Context, dir string, backend Backend, opts MountOptions) (*Mount, error) {
	if backend == nil {
		return nil, errors.New("fusefs: nil backend")
	}
	return serve(ctx, dir, backend, opts)
}

func serve(ctx context.Context, dir string, backend Backend, opts MountOptions) (*Mount, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount point %s: %w", dir, err)
	}
	if err := prepareMountPoint(abs, logger); err != nil {
		return nil, err
	}
	rootInfo, err := backend.Stat(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("fusefs: stat store root: %w", err)
	}

	fsys := &fsys{backend: backend, log: logger, opts: opts}
	root := &dirNode{fsys: fsys}
	fsys.root = root
	// Changes committed elsewhere from now on are followed once mounted.
	var follow *follower
	if feed, ok := backend.(changeFeed); ok {
		if follow, err = newFollower(ctx, fsys, feed); err != nil {
			return nil, fmt.Errorf("fusefs: read the store's change log: %w", err)
		}
	}
	if opts.Writeback && !opts.ReadOnly {
		fsys.wb = newWriteback(fsys)
	}

	fopts := mountOptions(opts, rootInfo.Inode, logger)
	fopts.FsName = fsName(backend.Dir()) // the mount's source: the store
	server, err := fs.Mount(abs, root, fopts)
	if err != nil {
		if fsys.wb != nil {
			fsys.wb.close()
		}
		return nil, fmt.Errorf("fusefs: mount %s: %w", abs, err)
	}
	m := &Mount{dir: abs, server: server, fsys: fsys, done: make(chan struct{})}
	fsys.directWrites.Store(server.KernelSettings().Minor >= directWriteMinor)
	m.run(ctx, opts, follow, logger)
	logger.Debug("mounted", "dir", abs, "read_only", opts.ReadOnly)
	return m, nil
}

// mountOptions are go-fuse's options for a mount with opts whose root has
// inode rootIno (0: go-fuse's own).
func mountOptions(opts MountOptions, rootIno uint64, logger *slog.Logger) *fs.Options {
	// Entry and attribute timeouts are set by each reply (no global
	// default, which go-fuse would put in place of the zero timeouts of
	// files being written).
	neg := negativeTimeout
	fopts := &fs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:   opts.AllowOther,
			FsName:       "deltafs",
			Name:         "deltafs",
			DirectMount:  true,
			MaxWrite:     maxWrite,
			MaxReadAhead: maxWrite,
			Debug:        opts.Debug,
			PanicHandler: func(v any) fuse.Status {
				logger.Error("panic in a FUSE handler", "panic", v, "stack", string(debug.Stack()))
				return fuse.EIO
			},
		},
		NegativeTimeout: &neg,
		// Modes are stored and reported exactly: a file of mode 000 is
		// 000, not go-fuse's substitute 0644.
		NullPermissions: true,
	}
	if rootIno != 0 {
		fopts.RootStableAttr = &fs.StableAttr{Ino: rootIno}
	}
	// The kernel checks permissions against the modes and owners the
	// catalog reports (default_permissions), as on a local filesystem: the
	// filesystem itself trusts every request that reaches it.
	fopts.MountOptions.Options = append(fopts.MountOptions.Options, "default_permissions")
	if opts.ReadOnly {
		fopts.MountOptions.Options = append(fopts.MountOptions.Options, "ro")
	}
	// go-fuse's diagnostics go to our logger at debug level (nil: silent).
	fuseLog := slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	fopts.MountOptions.Logger = fuseLog
	fopts.Logger = fuseLog
	return fopts
}

// run starts what a live mount needs: the follower of changes made
// elsewhere (nil: none), which lives as long as the mount and stops at
// unmount before Wait returns; the kernel's read-ahead; and the unmount
// when ctx ends.
func (m *Mount) run(ctx context.Context, opts MountOptions, follow *follower, logger *slog.Logger) {
	followCtx, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		if follow != nil {
			follow.run(followCtx)
		}
	}()
	go func() {
		m.server.Wait()
		stopFollowing()
		<-followed
		if wb := m.fsys.wb; wb != nil {
			wb.close() // what is still pending, the store stores at Close
		}
		close(m.done)
	}()
	if ra := cmp.Or(opts.ReadAheadKB, DefaultReadAheadKB); ra > 0 && os.Geteuid() == 0 {
		if err := setReadAhead(m.dir, ra); err != nil {
			logger.Warn("cannot set the read-ahead", "dir", m.dir, "err", err)
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			if err := m.Unmount(); err != nil {
				logger.Error("unmount", "dir", m.dir, "err", err)
			}
		case <-m.done:
		}
	}()
}

// Dir is the mount point.
func (m *Mount) Dir() string { return m.dir }

// Wait blocks until the filesystem is unmounted.
func (m *Mount) Wait() { <-m.done }

// Unmount unmounts, detaching lazily if files are still open.
func (m *Mount) Unmount() error {
	m.unmountOnce.Do(func() {
		select {
		case <-m.done: // already unmounted (umount, fusermount -u)
			return
		default:
		}
		if err := m.server.Unmount(); err != nil {
			m.fsys.log.Info("mount busy, detaching lazily", "dir", m.dir, "err", err)
			m.unmountErr = lazyUnmount(m.dir)
			return
		}
		<-m.done
	})
	return m.unmountErr
}

// fsName is the mount's source in /proc/mounts and df: the store's absolute
// directory.
func fsName(storeDir string) string {
	if abs, err := filepath.Abs(storeDir); err == nil {
		return abs
	}
	return storeDir
}
