package catalog

import (
	"context"
	"os"
	"testing"
)

// TestRemoveTempSparesLiveWriters: a temp file whose writer holds its lock
// is kept whatever its age; once the writer is gone it is removed.
func TestRemoveTempSparesLiveWriters(t *testing.T) {
	d, err := NewDirObjects(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, unlock, err := d.lockedTemp()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := d.RemoveTemp(ctx, 0); err != nil || n != 0 {
		t.Fatalf("RemoveTemp removed %d (%v) while the writer lives", n, err)
	}
	if _, err := os.Stat(f.Name()); err != nil {
		t.Fatalf("a live writer's temp file is gone: %v", err)
	}
	unlock()
	f.Close()
	if n, err := d.RemoveTemp(ctx, 0); err != nil || n != 1 {
		t.Fatalf("RemoveTemp removed %d (%v) after the writer left, want 1", n, err)
	}
}
