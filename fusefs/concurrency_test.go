package fusefs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"deltafs/store"
)

const manyTensorsScript = `
import numpy as np, os, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(3)
for model in ("base", "ft"):
    os.makedirs(os.path.join(out, model), exist_ok=True)
for i in range(n):
    a = rng.standard_normal((64 + 16 * (i % 5), 256)).astype(np.float32)
    np.save(os.path.join(out, "base", "t%02d.npy" % i), a)
    np.save(os.path.join(out, "ft", "t%02d.npy" % i), (a + np.float32(1e-3) * rng.standard_normal(a.shape).astype(np.float32)))
`

// TestConcurrentReadersAndWriter runs 8 readers over many tensors with a
// cache far smaller than the data (forcing evictions) and a writer beside
// them; every read must return the original bytes.
func TestConcurrentReadersAndWriter(t *testing.T) {
	src := filepath.Join(t.TempDir(), "many")
	const tensors = 16
	python(t, manyTensorsScript, src, itoa(tensors))
	s, _ := newStore(t, store.Options{CacheSize: 256 << 10})
	ingestTree(t, s, filepath.Join(src, "base"), "base", "")
	ingestTree(t, s, filepath.Join(src, "ft"), "ft", "base")
	m := mountStore(t, s, MountOptions{})

	want := map[string][]byte{}
	for _, model := range []string{"base", "ft"} {
		for i := range tensors {
			rel := fmt.Sprintf("%s/t%02d.npy", model, i)
			data, err := os.ReadFile(filepath.Join(src, rel))
			if err != nil {
				t.Fatal(err)
			}
			want[rel] = data
		}
	}
	rels := make([]string, 0, len(want))
	for rel := range want {
		rels = append(rels, rel)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for range 24 {
				rel := rels[rng.IntN(len(rels))]
				got, err := readRange(filepath.Join(m.Dir(), rel), rng, len(want[rel]))
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got.data, want[rel][got.off:got.off+int64(len(got.data))]) {
					errs <- fmt.Errorf("%s: wrong bytes at %d+%d", rel, got.off, len(got.data))
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := os.Mkdir(filepath.Join(m.Dir(), "w"), 0o755); err != nil {
			errs <- err
			return
		}
		for i := range 10 {
			rel := fmt.Sprintf("ft/t%02d.npy", i)
			p := filepath.Join(m.Dir(), "w", fmt.Sprintf("c%02d.npy", i))
			if err := os.WriteFile(p, want[rel], 0o644); err != nil {
				errs <- err
				return
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, want[rel]) {
				errs <- fmt.Errorf("writer: read back %s: %v", p, err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	stats, err := os.ReadFile(filepath.Join(m.Dir(), statsName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stats), `"cache_evictions": 0,`) {
		t.Errorf("no evictions with a tiny cache:\n%s", stats)
	}
}

type readResult struct {
	off  int64
	data []byte
}

// readRange reads either the whole file or a random range of it.
func readRange(path string, rng *rand.Rand, size int) (readResult, error) {
	if rng.IntN(2) == 0 {
		data, err := os.ReadFile(path)
		return readResult{0, data}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return readResult{}, err
	}
	defer f.Close()
	off := rng.IntN(size)
	n := rng.IntN(size-off) + 1
	buf := make([]byte, n)
	k, err := f.ReadAt(buf, int64(off))
	if k != n {
		return readResult{}, fmt.Errorf("%s: read %d of %d at %d: %v", path, k, n, off, err)
	}
	return readResult{int64(off), buf}, nil
}
