package fusefs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrMountPointBusy reports that a live filesystem is already mounted at
// the mount point: mounting over it would hide it.
var ErrMountPointBusy = errors.New("a live filesystem is already mounted there")

// probeTimeout bounds the look at a mount point: a filesystem mounted
// there whose daemon is stopped or hung would block it for ever.
var probeTimeout = 10 * time.Second

// prepareMountPoint makes dir ready to take the mount: a stale mount left
// by a crashed daemon is cleared (one log line says so), a live mount is
// refused with ErrMountPointBusy (so is one that does not answer), a
// missing directory or a non-directory is an error wrapping fs.ErrNotExist
// or syscall.ENOTDIR, and a directory that holds files is mounted over
// with a warning (they are hidden until the unmount).
func prepareMountPoint(dir string, log *slog.Logger) error {
	st, err := inspectMountPoint(dir)
	if err == nil && st.stale {
		if err := lazyUnmount(dir); err != nil {
			return fmt.Errorf("fusefs: clear stale mount at %s: %w", dir, err)
		}
		log.Warn("cleared a stale mount left by a crashed deltafs", "dir", dir)
		st, err = inspectMountPoint(dir)
	}
	if err != nil {
		return err
	}
	if !st.empty {
		log.Warn("the mount point is not empty: its files are hidden while the store is mounted", "dir", dir)
	}
	return nil
}

// mountPointState is what inspectMountPoint found at a directory.
type mountPointState struct {
	stale bool // a FUSE mount whose daemon is gone
	empty bool // a directory without entries
}

// inspectMountPoint looks at dir within probeTimeout: a stale mount, or a
// directory (empty or not) without a live mount; else an error.
func inspectMountPoint(dir string) (mountPointState, error) {
	type result struct {
		st  mountPointState
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := inspectNow(dir)
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		return r.st, r.err
	case <-time.After(probeTimeout):
		// The goroutine stays blocked until the filesystem answers or is
		// unmounted; the mount is refused meanwhile.
		return mountPointState{}, fmt.Errorf("fusefs: mount point %s: %w (it does not answer within %v)",
			dir, ErrMountPointBusy, probeTimeout)
	}
}

// inspectNow does the work of inspectMountPoint.
func inspectNow(dir string) (mountPointState, error) {
	if isStaleMount(dir) {
		return mountPointState{stale: true}, nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return mountPointState{}, fmt.Errorf("fusefs: mount point: %w", err)
	}
	if !fi.IsDir() {
		return mountPointState{}, fmt.Errorf("fusefs: mount point %s: %w", dir, syscall.ENOTDIR)
	}
	live, err := isMountRoot(dir)
	if err != nil {
		return mountPointState{}, fmt.Errorf("fusefs: mount point %s: %w", dir, err)
	}
	if live {
		return mountPointState{}, fmt.Errorf("fusefs: mount point %s: %w", dir, ErrMountPointBusy)
	}
	return mountPointState{empty: isEmptyDir(dir)}, nil
}

// isStaleMount reports whether dir is a FUSE mount whose daemon is gone:
// a stat that must ask the filesystem fails with ENOTCONN or ECONNABORTED
// (a plain one may be answered from the kernel's attribute cache, which
// default_permissions keeps for the mount's root).
func isStaleMount(dir string) bool {
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_STATX_FORCE_SYNC, unix.STATX_BASIC_STATS, &stx)
	return errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED)
}

// isMountRoot reports whether dir is the root of a mount.
func isMountRoot(dir string) (bool, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_BASIC_STATS, &stx); err != nil {
		return false, err
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	// Kernels before 5.8: a mount root sits on another device than its
	// parent (bind mounts of the same device are missed).
	var parent unix.Stat_t
	if err := unix.Stat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return unix.Mkdev(stx.Dev_major, stx.Dev_minor) != parent.Dev, nil
}

// isEmptyDir reports whether dir has no entries (an unreadable directory
// counts as empty: the mount will say more).
func isEmptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return true
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}

// lazyUnmount detaches the mount at dir now; the kernel finishes it when the
// last open file is closed.
func lazyUnmount(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if err == nil {
		return nil
	}
	// Not root: ask the setuid helper.
	for _, helper := range []string{"fusermount3", "fusermount"} {
		out, herr := exec.Command(helper, "-u", "-z", dir).CombinedOutput()
		if herr == nil {
			return nil
		}
		if !errors.Is(herr, exec.ErrNotFound) {
			return fmt.Errorf("%s -u -z %s: %w: %s", helper, dir, herr, out)
		}
	}
	return fmt.Errorf("unmount %s: %w", dir, err)
}

// setReadAhead sets the read-ahead of the backing device info of the mount
// at dir, in KiB. It needs root.
func setReadAhead(dir string, kb int) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	file := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(file, []byte(strconv.Itoa(kb)), 0)
}
