package store

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFile maps the first size bytes of f read-only. The caller must unmap
// the result (unmapFile) and must not let it be used afterwards; a file
// truncated while mapped makes reading past its new end fault.
func mapFile(f *os.File, size int64) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

// unmapFile undoes mapFile.
func unmapFile(b []byte) error { return syscall.Munmap(b) }

// prefault asks the kernel to back the whole pages of b with memory now, in
// one call, instead of one page fault per page on first write: a new chunk
// buffer is written in full by its decode. The contents of b do not change.
// Errors (an older kernel) leave the pages to fault in as usual.
func prefault(b []byte) {
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(len(b))) &^ (page - 1)
	if hi <= lo {
		return
	}
	unix.Madvise(b[lo-start:hi-start], unix.MADV_POPULATE_WRITE)
}
