package diskcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"deltafs/internal/fault"
)

// origin is an object the tests fetch from, counting what they fetch.
type origin struct {
	id      string
	data    []byte
	fetches atomic.Int64
	bytes   atomic.Int64
}

func newOrigin(seed uint64, size int) *origin {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(data)
	return &origin{id: hex.EncodeToString(sum[:]), data: data}
}

func (o *origin) fetch(ctx context.Context, off int64, p []byte) error {
	o.fetches.Add(1)
	o.bytes.Add(int64(len(p)))
	if off < 0 || off+int64(len(p)) > int64(len(o.data)) {
		return errors.New("fetch outside the object")
	}
	copy(p, o.data[off:])
	return nil
}

func (o *origin) read(t testing.TB, c *Cache, off int64, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	got, err := c.ReadAt(context.Background(), o.id, int64(len(o.data)), p, off, o.fetch)
	if err != nil && !(err == io.EOF && off+int64(n) > int64(len(o.data))) {
		t.Errorf("ReadAt(%d, %d): %v", off, n, err) // Errorf: readers run in goroutines too
		return nil
	}
	want := o.data[min(off, int64(len(o.data))):min(off+int64(n), int64(len(o.data)))]
	if !bytes.Equal(p[:got], want) {
		t.Errorf("ReadAt(%d, %d): %d bytes differ from the object's", off, n, got)
	}
	return p[:got]
}

func openCache(t testing.TB, dir string, opts Options) *Cache {
	t.Helper()
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestReadAtRanges(t *testing.T) {
	const bs = 1000
	o := newOrigin(1, 10*bs+17)
	size := int64(len(o.data))
	tests := []struct {
		name        string
		off         int64
		n           int
		wantN       int
		wantEOF     bool
		wantFetched int64 // bytes fetched, cold cache
	}{
		{"empty", 5, 0, 0, false, 0},
		{"inside one block", 10, 100, 100, false, bs},
		{"whole first block", 0, bs, bs, false, bs},
		{"across two blocks", bs - 1, 2, 2, false, 2 * bs},
		{"three blocks", 500, 2 * bs, 2 * bs, false, 3 * bs},
		{"last short block", size - 10, 10, 10, false, 17},
		{"past the end", size - 10, 20, 10, true, 17},
		{"at the end", size, 5, 0, true, 0},
		{"whole object", 0, int(size), int(size), false, size},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openCache(t, t.TempDir(), Options{BlockSize: bs, Size: 1 << 20})
			o.bytes.Store(0)
			p := make([]byte, tc.n)
			n, err := c.ReadAt(context.Background(), o.id, size, p, tc.off, o.fetch)
			if n != tc.wantN || (err == io.EOF) != tc.wantEOF || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt = %d, %v; want %d, EOF %v", n, err, tc.wantN, tc.wantEOF)
			}
			if tc.off < size && !bytes.Equal(p[:n], o.data[tc.off:tc.off+int64(n)]) {
				t.Fatal("wrong bytes")
			}
			if got := o.bytes.Load(); got != tc.wantFetched {
				t.Fatalf("fetched %d bytes, want %d", got, tc.wantFetched)
			}
			// Again: all from disk.
			o.bytes.Store(0)
			if _, err := c.ReadAt(context.Background(), o.id, size, p, tc.off, o.fetch); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if got := o.bytes.Load(); got != 0 {
				t.Fatalf("second read fetched %d bytes", got)
			}
		})
	}
}

func TestReadAtInvalid(t *testing.T) {
	c := openCache(t, t.TempDir(), Options{})
	o := newOrigin(2, 10)
	for _, tc := range []struct {
		id   string
		size int64
		off  int64
	}{{"../etc", 10, 0}, {"A", 10, 0}, {o.id, -1, 0}, {o.id, 10, -1}, {"", 10, 0}} {
		if _, err := c.ReadAt(context.Background(), tc.id, tc.size, make([]byte, 1), tc.off, o.fetch); !errors.Is(err, ErrInvalid) {
			t.Errorf("ReadAt(%q, %d, %d) = %v, want ErrInvalid", tc.id, tc.size, tc.off, err)
		}
	}
}

