package store

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// countDirSyncs makes s count the fsyncs of its staging directory; call
// it before anything creates a staging file.
func countDirSyncs(s *Store) *atomic.Int64 {
	var n atomic.Int64
	sync := s.session.files.syncDir
	s.session.files.syncDir = func(dir string) error {
		n.Add(1)
		return sync(dir)
	}
	return &n
}

// waitPoolFull waits until the staging pool of s holds stagePoolSize files.
func waitPoolFull(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.session.files.pool) < stagePoolSize {
		if time.Now().After(deadline) {
			t.Fatalf("staging pool holds %d files, want %d", len(s.session.files.pool), stagePoolSize)
		}
		time.Sleep(time.Millisecond)
	}
}

// createStaging creates a staging file of s.
func createStaging(t *testing.T, s *Store, durableName bool) *os.File {
	t.Helper()
	f, err := s.CreateStagingFile(durableName)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRecordPendingDurableName: RecordPending makes the staging file's
// name durable with an fsync of the directory unless the name is durable
// already (a file of the pool made ahead of time, or one created before
// the last fsync of the directory began).
func TestRecordPendingDurableName(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		file      func(t *testing.T, s *Store) *os.File
		wantSyncs int64
	}{
		{"from the pool", func(t *testing.T, s *Store) *os.File {
			f := createStaging(t, s, true)
			waitPoolFull(t, s) // the refill after the first take is done
			f2 := createStaging(t, s, true)
			discardFile(f)
			waitPoolFull(t, s) // no refill beside RecordPending
			return f2
		}, 0},
		{"created without the pool", func(t *testing.T, s *Store) *os.File {
			return createStaging(t, s, false)
		}, 1},
		{"created before a directory sync", func(t *testing.T, s *Store) *os.File {
			f := createStaging(t, s, false)
			if err := s.session.files.sync(); err != nil {
				t.Fatal(err)
			}
			return f
		}, 0},
		{"not made by the store", func(t *testing.T, s *Store) *os.File {
			f, err := os.CreateTemp(s.StagingDir(), "stage-1-*")
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, Options{})
			syncs := countDirSyncs(s)
			f := tt.file(t, s)
			defer f.Close()
			if _, err := f.Write(randomBytes(5, 5000)); err != nil {
				t.Fatal(err)
			}
			before := syncs.Load()
			if _, err := s.RecordPending(ctx, "a.bin", f, IngestOptions{Mode: 0o644}, 0); err != nil {
				t.Fatal(err)
			}
			if got := syncs.Load() - before; got != tt.wantSyncs {
				t.Errorf("RecordPending fsynced the staging directory %d times, want %d", got, tt.wantSyncs)
			}
		})
	}
}

// TestStagingPool: the pool is refilled after each take, a pooled file
// removed meanwhile (GC) is not handed out, and closing the store removes
// the pool's files.
func TestStagingPool(t *testing.T) {
	s := newStore(t, Options{})
	f := createStaging(t, s, true)
	defer f.Close()
	waitPoolFull(t, s)
	if err := s.session.files.sync(); err != nil {
		t.Fatal(err)
	}
	dir := s.StagingDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents { // as GC removes idle files
		if name := dir + "/" + e.Name(); name != f.Name() {
			if err := os.Remove(name); err != nil {
				t.Fatal(err)
			}
		}
	}
	g := createStaging(t, s, true)
	defer g.Close()
	if !stillLinked(g, g.Name()) {
		t.Fatalf("handed out %s, removed from the staging directory", g.Name())
	}
	waitPoolFull(t, s)
	ss := s.session
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ss.dir); !os.IsNotExist(err) {
		t.Errorf("staging directory left after close: %v", err)
	}
}
