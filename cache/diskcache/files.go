package diskcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	formatName = "deltafs-diskcache"
	lockName   = "lock"
	tmpDir     = "tmp"
	trailerLen = 12
	magic      = "dfc1"
	version    = 1
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

// readBlock reads and checks the block file name, which must hold length
// bytes; errCorrupt when it does not check out.
func (c *Cache) readBlock(name string, length int64) ([]byte, error) {
	path := c.path(name)
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data, err := decodeBlock(name, buf)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != length {
		return nil, fmt.Errorf("%w: %d bytes, want %d", errCorrupt, len(data), length)
	}
	touch(path)
	return data, nil
}

// blockSum is the checksum of block name holding data: the CRC32C of the
// name and the bytes, so that a file holding another block's bytes fails too.
func blockSum(name string, data []byte) uint32 {
	return crc32.Update(crc32.Checksum([]byte(name), castagnoli), castagnoli, data)
}

// decodeBlock checks the file of block name and returns its bytes.
func decodeBlock(name string, buf []byte) ([]byte, error) {
	if len(buf) < trailerLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than its trailer", errCorrupt, len(buf))
	}
	data, tr := buf[:len(buf)-trailerLen], buf[len(buf)-trailerLen:]
	if string(tr[8:]) != magic {
		return nil, fmt.Errorf("%w: bad magic", errCorrupt)
	}
	if n := binary.LittleEndian.Uint32(tr[4:8]); int64(n) != int64(len(data)) {
		return nil, fmt.Errorf("%w: trailer says %d bytes, file holds %d", errCorrupt, n, len(data))
	}
	if sum := blockSum(name, data); sum != binary.LittleEndian.Uint32(tr[:4]) {
		return nil, fmt.Errorf("%w: CRC32C mismatch", errCorrupt)
	}
	return data, nil
}

// encodeTrailer returns the trailer of block name holding data.
func encodeTrailer(name string, data []byte) []byte {
	tr := make([]byte, trailerLen)
	binary.LittleEndian.PutUint32(tr[:4], blockSum(name, data))
	binary.LittleEndian.PutUint32(tr[4:8], uint32(len(data)))
	copy(tr[8:], magic)
	return tr
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
		_, err = f.Write(encodeTrailer(name, data))
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
	return int64(len(data)) + trailerLen, nil
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