// TestBoundAndLRU: the bytes kept never exceed the bound; the block read
// last is kept and the least recently used goes.
func TestBoundAndLRU(t *testing.T) {
	const bs = 100
	blockFile := bs + tailLen(bs)
	c := openCache(t, t.TempDir(), Options{BlockSize: bs, Size: 4 * blockFile})
	o := newOrigin(3, 10*bs)
	for b := range 4 {
		o.read(t, c, int64(b*bs), bs)
	}
	o.read(t, c, 0, bs) // block 0 is now the most recent; block 1 the least
	o.read(t, c, 4*bs, bs)
	st := c.Stats()
	if st.Bytes > 4*blockFile || st.Blocks != 4 || st.Evictions != 1 {
		t.Fatalf("stats %+v: want 4 blocks, one eviction, at most %d bytes", st, 4*blockFile)
	}
	before := o.fetches.Load()
	o.read(t, c, 0, bs)
	if o.fetches.Load() != before {
		t.Fatal("block 0, used recently, was evicted")
	}
	o.read(t, c, bs, bs)
	if o.fetches.Load() != before+1 {
		t.Fatal("block 1, the least recently used, was kept")
	}
	for range 50 {
		o.read(t, c, rand.Int64N(int64(len(o.data))), 1+rand.IntN(3*bs))
		if st := c.Stats(); st.Bytes > 4*blockFile {
			t.Fatalf("%d bytes kept, bound %d", st.Bytes, 4*blockFile)
		}
	}
	if n := countFiles(t, c.Dir()); int64(n) != c.Stats().Blocks {
		t.Fatalf("%d block files on disk, index has %d", n, c.Stats().Blocks)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	entries, _ := filepath.Glob(filepath.Join(dir, "??", "*"))
	for _, e := range entries {
		if _, _, ok := parseBlockName(filepath.Base(e)); ok {
			n++
		}
	}
	return n
}

// TestRestart: a reopened cache serves what the last one fetched, and
// remembers which blocks were used last.
func TestRestart(t *testing.T) {
	const bs = 100
	blockFile := bs + tailLen(bs)
	dir := t.TempDir()
	o := newOrigin(4, 10*bs)
	c, err := Open(dir, Options{BlockSize: bs, Size: 3 * blockFile})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []int{0, 1, 2} {
		o.read(t, c, int64(b*bs), bs)
		time.Sleep(10 * time.Millisecond) // distinct modification times
	}
	o.read(t, c, 0, bs) // 0 most recent: 1 is the least recently used
	if _, err := Open(dir, Options{BlockSize: bs}); !errors.Is(err, ErrLocked) || !errors.Is(err, fault.Busy) {
		t.Fatalf("second Open while the first holds the directory = %v, want ErrLocked", err)
	}
	c.Close()

	c = openCache(t, dir, Options{BlockSize: bs, Size: 3 * blockFile})
	if st := c.Stats(); st.Blocks != 3 || st.Bytes != 3*blockFile {
		t.Fatalf("reopened stats %+v, want 3 blocks", st)
	}
	before := o.fetches.Load()
	o.read(t, c, 3*bs, bs) // evicts block 1
	o.read(t, c, 0, bs)
	o.read(t, c, 2*bs, bs)
	if got := o.fetches.Load() - before; got != 1 {
		t.Fatalf("%d fetches after the restart, want 1 (blocks 0 and 2 kept)", got)
	}
	o.read(t, c, bs, bs)
	if got := o.fetches.Load() - before; got != 2 {
		t.Fatal("block 1, the least recently used before the restart, was kept")
	}

	// Another block size empties the cache.
	c.Close()
	c = openCache(t, dir, Options{BlockSize: 2 * bs})
	if st := c.Stats(); st.Blocks != 0 {
		t.Fatalf("after a block size change %d blocks kept", st.Blocks)
	}
}

// TestCorruptBlockRefetched: a damaged block file is detected, never
// served, removed and fetched again.
func TestCorruptBlockRefetched(t *testing.T) {
	const bs = 256
	o := newOrigin(5, 3*bs)
	damage := []struct {
		name string
		fn   func(b []byte) []byte
	}{
		{"flipped bit", func(b []byte) []byte { b[7] ^= 0x10; return b }},
		{"flipped trailer", func(b []byte) []byte { b[len(b)-trailerLen] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"emptied", func(b []byte) []byte { return nil }},
		{"trailer only", func(b []byte) []byte { return b[len(b)-trailerLen:] }},
		{"bad magic", func(b []byte) []byte { b[len(b)-1] = 'X'; return b }},
		{"another block's bytes", func(b []byte) []byte {
			d := append([]byte(nil), o.data[2*bs:3*bs]...)
			return append(d, encodeTail(blockName(o.id, 2), d)...)
		}},
	}
	for _, tc := range damage {
		t.Run(tc.name, func(t *testing.T) {
			c := openCache(t, t.TempDir(), Options{BlockSize: bs})
			o.read(t, c, bs, bs)
			path := c.path(blockName(o.id, 1))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.fn(b), 0o600); err != nil {
				t.Fatal(err)
			}
			before := o.fetches.Load()
			o.read(t, c, bs, bs) // checks the bytes
			if o.fetches.Load() != before+1 || c.Stats().Corrupt != 1 {
				t.Fatalf("damaged block: %d fetches, stats %+v; want one fetch, one corrupt", o.fetches.Load()-before, c.Stats())
			}
			o.read(t, c, bs, bs)
			if o.fetches.Load() != before+1 {
				t.Fatal("the refetched block was not kept")
			}
		})
	}
}

// TestSingleFlight: readers that want the same block at once cause one fetch.
func TestSingleFlight(t *testing.T) {
	const bs, readers = 1 << 10, 16
	c := openCache(t, t.TempDir(), Options{BlockSize: bs})
	o := newOrigin(6, 4*bs)
	release := make(chan struct{})
	fetch := func(ctx context.Context, off int64, p []byte) error {
		<-release
		return o.fetch(ctx, off, p)
	}
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 2*bs)
			off := int64(i%2) * bs / 2 // blocks 0 and 1, or 0 and 1 again
			if _, err := c.ReadAt(context.Background(), o.id, int64(len(o.data)), p, off, fetch); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(p, o.data[off:off+2*bs]) {
				errs <- errors.New("wrong bytes")
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let every reader ask
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := o.fetches.Load(); got != 3 {
		t.Fatalf("%d fetches for blocks 0, 1 and 2, want 3", got)
	}
}

// TestParallelFetch: one read over many missing blocks fetches them at once.
func TestParallelFetch(t *testing.T) {
	const bs, blocks, par = 1 << 10, 12, 4
	c := openCache(t, t.TempDir(), Options{BlockSize: bs, Parallel: par})
	o := newOrigin(7, blocks*bs)
	var cur, peak atomic.Int64
	// Each fetch waits (up to a second) until par of them run at once.
	fetch := func(ctx context.Context, off int64, p []byte) error {
		n := cur.Add(1)
		for {
			m := peak.Load()
			if n <= m || peak.CompareAndSwap(m, n) {
				break
			}
		}
		for deadline := time.Now().Add(time.Second); peak.Load() < par && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		cur.Add(-1)
		return o.fetch(ctx, off, p)
	}
	p := make([]byte, len(o.data))
	if _, err := c.ReadAt(context.Background(), o.id, int64(len(o.data)), p, 0, fetch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, o.data) {
		t.Fatal("wrong bytes")
	}
	if got := peak.Load(); got != par {
		t.Fatalf("%d fetches at once, want %d", got, par)
	}
}

// TestFetchError: a failed fetch reaches every waiting reader, nothing is
// kept, and the next read fetches again.
func TestFetchError(t *testing.T) {
	const bs = 100
	c := openCache(t, t.TempDir(), Options{BlockSize: bs})
	o := newOrigin(8, 3*bs)
	errDown := errors.New("origin down")
	var down atomic.Bool
	down.Store(true)
	fetch := func(ctx context.Context, off int64, p []byte) error {
		if down.Load() {
			return errDown
		}
		return o.fetch(ctx, off, p)
	}
	p := make([]byte, 2*bs)
	if _, err := c.ReadAt(context.Background(), o.id, int64(len(o.data)), p, 50, fetch); !errors.Is(err, errDown) {
		t.Fatalf("ReadAt with the origin down = %v, want it to wrap the fetch error", err)
	}
	if st := c.Stats(); st.Blocks != 0 {
		t.Fatalf("%d blocks kept after failed fetches", st.Blocks)
	}
	down.Store(false)
	if _, err := c.ReadAt(context.Background(), o.id, int64(len(o.data)), p, 50, fetch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, o.data[50:50+2*bs]) {
		t.Fatal("wrong bytes")
	}
}

// TestCancelledReader: a reader that gives up returns at once; the fetch
// it started completes for the others and is kept.
func TestCancelledReader(t *testing.T) {
	const bs = 100
	c := openCache(t, t.TempDir(), Options{BlockSize: bs})
	o := newOrigin(9, bs)
	release := make(chan struct{})
	fetch := func(ctx context.Context, off int64, p []byte) error {
		<-release
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return o.fetch(ctx, off, p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.ReadAt(ctx, o.id, bs, make([]byte, bs), 0, fetch)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled reader got %v", err)
	}
	close(release)
	o.read(t, c, 0, bs)
	if o.fetches.Load() != 1 {
		t.Fatalf("%d fetches, want the cancelled reader's one, kept", o.fetches.Load())
	}
}

// TestConcurrentMixed runs readers over several objects with a small bound
// (evictions while reading), for the race detector.
func TestConcurrentMixed(t *testing.T) {
	const bs = 512
	c := openCache(t, t.TempDir(), Options{BlockSize: bs, Size: 8 * (bs + tailLen(bs))})
	objs := []*origin{newOrigin(10, 7*bs+3), newOrigin(11, 3*bs), newOrigin(12, 20*bs)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for range 100 {
				o := objs[r.IntN(len(objs))]
				off := r.Int64N(int64(len(o.data)))
				o.read(t, c, off, 1+r.IntN(3*bs))
			}
		}()
	}
	wg.Wait()
	if st := c.Stats(); st.Bytes > 8*(bs+tailLen(bs)) {
		t.Fatalf("%d bytes kept, bound %d", st.Bytes, 8*(bs+tailLen(bs)))
	}
}

func TestForget(t *testing.T) {
	const bs = 100
	c := openCache(t, t.TempDir(), Options{BlockSize: bs})
	o := newOrigin(13, 3*bs+1)
	o.read(t, c, 0, len(o.data))
	c.Forget(o.id, int64(len(o.data)))
	if st := c.Stats(); st.Blocks != 0 || st.Bytes != 0 || countFiles(t, c.Dir()) != 0 {
		t.Fatalf("after Forget: stats %+v, %d files", st, countFiles(t, c.Dir()))
	}
}

// TestCorruptSegment: a damaged segment of a block fails the reads that
// touch it (refetched), not those of its other segments.
func TestCorruptSegment(t *testing.T) {
	const bs = 4 * segSize
	c := openCache(t, t.TempDir(), Options{BlockSize: bs})
	o := newOrigin(14, bs)
	o.read(t, c, 0, bs)
	path := c.path(blockName(o.id, 0))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[3*segSize+5] ^= 0x80
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	o.read(t, c, 100, segSize) // segments 0 and 1
	if o.fetches.Load() != 1 || c.Stats().Corrupt != 0 {
		t.Fatalf("a read of good segments: %d fetches, stats %+v", o.fetches.Load(), c.Stats())
	}
	o.read(t, c, 3*segSize, 10)
	if o.fetches.Load() != 2 || c.Stats().Corrupt != 1 {
		t.Fatalf("a read of the damaged segment: %d fetches, stats %+v; want it refetched", o.fetches.Load(), c.Stats())
	}
}

func FuzzReadFrom(f *testing.F) {
	const name = "ab.0"
	hello := []byte("hello")
	f.Add(append(hello, encodeTail(name, hello)...), int64(5), int64(1), int64(4))
	big := bytes.Repeat([]byte{7}, 2*segSize+3)
	f.Add(append(big, encodeTail(name, big)...), int64(len(big)), int64(segSize-1), int64(segSize+1))
	f.Add([]byte("dfc2dfc2dfc2dfc2"), int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, buf []byte, length, lo, hi int64) {
		if length < 0 || length > 1<<20 || lo < 0 || hi > length || lo > hi {
			return
		}
		dst := make([]byte, hi-lo)
		err := readFrom(bytes.NewReader(buf), int64(len(buf)), name, length, lo, hi, dst)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		if lo == 0 && hi == length {
			again := append(append([]byte(nil), dst...), encodeTail(name, dst)...)
			if !bytes.Equal(again, buf) {
				t.Fatal("a block that reads whole does not encode back to itself")
			}
		}
	})
}

