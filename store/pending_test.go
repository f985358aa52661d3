package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// stagePending writes data into a new file of s's staging directory.
func stagePending(t testing.TB, s *Store, data []byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(s.StagingDir(), "fuse-*.stage")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPendingFiles: a pending file is stored by an Ingest naming its
// record, at the path the record has then; a dropped one is not stored;
// the backlog counts what is pending.
func TestPendingFiles(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		between  func(s *Store, id int64) error // after RecordPending, before Ingest
		wantErr  error
		wantPath string // where the file is stored ("" nowhere)
	}{
		{"stored", func(*Store, int64) error { return nil }, nil, "m/a.bin"},
		{"moved over another file", func(s *Store, id int64) error { return s.MovePending(ctx, id, "m/b.bin") }, nil, "m/b.bin"},
		{"moved with its directory", func(s *Store, id int64) error { return s.Rename(ctx, "m", "n") }, nil, "n/a.bin"},
		{"dropped", func(s *Store, id int64) error { return s.DropPending(ctx, id) }, ErrPendingGone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, Options{})
			mustMkdir(t, s, "m")
			ingestBytes(t, s, "m/b.bin", []byte("old b"))
			data := randomBytes(4, 20000)
			f := stagePending(t, s, data)
			id, err := s.RecordPending(ctx, "m/a.bin", f, IngestOptions{Mode: 0o600}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if rs := s.RuntimeStats(); rs.WritebackFiles != 1 || rs.WritebackBytes != int64(len(data)) {
				t.Errorf("backlog %d files %d bytes", rs.WritebackFiles, rs.WritebackBytes)
			}
			if err := tt.between(s, id); err != nil {
				t.Fatal(err)
			}
			_, err = s.Ingest(ctx, "m/a.bin", f, IngestOptions{Mode: 0o600, Pending: id})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Ingest: %v, want %v", err, tt.wantErr)
			}
			if rs := s.RuntimeStats(); rs.WritebackFiles != 0 {
				t.Errorf("backlog %d files after the ingest", rs.WritebackFiles)
			}
			if tt.wantPath != "" {
				if got := readFile(t, s, tt.wantPath); !bytes.Equal(got, data) {
					t.Errorf("%s does not hold the pending file", tt.wantPath)
				}
			}
			for _, p := range []string{"m/a.bin", "n/a.bin"} {
				if p == tt.wantPath {
					continue
				}
				if _, err := s.Stat(ctx, p); !errors.Is(err, ErrNotFound) {
					t.Errorf("%s: %v, want ErrNotFound", p, err)
				}
			}
		})
	}
}

