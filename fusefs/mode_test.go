package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"deltafs/store"
)

// chmod through the mount is stored and survives a remount; files and
// directories are created with the mode asked for.
func TestModes(t *testing.T) {
	s, _ := newStore(t, store.Options{})
	mnt := t.TempDir()
	m := mountAt(t, s, mnt, MountOptions{})
	d := filepath.Join(m.Dir(), "m")
	mustOK(t, os.Mkdir(d, 0o755))
	mustOK(t, os.Mkdir(filepath.Join(d, "private"), 0o700))
	f, err := os.OpenFile(filepath.Join(d, "run.sh"), os.O_CREATE|os.O_WRONLY, 0o755)
	mustOK(t, err)
	_, err = f.Write([]byte("#!/bin/sh\n"))
	mustOK(t, err)
	mustOK(t, f.Close())
	mustOK(t, os.WriteFile(filepath.Join(d, "w.bin"), []byte("weights"), 0o644))
	mustOK(t, os.Chmod(filepath.Join(d, "w.bin"), 0o600))
	mustOK(t, os.Chmod(d, 0o750))
	// Mode 000 sticks, also across a rewrite (root may still write).
	mustOK(t, os.WriteFile(filepath.Join(d, "locked"), []byte("1"), 0o644))
	mustOK(t, os.Chmod(filepath.Join(d, "locked"), 0))
	mustOK(t, os.WriteFile(filepath.Join(d, "locked"), []byte("2"), 0o644))
	// chmod while open for writing, before the commit.
	g, err := os.OpenFile(filepath.Join(d, "late.bin"), os.O_CREATE|os.O_WRONLY, 0o644)
	mustOK(t, err)
	mustOK(t, g.Chmod(0o640))
	_, err = g.Write([]byte("late"))
	mustOK(t, err)
	mustOK(t, g.Close())

	want := map[string]os.FileMode{
		"m": 0o750, "m/private": 0o700, "m/run.sh": 0o755, "m/w.bin": 0o600, "m/late.bin": 0o640, "m/locked": 0,
	}
	check := func(when string) {
		t.Helper()
		for rel, mode := range want {
			st, err := os.Stat(filepath.Join(m.Dir(), rel))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != mode {
				t.Errorf("%s: %s mode %o, want %o", when, rel, st.Mode().Perm(), mode)
			}
			fi, err := s.Stat(context.Background(), rel)
			if err != nil || os.FileMode(fi.Mode) != mode {
				t.Errorf("%s: %s catalog mode %o, %v; want %o", when, rel, fi.Mode, err, mode)
			}
		}
	}
	check("mounted")
	mustOK(t, m.Unmount())
	m = mountAt(t, s, mnt, MountOptions{})
	check("remounted")
}
