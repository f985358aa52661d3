package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"deltafs/internal/synth"
	"deltafs/internal/testfixture"
)

// BenchmarkIngestFineTune stores the files of a fine-tuned model one by one
// with Ingest (what `cp -r` into the mount does, without FUSE), against a
// store that holds its base, beside a plain copy of the same files with an
// fsync per file. The model is fusefs's BenchmarkCopyIn's (160.5 MiB; layers
// from DELTAFS_BENCH_LAYERS, default 2).
func BenchmarkIngestFineTune(b *testing.B) {
	cfg := synth.DefaultConfig()
	cfg.Dim, cfg.FFN, cfg.Vocab = 1024, 2752, 8192
	if v, err := strconv.Atoi(os.Getenv("DELTAFS_BENCH_LAYERS")); err == nil && v > 0 {
		cfg.Layers = v
	}
	pair := testfixture.WriteModelPair(b, b.TempDir(), cfg, synth.DefaultFineTune(5))
	baseDir, tunedDir, total := pair.BaseDir, pair.TunedDir, pair.Bytes
	var ingestTotal, copyTotal, cpu time.Duration
	b.SetBytes(total)
	b.ResetTimer()
	b.StopTimer()
	for i := range b.N {
		name := fmt.Sprintf("ft%d", i)
		// A fresh store holding the base each time: a store that already
		// holds the fine-tune would deduplicate it.
		s := newStore(b, Options{})
		ingestDir(b, s, baseDir, "base", "")
		syscall.Sync()
		start := time.Now()
		cpu += timed(b, func() { ingestDir(b, s, tunedDir, name, "base") })
		ingestTotal += time.Since(start)
		s.Close()
		syscall.Sync()
		start = time.Now()
		if err := testfixture.CopyTree(tunedDir, filepath.Join(b.TempDir(), name)); err != nil {
			b.Fatal(err)
		}
		copyTotal += time.Since(start)
	}
	n := float64(total*int64(b.N)) / (1 << 20)
	b.ReportMetric(n/ingestTotal.Seconds(), "ingest-MiB/s")
	b.ReportMetric(n/cpu.Seconds(), "ingest-cpuMiB/s")
	b.ReportMetric(n/copyTotal.Seconds(), "copy+fsync-MiB/s")
	b.ReportMetric(ingestTotal.Seconds()/copyTotal.Seconds(), "time-vs-copy")
}

// ingestDir ingests every file under src into model (created, with base).
func ingestDir(b *testing.B, s *Store, src, model, base string) {
	b.Helper()
	testfixture.IngestTree[IngestOptions, FileInfo](b, s, src, model, base)
}
