package store

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"

	"deltafs/catalog"
	"deltafs/catalog/s3store"
)

// A remote store's host keeps, beside its disk cache, the catalog records
// of the objects it opened (records.log in its directory), so that reading
// an object again, even in a new process, asks the catalog for the file's
// entry only: an object's record (its reference, its sizes) never changes
// while the object exists, objects being content-addressed. Without it a
// warm load made three catalog round trips per file in a row (the entry,
// the object, its reference), each waiting for a server that shares the
// CPUs with the decoding. A record that went stale (its object collected,
// then stored again against another reference) fails a read; the read
// then drops the cached records it used and runs again on the catalog's
// (File.ReadAtContext).
const (
	recordsName = "records.log"
	// maxCachedRecords bounds the records kept (about 170 bytes each on
	// disk); past it the file starts over.
	maxCachedRecords = 1 << 18
)

var recordsCRC = crc32.MakeTable(crc32.Castagnoli)

// recordCache is the host's cache of object records: in memory, and
// appended to a file read back when the store is opened again. Safe for
// concurrent use; a nil *recordCache caches nothing.
type recordCache struct {
	path string
	log  *slog.Logger

	mu   sync.Mutex
	recs map[string]catalog.Object
	file *os.File // appended to; nil when it cannot be written
}

// openRecordCache loads the records kept at path. A missing or unreadable
// file is an empty cache; lines that do not check out are skipped.
func openRecordCache(path string, log *slog.Logger) *recordCache {
	c := &recordCache{path: path, log: log, recs: make(map[string]catalog.Object)}
	if err := c.load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("object record cache unreadable; starting it afresh", "file", path, "err", err)
		c.recs = make(map[string]catalog.Object)
	}
	if len(c.recs) >= maxCachedRecords {
		c.recs = make(map[string]catalog.Object)
		os.Remove(path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil { // a handle this user cannot write: cached in memory only
		log.Debug("object record cache not kept", "file", path, "err", err)
		return c
	}
	c.file = f
	return c
}

func (c *recordCache) load() error {
	f, err := os.Open(c.path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rec, ok := parseRecordLine(sc.Text())
		switch {
		case !ok:
		case rec.RawSize < 0: // a tombstone
			delete(c.recs, rec.ID)
		default:
			c.recs[rec.ID] = rec
		}
	}
	return sc.Err()
}

// get returns the cached record of object id.
func (c *recordCache) get(id string) (catalog.Object, bool) {
	if c == nil {
		return catalog.Object{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.recs[id]
	return rec, ok
}

// put caches rec (its fields a read uses) and appends it to the file.
func (c *recordCache) put(rec catalog.Object) {
	if c == nil {
		return
	}
	rec = catalog.Object{ID: rec.ID, Ref: rec.Ref, RawSize: rec.RawSize, StoredSize: rec.StoredSize}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.recs[rec.ID]; ok && old == rec {
		return
	}
	if len(c.recs) >= maxCachedRecords {
		c.resetLocked()
	}
	c.recs[rec.ID] = rec
	c.appendLocked(formatRecordLine(rec))
}

// forget drops the cached record of each id and reports whether any was
// cached. The file keeps them until it starts over: a tombstone line
// makes the next open drop them too.
func (c *recordCache) forget(ids ...string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	dropped := false
	for _, id := range ids {
		if _, ok := c.recs[id]; ok {
			delete(c.recs, id)
			c.appendLocked(formatTombstone(id))
			dropped = true
		}
	}
	return dropped
}

// chain returns id and, following the cached references, the ids of the
// objects whose cached records reading id uses.
func (c *recordCache) chain(id string) []string {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id != "" && len(ids) <= maxReferenceDepth {
		rec, ok := c.recs[id]
		if !ok {
			break
		}
		ids = append(ids, id)
		id = rec.Ref
	}
	return ids
}

// resetLocked empties the cache and its file.
func (c *recordCache) resetLocked() {
	c.recs = make(map[string]catalog.Object)
	if c.file != nil {
		if err := c.file.Truncate(0); err != nil {
			c.log.Warn("object record cache not kept", "file", c.path, "err", err)
			c.file.Close()
			c.file = nil
		}
	}
}

// appendLocked appends one line to the file; a failure stops the file
// (the records stay cached in memory).
func (c *recordCache) appendLocked(line string) {
	if c.file == nil {
		return
	}
	if _, err := c.file.WriteString(line); err != nil {
		c.log.Warn("object record cache not kept", "file", c.path, "err", err)
		c.file.Close()
		c.file = nil
	}
}

// close releases the file.
func (c *recordCache) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file == nil {
		return nil
	}
	err := c.file.Close()
	c.file = nil
	return err
}

// A line is "ID REF RAWSIZE STOREDSIZE CRC\n" (REF "-" for none), or
// "ID - -1 -1 CRC\n" dropping ID's record; CRC is the CRC32C of what
// precedes it, in hex.

func formatRecordLine(rec catalog.Object) string {
	ref := rec.Ref
	if ref == "" {
		ref = "-"
	}
	return withLineCRC(fmt.Sprintf("%s %s %d %d", rec.ID, ref, rec.RawSize, rec.StoredSize))
}

func formatTombstone(id string) string { return withLineCRC(id + " - -1 -1") }

func withLineCRC(body string) string {
	return fmt.Sprintf("%s %08x\n", body, crc32.Checksum([]byte(body), recordsCRC))
}

// parseRecordLine reads a line of the file; ok is false for a line that
// does not check out. A tombstone parses to a record with negative sizes.
func parseRecordLine(line string) (rec catalog.Object, ok bool) {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return rec, false
	}
	body := line[:i]
	sum, err := strconv.ParseUint(line[i+1:], 16, 32)
	if err != nil || uint32(sum) != crc32.Checksum([]byte(body), recordsCRC) {
		return rec, false
	}
	f := strings.Fields(body)
	if len(f) != 4 || !isObjectID(f[0]) || (f[1] != "-" && !isObjectID(f[1])) {
		return rec, false
	}
	raw, err1 := strconv.ParseInt(f[2], 10, 64)
	stored, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return rec, false
	}
	rec = catalog.Object{ID: f[0], RawSize: raw, StoredSize: stored}
	if f[1] != "-" {
		rec.Ref = f[1]
	}
	return rec, true
}

// isObjectID reports whether s is an object id: 64 lowercase hex digits.
func isObjectID(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 64 && strings.ToLower(s) == s
}

// readData is readObject for a file's read: when it fails and cached
// records took part (a record gone stale), it drops them and reads again
// with the catalog's.
func (s *Store) readData(ctx context.Context, id string, off int64, dst []byte) error {
	err := s.readObject(ctx, id, off, dst, 0, readOptions{})
	if err == nil || !staleSymptom(err) {
		return err
	}
	ids := s.records.chain(id)
	if !s.records.forget(ids...) {
		return err
	}
	s.handles.detach(ids...)
	s.log.Info("object records cached by this host failed a read; reading again with the catalog's",
		slog.String("object", id), slog.Any("err", err))
	return s.readObject(ctx, id, off, dst, 0, readOptions{})
}

// staleSymptom reports whether err may come from a stale cached record: an
// object (or its record) missing, or data failing its checks; not an
// unreachable server or a reader giving up.
func staleSymptom(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, s3store.ErrUnavailable), errors.Is(err, catalog.ErrUnavailable):
		return false
	}
	return errors.Is(err, ErrCorrupt) || errors.Is(err, catalog.ErrNotFound)
}
