package store

import (
	"context"
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

// benchModel is a synthetic base model and a fine-tune of it, written as
// .npy trees; generated once per test binary.
type benchModel struct {
	baseDir, tunedDir string
	bytes             int64 // of the fine-tune's files
	describe          string
}

// benchModelMB is the size of the benchmark model: DELTAFS_BENCH_MODEL_MB,
// default 1024.
func benchModelMB() int64 {
	if v, err := strconv.ParseInt(os.Getenv("DELTAFS_BENCH_MODEL_MB"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1024
}

// loadBenchModel generates the model in a fresh temporary directory that
// b's cleanup removes.
func loadBenchModel(b *testing.B) benchModel {
	b.Helper()
	return loadBenchModelOf(b, benchModelMB()<<20)
}

// loadBenchModelOf is loadBenchModel for a model of about target bytes.
func loadBenchModelOf(b *testing.B, target int64) benchModel {
	b.Helper()
	cfg := synth.Config{Dim: 1024, FFN: 2816, Vocab: 32000, Layers: 1, Precision: synth.BFloat16, Seed: 1,
		OutlierFraction: 1e-4, OutlierChannels: 0.005}
	if target < 512<<20 {
		cfg.Vocab = 4096
	}
	for cfg.NumParams()*int64(cfg.Precision.ElemSize()) < target {
		cfg.Layers++
	}
	dir, err := os.MkdirTemp("", "deltafs-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	pair := testfixture.WriteModelPair(b, dir, cfg, synth.DefaultFineTune(2))
	return benchModel{baseDir: pair.BaseDir, tunedDir: pair.TunedDir, bytes: pair.Bytes, describe: pair.Describe}
}

// cpuNow is the process's CPU time (user + system), a figure less
// disturbed than wall time on a shared machine.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs work with the benchmark timer on and returns the CPU time it
// used.
func timed(b *testing.B, work func()) time.Duration {
	start := cpuNow()
	b.StartTimer()
	work()
	b.StopTimer()
	return cpuNow() - start
}

// reportCPU adds CPU seconds per op and MB per CPU second to b's metrics.
func reportCPU(b *testing.B, cpu time.Duration, bytes int64) {
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(bytes)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
}

// BenchmarkImportExport imports a synthetic base model and a fine-tune of
// it (DELTAFS_BENCH_MODEL_MB, default 1024) and exports the fine-tune,
// each beside a plain durable copy of the same files in the same run.
func BenchmarkImportExport(b *testing.B) {
	m := loadBenchModel(b)
	b.Logf("%s", m.describe)
	ctx := context.Background()
	size := m.bytes

	// Each iteration needs a store holding the base: build them untimed.
	newBaseStore := func(b *testing.B) *Store {
		s := newStore(b, Options{})
		if _, err := s.Import(ctx, m.baseDir, "base", ImportOptions{}); err != nil {
			b.Fatal(err)
		}
		syscall.Sync() // the timed work must not pay for the setup's write-back
		return s
	}

	b.Run("copy-baseline", func(b *testing.B) {
		b.SetBytes(size)
		b.StopTimer()
		var cpu time.Duration
		for range b.N {
			dst := filepath.Join(b.TempDir(), "copy")
			syscall.Sync()
			cpu += timed(b, func() {
				if err := testfixture.CopyTree(m.tunedDir, dst); err != nil {
					b.Fatal(err)
				}
			})
		}
		reportCPU(b, cpu, size)
	})
	b.Run("import-base", func(b *testing.B) {
		b.SetBytes(testfixture.TreeBytes(m.baseDir))
		b.StopTimer()
		var cpu time.Duration
		var st Stats
		for range b.N {
			s := newStore(b, Options{})
			syscall.Sync()
			cpu += timed(b, func() {
				if _, err := s.Import(ctx, m.baseDir, "base", ImportOptions{}); err != nil {
					b.Fatal(err)
				}
			})
			st, _ = s.Stats(ctx)
		}
		reportCPU(b, cpu, testfixture.TreeBytes(m.baseDir))
		b.ReportMetric(st.Total.Ratio(), "logical/stored")
	})
	// With and without the write check (decoding each new object before
	// committing it), to show what that safety costs.
	for _, skip := range []bool{false, true} {
		name := "import-finetune"
		if skip {
			name += "-nocheck"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.StopTimer()
			var cpu time.Duration
			var ratio, newRatio float64
			for range b.N {
				s := newBaseStore(b)
				s.opts.SkipWriteCheck = skip
				cpu += timed(b, func() {
					res, err := s.Import(ctx, m.tunedDir, "tuned", ImportOptions{Base: "base"})
					if err != nil {
						b.Fatal(err)
					}
					ratio = float64(res.LogicalBytes) / float64(res.StoredBytes)
					newRatio = float64(res.LogicalBytes) / float64(res.NewBytes)
				})
			}
			reportCPU(b, cpu, size)
			b.ReportMetric(ratio, "logical/stored")
			b.ReportMetric(newRatio, "logical/new")
		})
	}
	b.Run("export-finetune", func(b *testing.B) {
		b.SetBytes(size)
		b.StopTimer()
		s := newBaseStore(b)
		if _, err := s.Import(ctx, m.tunedDir, "tuned", ImportOptions{Base: "base"}); err != nil {
			b.Fatal(err)
		}
		var cpu time.Duration
		for i := range b.N {
			s.chunks.Purge()
			dst := filepath.Join(b.TempDir(), fmt.Sprint(i))
			syscall.Sync()
			cpu += timed(b, func() {
				if err := s.Export(ctx, "tuned", dst, nil); err != nil {
					b.Fatal(err)
				}
			})
		}
		reportCPU(b, cpu, size)
	})
}
