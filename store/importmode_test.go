package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestImportKeepsModes checks that a directory import gives every file the
// permission bits of its source, and Export gives them back.
func TestImportKeepsModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	tests := []struct {
		name string
		src  os.FileMode // mode of the source file
		want uint32      // mode the store records
	}{
		{"private.bin", 0o600, 0o600},
		{"shared.bin", 0o644, 0o644},
		{"tool.sh", 0o755, 0o755},
		{"setgid.bin", 0o640 | os.ModeSetgid, 0o2640},
		{"none.bin", 0, fileMode}, // no bits at all: the store's default
	}
	src := t.TempDir()
	for _, tt := range tests {
		p := filepath.Join(src, tt.name)
		if err := os.WriteFile(p, []byte("content of "+tt.name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tt.src); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	s := newStore(t, Options{})
	if _, err := s.Import(ctx, src, "m", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := s.Export(ctx, "m", out, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := s.Stat(ctx, "m/"+tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode != tt.want {
				t.Errorf("stored mode %#o, want %#o", fi.Mode, tt.want)
			}
			st, err := os.Stat(filepath.Join(out, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := st.Mode().Perm(), os.FileMode(tt.want).Perm(); got != want {
				t.Errorf("exported mode %v, want %v", got, want)
			}
		})
	}
}
