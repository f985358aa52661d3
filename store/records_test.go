package store

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"deltafs/catalog"
	"deltafs/internal/pgtest"
	"deltafs/internal/s3test"
)

// countingCatalog counts the object records asked of a catalog.
type countingCatalog struct {
	catalog.Catalog
	objects atomic.Int64
}

func (c *countingCatalog) Object(ctx context.Context, id string) (catalog.Object, error) {
	c.objects.Add(1)
	return c.Catalog.Object(ctx, id)
}

// warmHost is a remote store holding a fine-tune (f/w.npy against
// b/w.npy) and a reading host's handle of it whose S3 link goes through a
// proxy counting the bytes, and the files' bytes.
type warmHost struct {
	dir   string
	proxy *s3test.Proxy
	files map[string][]byte
}

func newWarmHost(t *testing.T) warmHost {
	t.Helper()
	srv := s3test.Start(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	cfg := RemoteConfig{Catalog: pgtest.URL(t), Objects: srv.URL("store")}
	w := openHandle(t, cfg, false)
	mustMkdir(t, w, "b")
	mustMkdir(t, w, "f")
	if err := w.SetBase(context.Background(), "f", "b"); err != nil {
		t.Fatal(err)
	}
	base := weights(7, 300000)
	files := map[string][]byte{
		"b/w.npy": makeNPY(t, "<f4", []int64{300000}, f32bytes(base)),
		"f/w.npy": makeNPY(t, "<f4", []int64{300000}, f32bytes(fineTune(8, base, 0.1))),
	}
	for _, p := range []string{"b/w.npy", "f/w.npy"} { // the base first
		ingestBytes(t, w, p, files[p])
	}
	if fi, err := w.Stat(context.Background(), "f/w.npy"); err != nil || fi.Base != "b/w.npy" {
		t.Fatalf("f/w.npy: %+v %v, want a delta against b/w.npy", fi, err)
	}
	proxy := s3test.NewProxy(t, strings.TrimPrefix(srv.Endpoint, "http://"))
	capped := cfg
	capped.Objects = srv.URL("store") + "?endpoint=" + proxy.Endpoint()
	dir := filepath.Join(t.TempDir(), "reader")
	if _, err := InitRemote(context.Background(), dir, capped); err != nil {
		t.Fatal(err)
	}
	return warmHost{dir: dir, proxy: proxy, files: files}
}

// open opens the reading host's handle with logger (nil: silent).
func (h warmHost) open(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(h.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readAll reads every file of h through s and compares it with what was
// stored.
func (h warmHost) readAll(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for p, want := range h.files {
		f, err := s.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: read back differs", p)
		}
	}
}

// TestWarmReadAsksOnlyForEntries: a host reading a model again in a new
// process (disk cache warm, memory cold) sends no request to S3 and asks
// the catalog for no object record: only the files' entries. Before the
// host kept the records, each file cost two more catalog round trips in a
// row (its object, then its reference).
func TestWarmReadAsksOnlyForEntries(t *testing.T) {
	h := newWarmHost(t)
	cold := h.open(t, Options{})
	h.readAll(t, cold)
	cold.Close()

	warm := h.open(t, Options{})
	cc := &countingCatalog{Catalog: warm.catalog}
	warm.catalog = cc
	h.proxy.ResetBytes()
	h.readAll(t, warm)
	if up, down := h.proxy.Bytes(); up != 0 || down != 0 {
		t.Errorf("warm read: %d bytes sent to S3, %d received; want none", up, down)
	}
	if n := cc.objects.Load(); n != 0 {
		t.Errorf("warm read: %d object records asked of the catalog; want none", n)
	}
}

// TestStaleCachedRecord: a cached record naming a reference the catalog
// no longer gives (an object collected, then stored again against another
// reference) fails the read once; the read drops it and succeeds on the
// catalog's record, which is cached in its place.
func TestStaleCachedRecord(t *testing.T) {
	ctx := context.Background()
	h := newWarmHost(t)
	s := h.open(t, Options{})
	h.readAll(t, s)
	e, err := s.catalog.Get(ctx, "f/w.npy")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.catalog.Object(ctx, e.Object)
	if err != nil || rec.Ref == "" {
		t.Fatalf("f/w.npy's object: %+v %v, want one with a reference", rec, err)
	}
	s.Close()
	stale := rec
	stale.Ref = strings.Repeat("ab", 32) // no such object
	f, err := os.OpenFile(filepath.Join(h.dir, recordsName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(formatRecordLine(stale)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	log, lines := newLogger()
	s = h.open(t, Options{Logger: log})
	if got, _ := s.records.get(rec.ID); got.Ref != stale.Ref {
		t.Fatalf("cached record %+v, want the stale one", got)
	}
	h.readAll(t, s)
	if !strings.Contains(lines.String(), "reading again with the catalog's") {
		t.Errorf("no log line of the stale record; log:\n%s", lines)
	}
	s.Close()
	s = h.open(t, Options{})
	if got, _ := s.records.get(rec.ID); got.Ref != rec.Ref {
		t.Errorf("cached record after the read %+v, want the catalog's %+v", got, rec)
	}
}

// TestRecordLines: the lines of the record file, and what a damaged one
// parses to.
func TestRecordLines(t *testing.T) {
	id, ref := strings.Repeat("0f", 32), strings.Repeat("a1", 32)
	good := formatRecordLine(catalog.Object{ID: id, Ref: ref, RawSize: 10, StoredSize: 7})
	alone := formatRecordLine(catalog.Object{ID: id, RawSize: 10, StoredSize: 7})
	tests := []struct {
		name string
		line string
		want catalog.Object
		ok   bool
	}{
		{"with a reference", good, catalog.Object{ID: id, Ref: ref, RawSize: 10, StoredSize: 7}, true},
		{"alone", alone, catalog.Object{ID: id, RawSize: 10, StoredSize: 7}, true},
		{"tombstone", formatTombstone(id), catalog.Object{ID: id, RawSize: -1, StoredSize: -1}, true},
		{"a digit changed", strings.Replace(good, " 10 ", " 11 ", 1), catalog.Object{}, false},
		{"torn", good[:len(good)/2], catalog.Object{}, false},
		{"no checksum", strings.TrimSpace(good[:strings.LastIndexByte(good, ' ')]), catalog.Object{}, false},
		{"upper-case id", withLineCRC(strings.ToUpper(id) + " - 1 1"), catalog.Object{}, false},
		{"empty", "", catalog.Object{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseRecordLine(strings.TrimSuffix(tc.line, "\n"))
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("parse %q = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestRecordCacheFile: records survive a reopen, a forgotten one stays
// forgotten, and damaged lines are skipped.
func TestRecordCacheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), recordsName)
	log, _ := newLogger()
	a := catalog.Object{ID: strings.Repeat("0a", 32), Ref: strings.Repeat("0b", 32), RawSize: 5, StoredSize: 3}
	b := catalog.Object{ID: strings.Repeat("0b", 32), RawSize: 5, StoredSize: 4}
	c := catalog.Object{ID: strings.Repeat("0c", 32), RawSize: 6, StoredSize: 2}
	rc := openRecordCache(path, log)
	for _, r := range []catalog.Object{a, b, c} {
		rc.put(r)
	}
	if got := rc.chain(a.ID); len(got) != 2 || got[0] != a.ID || got[1] != b.ID {
		t.Errorf("chain of a = %v, want a, b", got)
	}
	rc.forget(c.ID)
	rc.close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("garbage line\n" + formatRecordLine(catalog.Object{ID: c.ID, RawSize: 1})[:20])
	f.Close()

	rc = openRecordCache(path, log)
	defer rc.close()
	for _, tc := range []struct {
		rec  catalog.Object
		want bool
	}{{a, true}, {b, true}, {c, false}} {
		got, ok := rc.get(tc.rec.ID)
		if ok != tc.want || (ok && got != tc.rec) {
			t.Errorf("get %s… = %+v, %v; want %+v, %v", tc.rec.ID[:4], got, ok, tc.rec, tc.want)
		}
	}
}
