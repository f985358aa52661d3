package store

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSimilarityReference: ingesting a renamed fine-tuned tensor
// (1 MiB of float32) into a model whose base holds 16 tensors of its shape,
// with the similarity search (it finds the tensor it was tuned from and
// stores a delta) beside the same ingest without it (similarity_threshold
// above 1: stored standalone), in the same run. Reported: the time ratio
// once the base's sketches are kept ("warm"), the ratio of the first
// search, which samples every candidate ("cold"), and the stored bytes of
// each.
func BenchmarkSimilarityReference(b *testing.B) {
	const (
		candidates = 16
		n          = 256 * 1024
	)
	s := newStoreWithBase(b, Options{})
	shape := []int64{256, 1024}
	for i := range candidates {
		ingestBytes(b, s, fmt.Sprintf("b/layer%02d.npy", i), makeNPY(b, "<f4", shape, f32bytes(weights(uint64(100+i), n))))
	}
	renamed := func(i int) []byte {
		return makeNPY(b, "<f4", shape, f32bytes(fineTune(uint64(1000+i), weights(uint64(100+i%candidates), n), 0.3)))
	}
	ingest := func(path string, data []byte, threshold string) (time.Duration, FileInfo) {
		start := time.Now()
		fi, err := tryIngest(s, path, data, IngestOptions{Settings: Overrides{KeySimilarityThreshold: threshold}})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start), fi
	}
	plainCold, _ := ingest("f/cold-plain.npy", renamed(1<<20), "1.5")
	searchCold, fi := ingest("f/cold-search.npy", renamed(1<<20+1), "0.98")
	if fi.BaseMatch != matchSimilarity {
		b.Fatalf("no similarity reference: %+v", fi)
	}
	var plain, search time.Duration
	var plainBytes, searchBytes int64
	b.SetBytes(2 * 4 * n)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d, fi := ingest(fmt.Sprintf("f/plain%d.npy", i), renamed(2*i), "1.5")
		plain += d
		plainBytes += fi.StoredSize
		d, fi = ingest(fmt.Sprintf("f/search%d.npy", i), renamed(2*i+1), "0.98")
		search += d
		searchBytes += fi.StoredSize
		if fi.Base == "" {
			b.Fatalf("search %d found no reference", i)
		}
	}
	b.ReportMetric(float64(search)/float64(plain), "warm-time-ratio")
	b.ReportMetric(float64(searchCold)/float64(plainCold), "cold-time-ratio")
	b.ReportMetric(float64(searchBytes)/float64(plainBytes), "stored-ratio")
}
