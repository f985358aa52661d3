package fusefs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// clearStaleMount detaches a dead FUSE mount left at dir by a crashed
// daemon: stat on it fails with ENOTCONN (or ECONNABORTED).
func clearStaleMount(dir string, log *slog.Logger) error {
	// Forced past the kernel's attribute cache: a dead mount's root may
	// still have cached attributes (default_permissions keeps them).
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_STATX_FORCE_SYNC, unix.STATX_BASIC_STATS, &stx)
	if err == nil || !(errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED)) {
		return nil
	}
	log.Warn("clearing stale mount", "dir", dir)
	if err := lazyUnmount(dir); err != nil {
		return fmt.Errorf("fusefs: clear stale mount at %s: %w", dir, err)
	}
	return nil
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
