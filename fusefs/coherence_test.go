package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"deltafs/store"
)

// visibleWithin is how soon a change made through one mount must show in
// another (the README's promise).
const visibleWithin = time.Second

// twoMounts mounts one store twice, each mount through its own Store as
// two processes would, and returns the mount points and the store's dir.
func twoMounts(t testing.TB) (a, b, storeDir string) {
	t.Helper()
	sa, dir := newStore(t, store.Options{})
	sb, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	ma := mountStore(t, sa, MountOptions{})
	mb := mountStore(t, sb, MountOptions{})
	return ma.Dir(), mb.Dir(), dir
}

// waitFor polls check until it returns nil and returns how long that took;
// it fails the test when that takes longer than limit.
func waitFor(t testing.TB, limit time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		took := time.Since(start)
		if err == nil {
			return took
		}
		if took > limit {
			t.Fatalf("%s: not visible after %v: %v", what, took.Round(time.Millisecond), err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// hasContent checks that path reads as want.
func hasContent(path string, want []byte) func() error {
	return func() error {
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("reads %q, want %q", got, want)
		}
		return nil
	}
}

// isGone checks that path does not exist and is not listed in its directory.
func isGone(path string) func() error {
	return func() error {
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat: %v, want it gone", err)
		}
		names, err := readDirNames(filepath.Dir(path))
		if err != nil {
			return err
		}
		if slices.Contains(names, filepath.Base(path)) {
			return fmt.Errorf("still listed in %v", names)
		}
		return nil
	}
}

// isListed checks that path is listed in its directory and stats as a
// directory or not as wantDir says.
func isListed(path string, wantDir bool) func() error {
	return func() error {
		names, err := readDirNames(filepath.Dir(path))
		if err != nil {
			return err
		}
		if !slices.Contains(names, filepath.Base(path)) {
			return fmt.Errorf("not listed in %v", names)
		}
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		if fi.IsDir() != wantDir {
			return fmt.Errorf("is a directory: %v", fi.IsDir())
		}
		return nil
	}
}

func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// all checks every check in turn.
func all(checks ...func() error) func() error {
	return func() error {
		for _, c := range checks {
			if err := c(); err != nil {
				return err
			}
		}
		return nil
	}
}

// hasMode checks that path has permission bits mode.
func hasMode(path string, mode fs.FileMode) func() error {
	return func() error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != mode {
			return fmt.Errorf("mode %v, want %v", fi.Mode().Perm(), mode)
		}
		return nil
	}
}

