package fusefs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"deltafs/store"
)

// stageOp is one change of a staging file.
type stageOp struct {
	kind      string // "write", "truncate" or "allocate"
	off, size int64
}

func appendAt(off, size int64) stageOp { return stageOp{"write", off, size} }

// The hash kept while a staging file is written is offered to the store
// only when the file was written sequentially from its start (or from a
// truncate to 0), and then it is the hash of the file's content.
func TestStagingContentHash(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name  string
		ops   []stageOp
		valid bool
	}{
		{"sequential", []stageOp{appendAt(0, mib), appendAt(mib, mib), appendAt(2*mib, 100)}, true},
		{"small writes", []stageOp{appendAt(0, 3), appendAt(3, 9), appendAt(12, 5000), appendAt(5012, 1)}, true},
		{"empty", nil, true},
		{"rewrite of an earlier range", []stageOp{appendAt(0, mib), appendAt(100, 10), appendAt(mib, 10)}, false},
		{"rewrite of the last bytes", []stageOp{appendAt(0, 5000), appendAt(4990, 10)}, false},
		{"write past the end (sparse)", []stageOp{appendAt(0, 100), appendAt(200, 100)}, false},
		{"first write not at 0", []stageOp{appendAt(10, 100)}, false},
		{"truncate shorter", []stageOp{appendAt(0, 5000), {kind: "truncate", size: 100}}, false},
		{"truncate longer", []stageOp{appendAt(0, 5000), {kind: "truncate", size: 9000}}, false},
		{"truncate to the same size", []stageOp{appendAt(0, 5000), {kind: "truncate", size: 5000}, appendAt(5000, 7)}, true},
		{"truncate to 0 restarts", []stageOp{appendAt(0, 5000), appendAt(10, 5), {kind: "truncate"}, appendAt(0, 300)}, true},
		{"allocate", []stageOp{appendAt(0, 5000), {kind: "allocate", off: 0, size: 8192}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := tempStagingFile(t, false)
			defer st.discard()
			rng := rand.NewChaCha8([32]byte{byte(len(c.ops))})
			for _, op := range c.ops {
				switch op.kind {
				case "write":
					data := make([]byte, op.size)
					rng.Read(data)
					if _, err := st.writeAt(data, op.off); err != nil {
						t.Fatal(err)
					}
				case "truncate":
					if err := st.truncate(op.size); err != nil {
						t.Fatal(err)
					}
				case "allocate":
					if err := st.allocate(op.off, op.size, 0); err != nil {
						t.Fatal(err)
					}
				}
			}
			st.gate.Lock()
			got := st.contentSum()
			st.gate.Unlock()
			if (got != nil) != c.valid {
				t.Fatalf("hash offered: %v, want %v", got != nil, c.valid)
			}
			content, err := os.ReadFile(st.f.Name())
			if err != nil {
				t.Fatal(err)
			}
			var want store.ContentHasher
			want.Write(content)
			if got != nil && *got != want.Sum() {
				t.Errorf("offered %+v, the content hashes to %+v", *got, want.Sum())
			}
		})
	}
}

// Concurrent appends and rewrites from several writers never leave a hash
// that disagrees with the content (the race detector watches the rest).
func TestStagingContentHashConcurrent(t *testing.T) {
	for round := range 20 {
		st := tempStagingFile(t, false)
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := bytes.Repeat([]byte{byte(w + 1)}, 4096)
				for i := range 30 {
					off := int64(i) * 4096
					if w == 2 && round%2 == 1 && i == 20 {
						off = 0 // a rewrite of the start
					}
					if _, err := st.writeAt(buf, off); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		st.gate.Lock()
		got := st.contentSum()
		st.gate.Unlock()
		content, err := os.ReadFile(st.f.Name())
		if err != nil {
			t.Fatal(err)
		}
		var want store.ContentHasher
		want.Write(content)
		if got != nil && *got != want.Sum() {
			t.Fatalf("round %d: offered hash disagrees with the content", round)
		}
		st.discard()
	}
}

// recordingBackend records the content hash handed with each Ingest.
type recordingBackend struct {
	*store.Store
	mu    sync.Mutex
	given map[string]*store.ContentSum
}

func (b *recordingBackend) Ingest(ctx context.Context, path string, src *os.File, opts store.IngestOptions) (store.FileInfo, error) {
	b.mu.Lock()
	b.given[path] = opts.Content
	b.mu.Unlock()
	return b.Store.Ingest(ctx, path, src, opts)
}

// hashGiven is the hash handed with the last Ingest of path.
func (b *recordingBackend) hashGiven(path string) *store.ContentSum {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.given[path]
}

// Files copied into the mount are committed with the hash computed while
// they were written; a file written out of order is hashed by the store.
// Either way the committed content is exact.
func TestCopyInHashesWhileWriting(t *testing.T) {
	src := makeModels(t, 1)
	s, _ := newStore(t, store.Options{})
	rb := &recordingBackend{Store: s, given: map[string]*store.ContentSum{}}
	m := mountStore(t, rb, MountOptions{})
	run(t, "cp", "-r", filepath.Join(src, "base"), filepath.Join(m.Dir(), "base"))
	sameFiles(t, filepath.Join(src, "base"), filepath.Join(m.Dir(), "base"))
	files := listFiles(t, filepath.Join(src, "base"))
	for _, f := range files {
		cs := rb.hashGiven("base/" + f)
		if cs == nil {
			t.Errorf("%s: committed without the hash computed while writing", f)
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, "base", f))
		if err != nil {
			t.Fatal(err)
		}
		if cs.Size != int64(len(data)) || cs.Sum != sha256.Sum256(data[cs.Offset:]) {
			t.Errorf("%s: hash handed over %+v does not match the file", f, *cs)
		}
	}

	// Written back to front: the store must hash it itself.
	data, err := os.ReadFile(filepath.Join(src, "base", files[0]))
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(m.Dir(), "base", "backwards.npy")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	half := int64(len(data) / 2)
	if _, err := f.WriteAt(data[half:], half); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data[:half], 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if cs := rb.hashGiven("base/backwards.npy"); cs != nil {
		t.Errorf("out-of-order file committed with a hash kept while writing: %+v", *cs)
	}
	if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, data) {
		t.Errorf("out-of-order file reads back wrong (%v)", err)
	}
}
