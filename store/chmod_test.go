package store

import (
	"context"
	"errors"
	"testing"
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
	}{{"m/a.txt", 0o600}, {"m/a.txt", 0}, {"m/a.txt", 0o4751}, {"m", 0o700}, {"m/x.sh", 0o644}} {
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
		{"", 0o755, ErrInvalidPath},
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
