package fusefs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"deltafs/internal/testenv"
	"deltafs/store"
)

// gatedStore is a store whose ingests wait until the gate opens, so that
// files stay pending as long as a test needs.
type gatedStore struct {
	*store.Store
	gate chan struct{}
}

func (g *gatedStore) Ingest(ctx context.Context, path string, src *os.File, opts store.IngestOptions) (store.FileInfo, error) {
	<-g.gate
	return g.Store.Ingest(ctx, path, src, opts)
}

// readStats decodes the mount's .deltafs-stats.
func readStats(t testing.TB, mnt string) statsReport {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mnt, statsName))
	if err != nil {
		t.Fatal(err)
	}
	var r statsReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// drained waits until the mount's write-back backlog is empty.
func drained(t testing.TB, mnt string) {
	t.Helper()
	waitFor(t, 30*time.Second, "the write-back backlog to drain", func() error {
		if r := readStats(t, mnt); r.WritebackFiles != 0 {
			return fmt.Errorf("%d files pending", r.WritebackFiles)
		}
		return nil
	})
}

// TestWritebackPending: with --writeback close() returns while the file is
// still to be encoded; it is read from its staging file meanwhile, counted
// in the stats' backlog, renamed with its name, invisible to the store until
// stored, and stored once the encoder runs. A removed pending file is never
// stored.
func TestWritebackPending(t *testing.T) {
	testenv.RequireFUSE(t)
	s, _ := newStore(t, store.Options{})
	g := &gatedStore{Store: s, gate: make(chan struct{})}
	m := mountStore(t, g, MountOptions{Writeback: true})
	if err := os.Mkdir(filepath.Join(m.Dir(), "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	data := npyFloat32(3, 300000)
	tmp := filepath.Join(m.Dir(), "m", ".a.npy.Xy12ab")
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		t.Fatalf("write-back close failed: %v", err)
	}
	if err := os.Rename(tmp, filepath.Join(m.Dir(), "m", "a.npy")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.Dir(), "m", "gone.bin"), []byte("removed before stored"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(m.Dir(), "m", "gone.bin")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"read from the staging file", func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(m.Dir(), "m", "a.npy"))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("read of a pending file: %d bytes, %v", len(got), err)
			}
		}},
		{"stat", func(t *testing.T) {
			fi, err := os.Stat(filepath.Join(m.Dir(), "m", "a.npy"))
			if err != nil || fi.Size() != int64(len(data)) || fi.Mode().Perm() != 0o640 {
				t.Errorf("stat of a pending file: %v %v", fi, err)
			}
		}},
		{"backlog in the stats", func(t *testing.T) {
			r := readStats(t, m.Dir())
			if r.WritebackFiles != 1 || r.WritebackBytes != int64(len(data)) {
				t.Errorf("backlog %d files %d bytes, want 1 file %d bytes", r.WritebackFiles, r.WritebackBytes, len(data))
			}
		}},
		{"not in the store yet", func(t *testing.T) {
			if _, err := s.Stat(context.Background(), "m/a.npy"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a pending file is in the store already: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}

	close(g.gate)
	drained(t, m.Dir())
	fi, err := s.Stat(context.Background(), "m/a.npy")
	if err != nil || fi.Mode != 0o640 {
		t.Fatalf("stored file: %+v %v", fi, err)
	}
	if got, err := storedContent(s, "m/a.npy"); err != nil || !bytes.Equal(got, data) {
		t.Error("the stored file differs from what was written")
	}
	for _, p := range []string{"m/gone.bin", "m/.a.npy.Xy12ab"} {
		if _, err := s.Stat(context.Background(), p); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s stored: %v", p, err)
		}
	}
}

