package durable

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		wantErr bool
	}{
		{"existing directory", dir, false},
		{"missing directory", filepath.Join(dir, "missing"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := SyncDir(tt.dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("SyncDir(%q) = %v, want error %v", tt.dir, err, tt.wantErr)
			}
		})
	}
}
