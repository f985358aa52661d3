package store

import (
	"crypto/sha256"
	"hash"

	"deltafs/npy"
)

// ContentSum is the SHA-256 of the bytes [Offset, Size) of a file: what
// the store records as the content hash of the file, when Offset is where
// its data section starts (an .npy tensor) or 0 (a blob). A ContentHasher
// produces it.
type ContentSum struct {
	Offset, Size int64
	Sum          [32]byte
}

// covers reports whether c is the hash of the bytes [off, size) of a file.
func (c *ContentSum) covers(off, size int64) bool {
	return c != nil && c.Offset == off && c.Size == size
}

// contentPrefixLen is how many leading bytes decide where the content hash
// starts: the .npy magic, version and header length field.
const contentPrefixLen = 12

// ContentHasher hashes a file fed to it in order, from its first byte, the
// way Ingest hashes it: an .npy file from its data section on, anything else
// whole. It decides where the data section starts from the .npy prefix
// alone; when Ingest finds another start (a malformed .npy, stored as a
// blob) it hashes the file itself. The zero value is ready to use; not safe
// for concurrent use.
type ContentHasher struct {
	h      hash.Hash
	n      int64 // bytes fed
	offset int64 // where hashing starts; valid once h != nil
	prefix [contentPrefixLen]byte
}

// Write feeds the next bytes of the file. It never fails.
func (c *ContentHasher) Write(p []byte) (int, error) {
	k := len(p)
	if c.h == nil {
		if c.n < contentPrefixLen {
			m := copy(c.prefix[c.n:], p)
			c.n += int64(m)
			p = p[m:]
		}
		if c.n < contentPrefixLen {
			return k, nil
		}
		c.start()
	}
	if skip := c.offset - c.n; skip > 0 {
		m := int(min(skip, int64(len(p))))
		c.n += int64(m)
		p = p[m:]
	}
	c.h.Write(p)
	c.n += int64(len(p))
	return k, nil
}

// start decides from the prefix (or the whole file, when shorter) where
// hashing starts, and hashes the prefix bytes from there.
func (c *ContentHasher) start() {
	buffered := min(c.n, contentPrefixLen)
	c.offset = 0 // not an .npy file: hashed whole
	if off, err := npy.DataOffset(c.prefix[:buffered]); err == nil {
		c.offset = off
	}
	c.h = sha256.New()
	if c.offset < buffered {
		c.h.Write(c.prefix[c.offset:buffered])
	}
}

// Size is the number of bytes fed so far.
func (c *ContentHasher) Size() int64 { return c.n }

// Sum returns the hash of what was fed. The hasher can be fed more after.
func (c *ContentHasher) Sum() ContentSum {
	if c.h == nil {
		c.start()
	}
	out := ContentSum{Offset: c.offset, Size: c.n}
	c.h.Sum(out.Sum[:0])
	return out
}