func FuzzParseBlockName(f *testing.F) {
	f.Add("ab12.0")
	f.Add("ab12.01")
	f.Add("x.1")
	f.Fuzz(func(t *testing.T, name string) {
		id, idx, ok := parseBlockName(name)
		if ok && blockName(id, idx) != name {
			t.Fatalf("%q parses to %q, %d which names %q", name, id, idx, blockName(id, idx))
		}
	})
}

// TestReadFromBoundaries reads every range between segment boundaries
// (and one byte either side) of a block of three and a half segments.
func TestReadFromBoundaries(t *testing.T) {
	const name = "ab.0"
	data := newOrigin(90, 3*segSize+segSize/2).data
	length := int64(len(data))
	file := append(append([]byte(nil), data...), encodeTail(name, data)...)
	var offs []int64
	for b := int64(0); b <= length; b += segSize {
		offs = append(offs, max(b-1, 0), b, min(b+1, length))
	}
	offs = append(offs, length-1, length)
	for _, lo := range offs {
		for _, hi := range offs {
			if lo > hi {
				continue
			}
			dst := make([]byte, hi-lo)
			if err := readFrom(bytes.NewReader(file), int64(len(file)), name, length, lo, hi, dst); err != nil {
				t.Fatalf("[%d, %d): %v", lo, hi, err)
			}
			if !bytes.Equal(dst, data[lo:hi]) {
				t.Fatalf("[%d, %d): wrong bytes", lo, hi)
			}
		}
	}
}
