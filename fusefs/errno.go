package fusefs

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"syscall"

	"deltafs/store"
)

// toErrno maps an error of the core to the errno the kernel returns. It is
// the only place that does so; unexpected errors become EIO and are logged
// with the operation and path they came from.
func toErrno(log *slog.Logger, op, path string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, store.ErrExist), errors.Is(err, os.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, store.ErrNotDir):
		return syscall.ENOTDIR
	case errors.Is(err, store.ErrIsDir):
		return syscall.EISDIR
	case errors.Is(err, store.ErrNotEmpty):
		return syscall.ENOTEMPTY
	case errors.Is(err, store.ErrReadOnly):
		return syscall.EROFS
	case errors.Is(err, store.ErrInvalidPath):
		return syscall.EINVAL
	case errors.Is(err, store.ErrNoBase):
		return syscall.EINVAL
	case errors.Is(err, store.ErrBaseCycle):
		return syscall.EINVAL
	case errors.Is(err, store.ErrBusy):
		return syscall.EBUSY
	case errors.Is(err, store.ErrCorrupt):
		log.Error("corrupt data", "op", op, "path", path, "err", err)
		return syscall.EIO
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	case errors.As(err, &errno):
		// ENOSPC, EDQUOT, EIO… from the local disk pass through.
		if errno == syscall.EIO {
			log.Error("i/o error", "op", op, "path", path, "err", err)
		}
		return errno
	}
	log.Error("unexpected error", "op", op, "path", path, "err", err)
	return syscall.EIO
}
