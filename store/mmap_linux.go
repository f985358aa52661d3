package store

import (
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read-only. The caller must unmap
// the result (unmapFile) and must not let it be used afterwards; a file
// truncated while mapped makes reading past its new end fault.
func mapFile(f *os.File, size int64) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

// unmapFile undoes mapFile.
func unmapFile(b []byte) error { return syscall.Munmap(b) }