// TestPendingOutsideStaging: only a file of the staging directory can be
// pending (recovery looks for it there).
func TestPendingOutsideStaging(t *testing.T) {
	s := newStore(t, Options{})
	f, err := os.Create(filepath.Join(t.TempDir(), "elsewhere"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := s.RecordPending(context.Background(), "a.bin", f, IngestOptions{}, 0); !errors.Is(err, ErrNotStaged) {
		t.Errorf("err = %v, want ErrNotStaged", err)
	}
}

// TestPendingSurvives: files pending when the store is closed, or when its
// process dies, are stored (at close; at the next open, read-only too).
func TestPendingSurvives(t *testing.T) {
	ctx := context.Background()
	for _, end := range []string{"close", "crash"} {
		t.Run(end, func(t *testing.T) {
			s := newStore(t, Options{})
			dir := s.Dir()
			mustMkdir(t, s, "m")
			files := map[string][]byte{"m/a.bin": randomBytes(1, 3000), "m/b.npy": makeNPY(t, "<f4", []int64{500}, f32bytes(weights(2, 500)))}
			for p, data := range files {
				if _, err := s.RecordPending(ctx, p, stagePending(t, s, data), IngestOptions{}, 0); err != nil {
					t.Fatal(err)
				}
			}
			if end == "close" {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				crash(s)
			}
			next := reopen(t, dir, Options{ReadOnly: true})
			for p, data := range files {
				if got := readFile(t, next, p); !bytes.Equal(got, data) {
					t.Errorf("%s after %s: not the pending content", p, end)
				}
			}
			if end == "crash" && next.Recovered().StoredFiles != len(files) {
				t.Errorf("recovery %+v", next.Recovered())
			}
			if left := stagingFiles(t, dir); len(left) != 0 {
				t.Errorf("staging files left: %v", left)
			}
		})
	}
}

// TestPendingNotOverNewer: a pending file is stored only over what its
// path held when it was recorded: when another process stores, replaces or
// removes a file there first, the newer state stays, in a live commit and
// after a crash alike. chmod and utimens of the old file by the other
// process are no newer content.
func TestPendingNotOverNewer(t *testing.T) {
	ctx := context.Background()
	old, newer := []byte("old content"), []byte("stored by another process after the close")
	ingestNewer := func(o *Store) error {
		_, err := tryIngest(o, "m/a.bin", newer, IngestOptions{})
		return err
	}
	tests := []struct {
		name   string
		before bool                 // m/a.bin exists when the file is recorded
		other  func(o *Store) error // another process, after the record
		want   string               // m/a.bin at the end: "pending", "newer" or "none"
	}{
		{"new file", false, nil, "pending"},
		{"new file, another stored there first", false, ingestNewer, "newer"},
		{"overwrite", true, nil, "pending"},
		{"overwrite, replaced by another first", true, ingestNewer, "newer"},
		{"overwrite, removed by another first", true, func(o *Store) error { return o.Remove(ctx, "m/a.bin") }, "none"},
		{"overwrite, chmod and utimens by another", true, func(o *Store) error {
			if err := o.Chmod(ctx, "m/a.bin", 0o600); err != nil {
				return err
			}
			return o.Chtimes(ctx, "m/a.bin", time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
		}, "pending"},
	}
	for _, tt := range tests {
		for _, end := range []string{"live", "crash"} {
			t.Run(tt.name+"/"+end, func(t *testing.T) {
				s := newStore(t, Options{})
				dir := s.Dir()
				mustMkdir(t, s, "m")
				if tt.before {
					ingestBytes(t, s, "m/a.bin", old)
				}
				data := randomBytes(5, 5000)
				f := stagePending(t, s, data)
				id, err := s.RecordPending(ctx, "m/a.bin", f, IngestOptions{}, 0)
				if err != nil {
					t.Fatal(err)
				}
				o := reopen(t, dir, Options{})
				if tt.other != nil {
					if err := tt.other(o); err != nil {
						t.Fatal(err)
					}
				}
				stored := tt.want == "pending"
				if end == "live" {
					_, err := s.Ingest(ctx, "m/a.bin", f, IngestOptions{Pending: id})
					if stored != (err == nil) || (!stored && !errors.Is(err, ErrPendingSuperseded)) {
						t.Fatalf("Ingest: %v, want it stored: %v", err, stored)
					}
					if err != nil {
						if err := s.DropPending(ctx, id); err != nil {
							t.Fatal(err)
						}
					}
				} else {
					crash(s)
					rec := reopen(t, dir, Options{}).Recovered()
					if got := [2]int{rec.StoredFiles, rec.SupersededFiles}; (got == [2]int{1, 0}) != stored || got[0]+got[1] != 1 {
						t.Errorf("recovery stored %d, superseded %d; want it stored: %v", got[0], got[1], stored)
					}
				}
				if tt.want == "none" {
					if _, err := o.Stat(ctx, "m/a.bin"); !errors.Is(err, ErrNotFound) {
						t.Errorf("m/a.bin: %v, want ErrNotFound", err)
					}
				} else if got, want := readFile(t, o, "m/a.bin"), map[string][]byte{"pending": data, "newer": newer}[tt.want]; !bytes.Equal(got, want) {
					t.Errorf("m/a.bin holds %d bytes, not the %s content", len(got), tt.want)
				}
				if rs := s.RuntimeStats(); end == "live" && rs.WritebackFiles != 0 {
					t.Errorf("backlog %d files", rs.WritebackFiles)
				}
			})
		}
	}
}