// TestChangesVisibleInOtherMount makes each kind of change through one
// mount, after the other mount has looked at (and the kernel cached) what
// it changes, and requires the other mount to show it within a second.
func TestChangesVisibleInOtherMount(t *testing.T) {
	a, b, dir := twoMounts(t)
	mustOK(t, os.MkdirAll(filepath.Join(a, "m", "d"), 0o755))
	mustOK(t, os.WriteFile(filepath.Join(a, "m", "f.bin"), []byte("version one"), 0o644))
	mustOK(t, os.WriteFile(filepath.Join(a, "m", "d", "x.bin"), []byte("in d"), 0o644))
	// A third process's view: a command run beside the mounts.
	cli, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	src := filepath.Join(t.TempDir(), "src")
	mustOK(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	mustOK(t, os.WriteFile(filepath.Join(src, "sub", "w.bin"), []byte("imported"), 0o644))

	steps := []struct {
		name string
		// prime are read (files), listed (dirs) or, with a leading "-",
		// looked up and found missing in b first, so the kernel caches them.
		prime  []string
		change func() error
		check  func() error
	}{
		{"new file", []string{"m", "m/f.bin", "-m/new.bin"},
			func() error { return os.WriteFile(filepath.Join(a, "m", "new.bin"), []byte("new"), 0o644) },
			hasContent(filepath.Join(b, "m", "new.bin"), []byte("new"))},
		{"overwrite with the same size", []string{"m/f.bin"},
			func() error { return os.WriteFile(filepath.Join(a, "m", "f.bin"), []byte("version two"), 0o644) },
			hasContent(filepath.Join(b, "m", "f.bin"), []byte("version two"))},
		{"chmod", []string{"m/f.bin"},
			func() error { return os.Chmod(filepath.Join(a, "m", "f.bin"), 0o600) },
			hasMode(filepath.Join(b, "m", "f.bin"), 0o600)},
		{"rename", []string{"m", "m/f.bin", "-m/g.bin"},
			func() error { return os.Rename(filepath.Join(a, "m", "f.bin"), filepath.Join(a, "m", "g.bin")) },
			all(isGone(filepath.Join(b, "m", "f.bin")),
				hasContent(filepath.Join(b, "m", "g.bin"), []byte("version two")))},
		{"rename over a file", []string{"m", "m/g.bin", "m/new.bin"},
			func() error { return os.Rename(filepath.Join(a, "m", "new.bin"), filepath.Join(a, "m", "g.bin")) },
			all(isGone(filepath.Join(b, "m", "new.bin")),
				hasContent(filepath.Join(b, "m", "g.bin"), []byte("new")))},
		{"unlink", []string{"m", "m/g.bin"},
			func() error { return os.Remove(filepath.Join(a, "m", "g.bin")) },
			isGone(filepath.Join(b, "m", "g.bin"))},
		{"mkdir", []string{"m", "-m/e"},
			func() error { return os.Mkdir(filepath.Join(a, "m", "e"), 0o755) },
			isListed(filepath.Join(b, "m", "e"), true)},
		{"rename a directory", []string{"m", "m/d", "m/d/x.bin", "-m/d2"},
			func() error { return os.Rename(filepath.Join(a, "m", "d"), filepath.Join(a, "m", "d2")) },
			all(isGone(filepath.Join(b, "m", "d")),
				hasContent(filepath.Join(b, "m", "d2", "x.bin"), []byte("in d")))},
		{"rmdir", []string{"m", "m/e"},
			func() error { return os.Remove(filepath.Join(a, "m", "e")) },
			isGone(filepath.Join(b, "m", "e"))},
		{"new model by a command", []string{"", "-imp"},
			func() error {
				_, err := cli.Import(context.Background(), src, "imp", store.ImportOptions{})
				return err
			},
			hasContent(filepath.Join(b, "imp", "sub", "w.bin"), []byte("imported"))},
		{"model removed by a command", []string{"", "imp", "imp/sub", "imp/sub/w.bin"},
			func() error { return cli.RemoveAll(context.Background(), "imp") },
			isGone(filepath.Join(b, "imp"))},
	}
	for _, st := range steps {
		for _, p := range st.prime {
			prime(t, b, p)
		}
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		took := waitFor(t, visibleWithin, st.name, st.check)
		t.Logf("%s: visible in the other mount after %v", st.name, took.Round(time.Millisecond))
	}
}

// prime makes the kernel cache path: a directory's listing and entries, a
// file's attributes and pages; with a leading "-", its absence.
func prime(t testing.TB, mnt, path string) {
	t.Helper()
	if missing, ok := strings.CutPrefix(path, "-"); ok {
		if _, err := os.Stat(filepath.Join(mnt, missing)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("prime: %s: %v, want it missing", missing, err)
		}
		return
	}
	path = filepath.Join(mnt, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("prime: %v", err)
	}
	if fi.IsDir() {
		if _, err := os.ReadDir(path); err != nil {
			t.Fatalf("prime: %v", err)
		}
		return
	}
	if _, err := os.ReadFile(path); err != nil {
		t.Fatalf("prime: %v", err)
	}
}

// lostFeed is a store whose change log always reports that it lost what
// changed (as when a mount falls more than the log's length behind).
type lostFeed struct{ *store.Store }

func (l lostFeed) ChangesSince(ctx context.Context, after uint64) (store.Changes, error) {
	ch, err := l.Store.ChangesSince(ctx, after)
	ch.Lost, ch.Paths = len(ch.Paths) > 0, nil
	return ch, err
}

// TestLostChangesDropEverything: a mount told that changes were lost drops
// every entry, attribute and page it cached.
func TestLostChangesDropEverything(t *testing.T) {
	sa, dir := newStore(t, store.Options{})
	sb, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	a := mountStore(t, sa, MountOptions{}).Dir()
	b := mountStore(t, lostFeed{sb}, MountOptions{}).Dir()
	mustOK(t, os.MkdirAll(filepath.Join(a, "m", "d"), 0o755))
	mustOK(t, os.WriteFile(filepath.Join(a, "m", "d", "f.bin"), []byte("version one"), 0o644))
	mustOK(t, os.WriteFile(filepath.Join(a, "m", "g.bin"), []byte("gone soon"), 0o644))
	waitFor(t, visibleWithin, "setup", hasContent(filepath.Join(b, "m", "d", "f.bin"), []byte("version one")))
	prime(t, b, "m/g.bin")
	prime(t, b, "m/d/f.bin")

	mustOK(t, os.WriteFile(filepath.Join(a, "m", "d", "f.bin"), []byte("version two"), 0o644))
	mustOK(t, os.Remove(filepath.Join(a, "m", "g.bin")))
	waitFor(t, visibleWithin, "overwrite", hasContent(filepath.Join(b, "m", "d", "f.bin"), []byte("version two")))
	waitFor(t, visibleWithin, "unlink", isGone(filepath.Join(b, "m", "g.bin")))
}

// TestWriterKeepsDirectoryRenamedElsewhere: a file being written through
// one mount in a directory the other mount renames is not silently
// dropped: its close either stores it or fails.
func TestWriterKeepsDirectoryRenamedElsewhere(t *testing.T) {
	a, b, dir := twoMounts(t)
	mustOK(t, os.MkdirAll(filepath.Join(a, "m", "w"), 0o755))
	waitFor(t, visibleWithin, "setup", isListed(filepath.Join(b, "m", "w"), true))
	f, err := os.Create(filepath.Join(b, "m", "w", "x.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("written in b"); err != nil {
		t.Fatal(err)
	}
	mustOK(t, os.Rename(filepath.Join(a, "m", "w"), filepath.Join(a, "m", "w2")))
	waitFor(t, visibleWithin, "rename", isGone(filepath.Join(a, "m", "w")))
	time.Sleep(3 * changePollInterval) // b has applied the rename
	closeErr := f.Close()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stored []string
	for _, p := range []string{"m/w/x.bin", "m/w2/x.bin"} {
		if _, err := s.Stat(context.Background(), p); err == nil {
			stored = append(stored, p)
		}
	}
	t.Logf("close: %v; stored at %v", closeErr, stored)
	if closeErr == nil && len(stored) == 0 {
		t.Errorf("close succeeded and the file is stored nowhere")
	}
}
