package diskcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	formatName = "deltafs-diskcache"
	lockName   = "lock"
	tmpDir     = "tmp"
	trailerLen = 16 // tail CRC, length, segment size, magic
	segSize    = 64 << 10
	magic      = "dfc2"
	version    = 2
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	errCorrupt = errors.New("diskcache: block file corrupt")
)

// validID accepts the object ids the cache names files after: 2 to 128
// lowercase letters and digits (a hex SHA-256 among them).
func validID(id string) bool {
	if len(id) < 2 || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

func blockName(id string, idx int64) string { return id + "." + strconv.FormatInt(idx, 10) }

// parseBlockName splits "<id>.<index>"; ok is false for any other name.
func parseBlockName(name string) (id string, idx int64, ok bool) {
	id, num, found := strings.Cut(name, ".")
	if !found || !validID(id) {
		return "", 0, false
	}
	idx, err := strconv.ParseInt(num, 10, 64)
	if err != nil || idx < 0 || strconv.FormatInt(idx, 10) != num {
		return "", 0, false
	}
	return id, idx, true
}

func (c *Cache) path(name string) string { return filepath.Join(c.dir, name[:2], name) }

// readRange copies bytes [lo, hi) of block name, length bytes long, from
// its file into dst, checking the segments it reads; errCorrupt when the
// file does not check out.
func (c *Cache) readRange(name string, length, lo, hi int64, dst []byte) error {
	path := c.path(name)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := readFrom(f, fi.Size(), name, length, lo, hi, dst); err != nil {
		return err
	}
	touch(path)
	return nil
}

// readFrom is readRange on a file's contents r, size bytes.
func readFrom(r io.ReaderAt, size int64, name string, length, lo, hi int64, dst []byte) error {
	if want := length + tailLen(length); size != want {
		return fmt.Errorf("%w: %d bytes, want %d", errCorrupt, size, want)
	}
	tail := make([]byte, tailLen(length))
	if _, err := r.ReadAt(tail, length); err != nil {
		return fmt.Errorf("%w: %w", errCorrupt, err)
	}
	sums, err := checkTail(name, tail, length)
	if err != nil {
		return err
	}
	if lo >= hi {
		return nil
	}
	// The segments wholly inside [lo, hi) are read straight into dst, in
	// one read; the partial ones at either end through a scratch segment.
	inFirst := (lo + segSize - 1) / segSize // first whole segment
	inEnd := hi / segSize                   // after the last whole one
	if hi == length {
		inEnd = segments(length)
	}
	if inFirst < inEnd {
		a, z := inFirst*segSize, min(inEnd*segSize, length)
		b := dst[a-lo : z-lo]
		if _, err := r.ReadAt(b, a); err != nil {
			return fmt.Errorf("%w: %w", errCorrupt, err)
		}
		for seg := inFirst; seg < inEnd; seg++ {
			if err := checkSegment(b[(seg-inFirst)*segSize:min((seg-inFirst+1)*segSize, int64(len(b)))], sums, seg); err != nil {
				return err
			}
		}
	}
	for _, seg := range []int64{lo / segSize, (hi - 1) / segSize} {
		start, end := seg*segSize, min((seg+1)*segSize, length)
		a, z := max(lo, start), min(hi, end)
		if a == start && z == end || a >= z {
			continue // whole: read above
		}
		sp := scratch.Get().(*[]byte)
		b := (*sp)[:end-start]
		_, err := r.ReadAt(b, start)
		if err == nil {
			err = checkSegment(b, sums, seg)
		}
		if err == nil {
			copy(dst[a-lo:z-lo], b[a-start:z-start])
		}
		scratch.Put(sp)
		if err != nil {
			return fmt.Errorf("%w: %w", errCorrupt, err)
		}
		if lo/segSize == (hi-1)/segSize {
			break // one segment: done
		}
	}
	return nil
}

// checkSegment checks segment seg's bytes b against the CRC table.
func checkSegment(b, sums []byte, seg int64) error {
	if crc32.Checksum(b, castagnoli) != binary.LittleEndian.Uint32(sums[4*seg:]) {
		return fmt.Errorf("%w: segment %d: CRC32C mismatch", errCorrupt, seg)
	}
	return nil
}

// scratch holds segment buffers for the partial segments of a read.
var scratch = sync.Pool{New: func() any { b := make([]byte, segSize); return &b }}

// segments returns how many segments a block of length bytes has.
func segments(length int64) int64 { return (length + segSize - 1) / segSize }

// tailLen returns the bytes after the data of a block of length bytes:
// the CRC table and the trailer.
func tailLen(length int64) int64 { return 4*segments(length) + trailerLen }

// encodeTail returns the CRC table and trailer of block name holding data.
func encodeTail(name string, data []byte) []byte {
	n := segments(int64(len(data)))
	tail := make([]byte, 4*n+trailerLen)
	for seg := range n {
		b := data[seg*segSize : min((seg+1)*segSize, int64(len(data)))]
		binary.LittleEndian.PutUint32(tail[4*seg:], crc32.Checksum(b, castagnoli))
	}
	tr := tail[4*n:]
	binary.LittleEndian.PutUint32(tr[4:8], uint32(len(data)))
	binary.LittleEndian.PutUint32(tr[8:12], segSize)
	copy(tr[12:], magic)
	binary.LittleEndian.PutUint32(tr[:4], tailSum(name, tail))
	return tail
}

// tailSum is the CRC32C of the block's name, the CRC table and the
// trailer after its own field: a file holding another block fails it.
func tailSum(name string, tail []byte) uint32 {
	tr := len(tail) - trailerLen
	sum := crc32.Checksum([]byte(name), castagnoli)
	sum = crc32.Update(sum, castagnoli, tail[:tr])
	return crc32.Update(sum, castagnoli, tail[tr+4:])
}

// checkTail checks the tail of block name, length bytes long, and returns
// its CRC table.
func checkTail(name string, tail []byte, length int64) ([]byte, error) {
	tr := tail[len(tail)-trailerLen:]
	if string(tr[12:]) != magic {
		return nil, fmt.Errorf("%w: bad magic", errCorrupt)
	}
	if n := binary.LittleEndian.Uint32(tr[4:8]); int64(n) != length {
		return nil, fmt.Errorf("%w: trailer says %d bytes, want %d", errCorrupt, n, length)
	}
	if s := binary.LittleEndian.Uint32(tr[8:12]); s != segSize {
		return nil, fmt.Errorf("%w: segment size %d, want %d", errCorrupt, s, segSize)
	}
	if tailSum(name, tail) != binary.LittleEndian.Uint32(tr[:4]) {
		return nil, fmt.Errorf("%w: trailer CRC32C mismatch", errCorrupt)
	}
	return tail[:len(tail)-trailerLen], nil
}

// writeBlock writes data and its trailer to a temp file and renames it to
// the block's name; it returns the file's size. No fsync: a block torn by a
// crash fails its check and is fetched again.
func (c *Cache) writeBlock(name string, data []byte) (int64, error) {
	shard := filepath.Join(c.dir, name[:2])
	if err := os.MkdirAll(shard, 0o700); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(filepath.Join(c.dir, tmpDir), "block-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		_, err = f.Write(encodeTail(name, data))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, c.path(name))
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return int64(len(data)) + tailLen(int64(len(data))), nil
}

// load checks the format file (a missing one is written; another block
// size or version empties the cache), removes leftover temp files and
// indexes the block files, most recently modified first.
func (c *Cache) load() error {
	want := fmt.Sprintf("%s %d blocksize=%d\n", formatName, version, c.blockSize)
	fpath := filepath.Join(c.dir, formatName)
	got, err := os.ReadFile(fpath)
	switch {
	case err == nil && string(got) == want:
	case err == nil || errors.Is(err, fs.ErrNotExist):
		if err == nil {
			c.log.Info("diskcache: format or block size changed, emptying the cache", "dir", c.dir,
				"was", strings.TrimSpace(string(got)), "now", strings.TrimSpace(want))
		}
		if err := c.removeBlocks(); err != nil {
			return err
		}
		if err := os.WriteFile(fpath, []byte(want), 0o600); err != nil {
			return fmt.Errorf("diskcache: %w", err)
		}
	default:
		return fmt.Errorf("diskcache: %w", err)
	}
	tmps, err := os.ReadDir(filepath.Join(c.dir, tmpDir))
	if err != nil {
		return fmt.Errorf("diskcache: %w", err)
	}
	for _, t := range tmps {
		os.Remove(filepath.Join(c.dir, tmpDir, t.Name()))
	}
	type found struct {
		name  string
		size  int64
		mtime time.Time
	}
	var blocks []found
	err = c.eachShard(func(shard string, files []fs.DirEntry) {
		for _, f := range files {
			id, _, ok := parseBlockName(f.Name())
			if !ok || id[:2] != shard || !f.Type().IsRegular() {
				continue
			}
			fi, err := f.Info()
			if err != nil {
				continue
			}
			blocks = append(blocks, found{f.Name(), fi.Size(), fi.ModTime()})
		}
	})
	if err != nil {
		return err
	}
	slices.SortFunc(blocks, func(a, b found) int {
		if d := b.mtime.Compare(a.mtime); d != 0 {
			return d
		}
		return strings.Compare(a.name, b.name)
	})
	for _, b := range blocks {
		c.index[b.name] = c.lru.PushBack(&entry{name: b.name, size: b.size})
		c.stats.Bytes += b.size
	}
	return nil
}

// eachShard calls fn with every shard directory's name and entries.
func (c *Cache) eachShard(fn func(shard string, files []fs.DirEntry)) error {
	shards, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("diskcache: %w", err)
	}
	for _, s := range shards {
		if !s.IsDir() || len(s.Name()) != 2 {
			continue
		}
		files, err := os.ReadDir(filepath.Join(c.dir, s.Name()))
		if err != nil {
			return fmt.Errorf("diskcache: %w", err)
		}
		fn(s.Name(), files)
	}
	return nil
}

// removeBlocks removes every block file (the shard directories).
func (c *Cache) removeBlocks() error {
	var paths []string
	err := c.eachShard(func(shard string, _ []fs.DirEntry) {
		paths = append(paths, filepath.Join(c.dir, shard))
	})
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("diskcache: %w", err)
		}
	}
	return nil
}
