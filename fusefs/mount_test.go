package fusefs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"deltafs/internal/testenv"
	"deltafs/store"
)

// waitDone fails the test unless m is unmounted within a few seconds.
func waitDone(t *testing.T, m *Mount) {
	t.Helper()
	done := make(chan struct{})
	go func() { m.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("mount still served")
	}
}

// TestUnmountBusyAndCancel: Unmount with a file open detaches lazily (the
// open file still reads), and cancelling Serve's context unmounts.
func TestUnmountBusyAndCancel(t *testing.T) {
	testenv.RequireFUSE(t)
	s, _ := newStore(t, store.Options{})
	dir := filepath.Join(t.TempDir(), "mnt")
	mustOK(t, os.Mkdir(dir, 0o755))
	m, err := Serve(context.Background(), dir, s, MountOptions{})
	mustOK(t, err)
	mustOK(t, os.Mkdir(filepath.Join(dir, "m"), 0o755))
	mustOK(t, os.WriteFile(filepath.Join(dir, "m", "f"), []byte("still here"), 0o644))
	if out := run(t, "df", "-T", dir); !strings.Contains(out, "fuse.deltafs") {
		t.Errorf("df -T:\n%s", out)
	}
	if out := run(t, "df", "--output=avail", dir); strings.TrimSpace(strings.TrimPrefix(out, "Avail")) == "0" {
		t.Errorf("df shows no free space:\n%s", out)
	}
	f, err := os.Open(filepath.Join(dir, "m", "f"))
	mustOK(t, err)
	mustOK(t, m.Unmount())
	if _, err := os.Stat(filepath.Join(dir, "m")); !os.IsNotExist(err) {
		t.Errorf("after a lazy unmount the mount point still shows the store: %v", err)
	}
	data, err := io.ReadAll(f)
	if err != nil || string(data) != "still here" {
		t.Errorf("read of a file open across the lazy unmount: %q %v", data, err)
	}
	f.Close()
	waitDone(t, m)

	ctx, cancel := context.WithCancel(context.Background())
	m, err = Serve(ctx, dir, s, MountOptions{})
	mustOK(t, err)
	if _, err := os.Stat(filepath.Join(dir, "m", "f")); err != nil {
		t.Errorf("second mount: %v", err)
	}
	cancel()
	waitDone(t, m)
	if _, err := os.Stat(filepath.Join(dir, "m")); !os.IsNotExist(err) {
		t.Errorf("after cancel the store is still mounted: %v", err)
	}

	// umount from outside: Wait returns, Unmount has nothing left to do.
	m, err = Serve(context.Background(), dir, s, MountOptions{})
	mustOK(t, err)
	run(t, "umount", dir)
	waitDone(t, m)
	if err := m.Unmount(); err != nil {
		t.Errorf("Unmount after umount: %v", err)
	}
}
