package fusefs

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"

	"deltafs/store"
)

// changePollInterval is how often a mount asks the store what other mounts
// and commands committed. With the kernel told at once, a change made
// elsewhere shows within this interval plus the time to apply it (the
// README promises a second).
const changePollInterval = 200 * time.Millisecond

// changeFeed is what a backend logging its committed changes offers
// (*store.Store does): a mount follows it to drop the entries, attributes
// and pages the kernel and the nodes cached for paths changed elsewhere.
type changeFeed interface {
	ChangeSeq(ctx context.Context) (uint64, error)
	ChangesSince(ctx context.Context, after uint64) (store.Changes, error)
}

var _ changeFeed = (*store.Store)(nil)

// follower polls a change feed and invalidates what changed.
type follower struct {
	fsys *fsys
	feed changeFeed
	seq  uint64 // the last change applied
	// failing is set while the feed fails, so that a failure is logged
	// once rather than at every poll.
	failing bool
}

// newFollower starts following feed after its current change: what is
// committed from now on. Called before the mount serves, so nothing the
// kernel may cache was changed unseen.
func newFollower(ctx context.Context, f *fsys, feed changeFeed) (*follower, error) {
	seq, err := feed.ChangeSeq(ctx)
	if err != nil {
		return nil, err
	}
	return &follower{fsys: f, feed: feed, seq: seq}, nil
}

// run polls until ctx is cancelled.
func (fl *follower) run(ctx context.Context) {
	tick := time.NewTicker(changePollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fl.poll(ctx)
		}
	}
}

// poll applies every change committed since the last one applied.
func (fl *follower) poll(ctx context.Context) {
	for ctx.Err() == nil {
		ch, err := fl.feed.ChangesSince(ctx, fl.seq)
		if err != nil {
			if !fl.failing && ctx.Err() == nil {
				fl.fsys.log.Warn("cannot read the store's changes; entries may be stale until it can", "err", err)
			}
			fl.failing = true
			return
		}
		if fl.failing {
			fl.fsys.log.Info("reading the store's changes again")
			fl.failing = false
		}
		if ch.Lost {
			fl.fsys.log.Info("more changed elsewhere than the store's log keeps: dropping every cached entry")
			fl.fsys.invalidateAll(ctx)
		} else {
			fl.fsys.invalidatePaths(ctx, ch.Paths)
		}
		fl.seq = ch.Next
		if !ch.More {
			return
		}
	}
}

// invalidatePaths drops what the kernel and the nodes cache of paths
// changed elsewhere, and the attributes of their directories.
func (f *fsys) invalidatePaths(ctx context.Context, paths []string) {
	dirs := map[*fs.Inode]bool{}
	for _, p := range paths {
		if parent := f.invalidate(ctx, p); parent != nil {
			dirs[parent] = true
		}
	}
	for dir := range dirs {
		dir.NotifyContent(0, 0) // size and mtime of the directory
	}
}

// invalidateAll drops every entry the mount knows of, as if each had
// changed.
func (f *fsys) invalidateAll(ctx context.Context) {
	var paths []string
	var walk func(dir *fs.Inode, path string)
	walk = func(dir *fs.Inode, path string) {
		for name, child := range dir.Children() {
			if dir.IsRoot() && name == statsName {
				continue
			}
			p := joinPath(path, name)
			paths = append(paths, p)
			if child.IsDir() {
				walk(child, p)
			}
		}
	}
	walk(&f.root.Inode, "")
	f.invalidatePaths(ctx, paths)
}

// lookupKnown returns the node the mount knows at path, nil when the
// kernel cannot have looked it up (the kernel knows a subset of the tree
// go-fuse keeps).
func (f *fsys) lookupKnown(path string) *fs.Inode {
	in := &f.root.Inode
	if path == "" {
		return in
	}
	for _, name := range strings.Split(path, "/") {
		if in = in.GetChild(name); in == nil {
			return nil
		}
	}
	return in
}

// invalidate drops what is cached of the entry at path, which changed
// elsewhere, and returns its parent's node (nil when the mount does not
// know the parent, and so neither the entry). A node whose entry is the
// same (same inode: new content or attributes) stays, with its cached
// description dropped and its open read handles moved to the new content;
// one whose entry is gone or replaced by another is detached from its
// name, and open handles keep reading what they had. A file this mount is
// writing is left alone: its own commit decides.
func (f *fsys) invalidate(ctx context.Context, path string) *fs.Inode {
	if path == "" {
		f.root.Inode.NotifyContent(0, 0)
		return nil
	}
	dir, name := splitPath(path)
	parent := f.lookupKnown(dir)
	if parent == nil || !parent.IsDir() {
		return nil
	}
	defer parent.NotifyEntry(name) // also drops a negative entry
	child := parent.GetChild(name)
	if child == nil {
		return parent
	}
	fi, err := f.backend.Stat(ctx, path)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		f.log.Warn("stat of a path changed elsewhere", "path", path, "err", err)
	}
	switch ops := child.Operations().(type) {
	case *fileNode:
		if ops.writing() {
			return parent
		}
		if err == nil && ops.sameEntry(fi) {
			ops.changedElsewhere(fi)
			child.NotifyContent(0, 0)
			return parent
		}
	case *dirNode:
		if err == nil && fi.IsDir() && fi.Inode == child.StableAttr().Ino {
			ops.mu.Lock()
			ops.info = fi
			ops.mu.Unlock()
			child.NotifyContent(0, 0)
			return parent
		}
		if hasWriters(child) {
			// Detached, the files written below would be dropped at
			// close as nameless; kept, their commit fails and close()
			// says so.
			return parent
		}
	}
	parent.RmChild(name)
	return parent
}

// hasWriters reports whether a file below dir is being written through
// this mount.
func hasWriters(dir *fs.Inode) bool {
	for _, child := range dir.Children() {
		switch ops := child.Operations().(type) {
		case *fileNode:
			if ops.writing() {
				return true
			}
		case *dirNode:
			if hasWriters(child) {
				return true
			}
		}
	}
	return false
}

// changedElsewhere records the description of the file's entry changed
// by another mount or command, and makes open read handles switch to the
// content it now has.
func (n *fileNode) changedElsewhere(fi store.FileInfo) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.info = fi
	n.gen.Add(1)
}

// splitPath splits a store path into its directory and its last name.
func splitPath(path string) (dir, name string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}
