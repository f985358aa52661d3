package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Modes: Ingest sets them (0644 by default, the replaced file's mode when
// none is given), Chmod changes them for files and directories and keeps
// content, inode and mtime.
func TestModes(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	mustMkdir(t, s, "m")
	mode := func(p string) uint32 {
		t.Helper()
		fi, err := s.Stat(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode
	}
	if fi := ingestBytes(t, s, "m/a.txt", []byte("a")); fi.Mode != 0o644 {
		t.Errorf("default mode %o, want 644", fi.Mode)
	}
	if fi, err := tryIngest(s, "m/x.sh", []byte("#!"), IngestOptions{Mode: 0o755}); err != nil || fi.Mode != 0o755 {
		t.Errorf("Ingest with mode 755: %o, %v", fi.Mode, err)
	}
	if m := mode("m"); m != 0o755 {
		t.Errorf("directory mode %o, want 755", m)
	}
	before, _ := s.Stat(ctx, "m/a.txt")
	for _, tc := range []struct {
		path string
		mode uint32
	}{{"m/a.txt", 0o600}, {"m/a.txt", 0}, {"m/a.txt", 0o4751}, {"m", 0o700}, {"m/x.sh", 0o644}, {"", 0o1777}} {
		if err := s.Chmod(ctx, tc.path, tc.mode); err != nil {
			t.Fatalf("Chmod %s %o: %v", tc.path, tc.mode, err)
		}
		if m := mode(tc.path); m != tc.mode {
			t.Errorf("%s: mode %o after Chmod %o", tc.path, m, tc.mode)
		}
	}
	after, _ := s.Stat(ctx, "m/a.txt")
	if after.Inode != before.Inode || !after.MTime.Equal(before.MTime) || after.Object != before.Object {
		t.Errorf("Chmod changed more than the mode: %+v -> %+v", before, after)
	}
	// Replacing a file without a mode keeps its mode; with one sets it.
	ingestBytes(t, s, "m/a.txt", []byte("b"))
	if m := mode("m/a.txt"); m != 0o4751 {
		t.Errorf("overwrite kept mode %o, want 4751", m)
	}
	if _, err := tryIngest(s, "m/a.txt", []byte("c"), IngestOptions{Mode: 0o640}); err != nil || mode("m/a.txt") != 0o640 {
		t.Errorf("overwrite with mode 640: %o, %v", mode("m/a.txt"), err)
	}
	// Mode 000 is a mode like any other, kept by an overwrite.
	if err := s.Chmod(ctx, "m/a.txt", 0); err != nil {
		t.Fatal(err)
	}
	ingestBytes(t, s, "m/a.txt", []byte("d"))
	if m := mode("m/a.txt"); m != 0 {
		t.Errorf("overwrite of a mode 000 file: mode %o", m)
	}
	for _, tc := range []struct {
		path string
		mode uint32
		want error
	}{
		{"m/nope", 0o644, ErrNotFound},
		{"m/a.txt", 0o10644, ErrInvalidMode},
		{"../x", 0o644, ErrInvalidPath},
	} {
		if err := s.Chmod(ctx, tc.path, tc.mode); !errors.Is(err, tc.want) {
			t.Errorf("Chmod %q %o: %v, want %v", tc.path, tc.mode, err, tc.want)
		}
	}
	if _, err := tryIngest(s, "m/y", []byte("y"), IngestOptions{Mode: 0o100644}); !errors.Is(err, ErrInvalidMode) {
		t.Errorf("Ingest with file-type bits: %v, want ErrInvalidMode", err)
	}
	ro := newStore(t, Options{ReadOnly: true})
	if err := ro.Chmod(ctx, "m", 0o700); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Chmod: %v", err)
	}
}

// Owners: new entries belong to this process's user unless an owner is
// given; an overwrite keeps the owner; Chown changes it and nothing else.
func TestOwners(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	self := processOwner()
	alice := Owner{UID: 1234, GID: 567}
	owner := func(p string) Owner {
		t.Helper()
		fi, err := s.Stat(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return Owner{UID: fi.UID, GID: fi.GID}
	}
	mustMkdir(t, s, "m")
	if err := s.MkdirWith(ctx, "m/a", MkdirOptions{Mode: 0o750, Owner: &alice}); err != nil {
		t.Fatal(err)
	}
	ingestBytes(t, s, "m/mine.txt", []byte("x"))
	if _, err := tryIngest(s, "m/a/hers.txt", []byte("y"), IngestOptions{Owner: &alice}); err != nil {
		t.Fatal(err)
	}
	// An overwrite (by whoever) keeps the owner of the file it replaces.
	if _, err := tryIngest(s, "m/a/hers.txt", []byte("z"), IngestOptions{Owner: &self}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want Owner
	}{{"", self}, {"m", self}, {"m/a", alice}, {"m/mine.txt", self}, {"m/a/hers.txt", alice}} {
		if got := owner(tc.path); got != tc.want {
			t.Errorf("%q: owner %v, want %v", tc.path, got, tc.want)
		}
	}
	if fi, _ := s.Stat(ctx, "m/a"); fi.Mode != 0o750 {
		t.Errorf("MkdirWith mode %o, want 750", fi.Mode)
	}
	before, _ := s.Stat(ctx, "m/mine.txt")
	if err := s.Chown(ctx, "m/mine.txt", alice); err != nil {
		t.Fatal(err)
	}
	if err := s.Chown(ctx, "", alice); err != nil || owner("") != alice {
		t.Errorf("Chown of the root: %v, owner %v", err, owner(""))
	}
	after, _ := s.Stat(ctx, "m/mine.txt")
	if (Owner{UID: after.UID, GID: after.GID}) != alice || after.Mode != before.Mode ||
		!after.MTime.Equal(before.MTime) || after.Inode != before.Inode || after.Object != before.Object {
		t.Errorf("Chown: %+v -> %+v", before, after)
	}
	for _, tc := range []struct {
		path string
		want error
	}{{"m/nope", ErrNotFound}, {"../x", ErrInvalidPath}} {
		if err := s.Chown(ctx, tc.path, alice); !errors.Is(err, tc.want) {
			t.Errorf("Chown %q: %v, want %v", tc.path, err, tc.want)
		}
	}
}

// Times: Ingest and MkdirWith take a modification time, Chtimes changes it
// (files and directories) and nothing else, an overwrite without one is
// now, and Export writes it back.
func TestTimes(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	t1 := time.Date(2021, 3, 4, 5, 6, 7, 890123456, time.UTC)
	t2 := time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
	mtime := func(p string) time.Time {
		t.Helper()
		fi, err := s.Stat(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.MTime
	}
	if err := s.MkdirWith(ctx, "m", MkdirOptions{MTime: t1}); err != nil {
		t.Fatal(err)
	}
	if _, err := tryIngest(s, "m/f.txt", []byte("x"), IngestOptions{MTime: t1}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"m", "m/f.txt"} {
		if got := mtime(p); !got.Equal(t1) {
			t.Errorf("%s: mtime %v, want %v", p, got, t1)
		}
		before, _ := s.Stat(ctx, p)
		if err := s.Chtimes(ctx, p, t2); err != nil {
			t.Fatal(err)
		}
		after, _ := s.Stat(ctx, p)
		if !after.MTime.Equal(t2) || after.Mode != before.Mode || after.Inode != before.Inode || after.Object != before.Object {
			t.Errorf("Chtimes %s: %+v -> %+v", p, before, after)
		}
	}
	out := filepath.Join(t.TempDir(), "f.txt")
	if err := s.Export(ctx, "m/f.txt", out, nil); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(out); err != nil || !st.ModTime().Equal(t2) {
		t.Errorf("exported mtime %v (%v), want %v", st.ModTime(), err, t2)
	}
	start := time.Now()
	ingestBytes(t, s, "m/f.txt", []byte("y"))
	if got := mtime("m/f.txt"); got.Before(start) {
		t.Errorf("overwrite without a time: mtime %v, before %v", got, start)
	}
	if err := s.Chtimes(ctx, "", t1); err != nil || !mtime("").Equal(t1) {
		t.Errorf("Chtimes of the root: %v, mtime %v", err, mtime(""))
	}
}

// TestImportKeepsOwnersAndTimes: an import by root keeps the sources'
// owners and modification times, of files and directories, the model's
// own directory included.
func TestImportKeepsOwnersAndTimes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the source files another owner")
	}
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"a.txt", "sub/b.txt"} {
		if err := os.WriteFile(filepath.Join(src, p), []byte(p), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(src, p), 1000+i, 2000+i); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(src, "sub"), 3000, 3001); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"a.txt", "sub/b.txt", "sub", "."} {
		tm := time.Date(2020, 1, 2+i, 3, 4, 5, 600000000+i, time.UTC)
		if err := os.Chtimes(filepath.Join(src, p), tm, tm); err != nil {
			t.Fatal(err)
		}
	}
	s := newStore(t, Options{})
	ctx := context.Background()
	if _, err := s.Import(ctx, src, "m", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.txt", "sub/b.txt", "sub", "."} {
		st, err := os.Stat(filepath.Join(src, p))
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		fi, err := s.Stat(ctx, filepath.Join("m", p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.UID != sys.Uid || fi.GID != sys.Gid || !fi.MTime.Equal(st.ModTime()) {
			t.Errorf("%s: owner %d:%d mtime %v, source %d:%d %v", p, fi.UID, fi.GID, fi.MTime, sys.Uid, sys.Gid, st.ModTime())
		}
	}
}

// TestImportByUserOwnsAll: an import by a user other than root records
// that user as the owner of everything, whoever owns the sources.
func TestImportByUserOwnsAll(t *testing.T) {
	src := t.TempDir()
	mustOK := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustOK(os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	mustOK(os.WriteFile(filepath.Join(src, "sub", "a.txt"), []byte("a"), 0o644))
	s := newStore(t, Options{})
	user := Owner{UID: 4321, GID: 8765}
	s.self = user // as if the store were opened by that user
	ctx := context.Background()
	if _, err := s.Import(ctx, src, "m", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"m", "m/sub", "m/sub/a.txt"} {
		fi, err := s.Stat(ctx, p)
		mustOK(err)
		if (Owner{UID: fi.UID, GID: fi.GID}) != user {
			t.Errorf("%s: owner %d:%d, want %v", p, fi.UID, fi.GID, user)
		}
	}
}

// TestPendingKeepsOwnerAndTime: a file recorded as pending (a write-back
// mount) and stored later, here when its store is closed, gets the owner
// and modification time it was recorded with.
func TestPendingKeepsOwnerAndTime(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustMkdir(t, s, "m")
	f, err := os.CreateTemp(s.StagingDir(), "wb-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("pending bytes")); err != nil {
		t.Fatal(err)
	}
	owner := Owner{UID: 2468, GID: 1357}
	when := time.Date(2018, 7, 6, 5, 4, 3, 210000000, time.UTC)
	if _, err := s.RecordPending(ctx, "m/p.txt", f, IngestOptions{Owner: &owner, MTime: when}, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := s.Stat(ctx, "m/p.txt")
	if err != nil {
		t.Fatal(err)
	}
	if (Owner{UID: fi.UID, GID: fi.GID}) != owner || !fi.MTime.Equal(when) {
		t.Errorf("stored pending file: owner %d:%d mtime %v, want %v %v", fi.UID, fi.GID, fi.MTime, owner, when)
	}
}