// TestWritebackRewriteWaits: opening a pending file for writing again
// changes nothing of what was closed until it is stored; the new content
// is stored after it.
func TestWritebackRewriteWaits(t *testing.T) {
	testenv.RequireFUSE(t)
	s, _ := newStore(t, store.Options{})
	g := &gatedStore{Store: s, gate: make(chan struct{})}
	m := mountStore(t, g, MountOptions{Writeback: true})
	if err := os.Mkdir(filepath.Join(m.Dir(), "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(m.Dir(), "m", "f.npy")
	first, second := npyFloat32(1, 1000), npyFloat32(2, 2000)
	if err := os.WriteFile(name, first, 0o644); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() { wrote <- os.WriteFile(name, second, 0o644) }()
	select {
	case err := <-wrote:
		t.Fatalf("a rewrite of a pending file did not wait for it to be stored (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(g.gate)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	drained(t, m.Dir())
	fi, err := s.Stat(context.Background(), "m/f.npy")
	if err != nil || fi.Size != int64(len(second)) {
		t.Errorf("stored %+v %v, want the second content", fi, err)
	}
}

// TestWritebackCrash kills a --writeback mount with SIGKILL while files
// are pending; every file whose close() returned 0 is there, byte-exact,
// once the store is opened again.
func TestWritebackCrash(t *testing.T) {
	testenv.RequireFUSE(t)
	storeDir := filepath.Join(t.TempDir(), "store")
	if err := store.Init(storeDir); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(childWritebackEnv, "slow")
	child := startChildMount(t, storeDir, mnt, 0, 0)
	killed := false
	t.Cleanup(func() {
		if !killed {
			child.Process.Kill()
			child.Wait()
		}
		lazyUnmount(mnt)
	})
	if err := os.Mkdir(filepath.Join(mnt, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 64 << 10
	var closed []int
	for i := range 12 {
		if err := os.WriteFile(filepath.Join(mnt, "m", fileName(i)), npyFloat32(i, n), 0o644); err != nil {
			t.Fatalf("close %d: %v", i, err)
		}
		closed = append(closed, i)
	}
	if r := readStats(t, mnt); r.WritebackFiles == 0 {
		t.Fatalf("nothing pending at the kill: the test would prove nothing (%+v)", r)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	killed = true
	lazyUnmount(mnt)

	s, err := store.Open(storeDir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := s.Recovered()
	if rec.StoredFiles == 0 {
		t.Errorf("recovery stored no file: %+v", rec)
	}
	for _, i := range closed {
		got, err := storedContent(s, "m/"+fileName(i))
		if err != nil {
			t.Errorf("%s: %v", fileName(i), err)
		} else if !bytes.Equal(got, npyFloat32(i, n)) {
			t.Errorf("%s: %d bytes, not what was written", fileName(i), len(got))
		}
	}
	if left := stagingLeft(t, storeDir); len(left) != 0 {
		t.Errorf("staging files left after recovery: %v", left)
	}
	t.Logf("%d files closed before the kill, %d stored by the recovery", len(closed), rec.StoredFiles)
}

func fileName(i int) string { return "f" + string(rune('a'+i)) + ".npy" }

// stagingLeft lists the files under a store's staging directory.
func stagingLeft(t testing.TB, storeDir string) []string {
	var out []string
	filepath.WalkDir(filepath.Join(storeDir, "staging"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestWritebackWaitsForQuiet: a file closed while the mount is being
// written stays pending (its encoding would take the writer's CPU) until
// the writes pause, or until it has waited writebackMaxDefer.
func TestWritebackWaitsForQuiet(t *testing.T) {
	testenv.RequireFUSE(t)
	tests := []struct {
		name            string
		quiet, maxDefer time.Duration
		storedMidway    bool // stored while the other file is still written
	}{
		{"waits for a pause in the writes", time.Second, time.Hour, false},
		{"waits no longer than the bound", time.Hour, 300 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t, store.Options{})
			m := mountStore(t, s, MountOptions{Writeback: true})
			wb := m.fsys.wb
			wb.quiet.Store(int64(tt.quiet))
			wb.maxDefer.Store(int64(tt.maxDefer))
			dir := filepath.Join(m.Dir(), "m")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "a.npy"), npyFloat32(1, 1000), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(filepath.Join(dir, "b.bin"))
			if err != nil {
				t.Fatal(err)
			}
			// Writes every 20 ms: for 1.5 s when the file must wait, else
			// until it is stored (a loaded machine may take a while).
			limit := 1500 * time.Millisecond
			if tt.storedMidway {
				limit = 20 * time.Second
			}
			chunk := make([]byte, 4096)
			var storedAt time.Duration
			for start := time.Now(); time.Since(start) < limit && storedAt == 0; {
				if _, err := f.Write(chunk); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Stat(context.Background(), "m/a.npy"); err == nil {
					storedAt = time.Since(start)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if stored := storedAt != 0; stored != tt.storedMidway {
				t.Errorf("stored while the other file was written: %v (after %v), want %v", stored, storedAt, tt.storedMidway)
			}
			// The workers read these again as they wait.
			wb.quiet.Store(int64(50 * time.Millisecond))
			wb.maxDefer.Store(int64(50 * time.Millisecond))
			drained(t, m.Dir())
			for _, p := range []string{"m/a.npy", "m/b.bin"} {
				if _, err := s.Stat(context.Background(), p); err != nil {
					t.Errorf("%s not stored: %v", p, err)
				}
			}
		})
	}
}

// TestWritebackNotOverNewer: a file closed in a write-back mount and still
// pending is not stored over a file another process stored at its path
// after the close; the mount then shows the newer file.
func TestWritebackNotOverNewer(t *testing.T) {
	testenv.RequireFUSE(t)
	s, dir := newStore(t, store.Options{})
	g := &gatedStore{Store: s, gate: make(chan struct{})}
	m := mountStore(t, g, MountOptions{Writeback: true})
	if err := os.Mkdir(filepath.Join(m.Dir(), "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(m.Dir(), "m", "a.npy")
	if err := os.WriteFile(name, npyFloat32(1, 5000), 0o644); err != nil {
		t.Fatal(err)
	}

	other, err := store.Open(dir, store.Options{}) // another process
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	newer := npyFloat32(2, 7000)
	f, err := os.CreateTemp(other.StagingDir(), "other-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(newer); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Ingest(context.Background(), "m/a.npy", f, store.IngestOptions{}); err != nil {
		t.Fatal(err)
	}

	close(g.gate)
	drained(t, m.Dir())
	if got, err := storedContent(other, "m/a.npy"); err != nil || !bytes.Equal(got, newer) {
		t.Errorf("the store holds %d bytes (%v), not the newer file: the older pending file was stored over it", len(got), err)
	}
	waitFor(t, 5*time.Second, "the mount showing the newer file", hasContent(name, newer))
}

// storedContent reads the whole file path of s.
func storedContent(s *store.Store, path string) ([]byte, error) {
	f, err := s.Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	got := make([]byte, f.Size())
	k, err := f.ReadAtContext(context.Background(), got, 0)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return got[:k], err
}

// TestWritebackDirectWrite: a write-only handle of a write-back mount
// writes with direct I/O, and a reader of the same file in the mount still
// sees each write at once (its cached pages of the range are dropped),
// the size growing with it, before and after the close.
func TestWritebackDirectWrite(t *testing.T) {
	testenv.RequireFUSE(t)
	s, _ := newStore(t, store.Options{})
	m := mountStore(t, s, MountOptions{Writeback: true})
	path := filepath.Join(m.Dir(), "f.bin")
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	first, second := bytes.Repeat([]byte("a"), 8192), bytes.Repeat([]byte("b"), 4096)
	if _, err := w.Write(first); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readBack := func(want []byte) {
		t.Helper()
		got := make([]byte, len(want)+1)
		k, err := r.ReadAt(got, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if !bytes.Equal(got[:k], want) {
			t.Fatalf("read %d bytes %q..., want %d bytes %q...", k, got[:min(k, 4)], len(want), want[:4])
		}
	}
	readBack(first) // now in the reader's page cache
	if _, err := w.WriteAt(second, 2048); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(second, 8192); err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte{}, first[:2048]...), second...), first[6144:]...)
	want = append(want, second...)
	readBack(want)
	if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(want)) {
		t.Fatalf("stat: %v, %v; want size %d", fi, err, len(want))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	readBack(want)
	drained(t, m.Dir())
	readBack(want)
}

// TestWriteOpenFlags: direct I/O only for write-only handles of a
// write-back mount on a kernel that drops the pages a direct write covers.
func TestWriteOpenFlags(t *testing.T) {
	tests := []struct {
		name         string
		writeback    bool
		directWrites bool
		flags        uint32
		want         uint32
	}{
		{"write-only, write-back", true, true, syscall.O_WRONLY | syscall.O_CREAT | syscall.O_TRUNC, fuse.FOPEN_DIRECT_IO},
		{"read-write, write-back", true, true, syscall.O_RDWR, 0},
		{"write-only, no write-back", false, true, syscall.O_WRONLY, 0},
		{"write-only, older kernel", true, false, syscall.O_WRONLY, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fsys{}
			if tt.writeback {
				f.wb = &writeback{}
			}
			f.directWrites.Store(tt.directWrites)
			if got := f.writeOpenFlags(tt.flags); got != tt.want {
				t.Errorf("writeOpenFlags(%#o) = %#x, want %#x", tt.flags, got, tt.want)
			}
		})
	}
}
