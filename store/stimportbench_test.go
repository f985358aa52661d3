package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"deltafs/internal/synth"
	"deltafs/internal/testfixture"
)

// stImportModel is a synthetic bf16 base model and a fine-tune of it, each
// a Hugging Face style folder holding one model.safetensors (2 bytes a
// value).
type stImportModel struct {
	baseDir, tunedDir     string
	baseBytes, tunedBytes int64 // of the folders' files
	describe              string
}

// stImportMB is the tensor data of the safetensors import benchmark:
// DELTAFS_BENCH_ST_MB MiB of bf16, default 1024.
func stImportMB() int64 {
	if v, err := strconv.ParseInt(os.Getenv("DELTAFS_BENCH_ST_MB"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1024
}

// stImportConfig is BenchmarkImportExport's LLaMA shape with enough layers
// for at least target bytes of bf16 data (one layer at the least; a smaller
// vocabulary below 512 MiB).
func stImportConfig(target int64) synth.Config {
	cfg := synth.Config{Dim: 1024, FFN: 2816, Vocab: 32000, Layers: 1, Precision: synth.BFloat16, Seed: 1,
		OutlierFraction: 1e-4, OutlierChannels: 0.005}
	if target < 512<<20 {
		cfg.Vocab = 4096
	}
	const bf16 = 2 // bytes a value in the file; synth holds them as float32
	oneLayer := cfg.NumParams()
	cfg.Layers = 2
	perLayer := cfg.NumParams() - oneLayer
	more := max(0, target/bf16-oneLayer)
	cfg.Layers = 1 + int((more+perLayer-1)/perLayer)
	return cfg
}

// writeSTImportModel generates the base of cfg and its fine-tune
// (synth.DefaultFineTune(2), as BenchmarkImportExport's) into dir/base
// and dir/ft.
func writeSTImportModel(b *testing.B, dir string, cfg synth.Config) stImportModel {
	b.Helper()
	ft := synth.DefaultFineTune(2)
	m := stImportModel{baseDir: filepath.Join(dir, "base"), tunedDir: filepath.Join(dir, "ft"),
		describe: synth.Describe(cfg) + "; " + ft.Describe()}
	base, err := synth.Base(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := synth.WriteSafetensors(filepath.Join(m.baseDir, "model.safetensors"), base); err != nil {
		b.Fatal(err)
	}
	tuned, err := synth.FineTune(base, ft)
	if err != nil {
		b.Fatal(err)
	}
	if err := synth.WriteSafetensors(filepath.Join(m.tunedDir, "model.safetensors"), tuned); err != nil {
		b.Fatal(err)
	}
	m.baseBytes, m.tunedBytes = testfixture.TreeBytes(m.baseDir), testfixture.TreeBytes(m.tunedDir)
	return m
}

// stImportTimes are the wall-clock times of one iteration's parts.
type stImportTimes struct {
	importBase, importTuned time.Duration
	copyBase, copyTuned     time.Duration
	cpuBase, cpuTuned       time.Duration // of the imports
}

// add sums o into t.
func (t *stImportTimes) add(o stImportTimes) {
	t.importBase += o.importBase
	t.importTuned += o.importTuned
	t.copyBase += o.copyBase
	t.copyTuned += o.copyTuned
	t.cpuBase += o.cpuBase
	t.cpuTuned += o.cpuTuned
}

// wallAndCPU runs work after a sync (the work must not pay for the write-back
// of what came before), with b's timer on if timer, and returns its
// wall-clock and CPU times.
func wallAndCPU(b *testing.B, timer bool, work func()) (wall, cpu time.Duration) {
	syscall.Sync()
	cpu0, start := cpuNow(), time.Now()
	if timer {
		b.StartTimer()
	}
	work()
	if timer {
		b.StopTimer()
	}
	return time.Since(start), cpuNow() - cpu0
}

// BenchmarkImportSafetensors imports a synthetic LLaMA-shaped bf16 model
// as a Hugging Face style folder (one model.safetensors, 2 bytes a value,
// DELTAFS_BENCH_ST_MB MiB of tensor data, default 1024) into a fresh store
// through Import, the entry point of `deltafs import`, then a fine-tune of
// it against it (--base), beside a plain copy with fsync of the same files
// in the same iteration. The timer covers the two imports.
func BenchmarkImportSafetensors(b *testing.B) {
	cfg := stImportConfig(stImportMB() << 20)
	m := writeSTImportModel(b, b.TempDir(), cfg)
	b.Logf("%s", m.describe)
	b.Logf("model.safetensors: base %d bytes, fine-tune %d bytes", m.baseBytes, m.tunedBytes)
	b.Run("bf16", func(b *testing.B) {
		ctx := context.Background()
		var total stImportTimes
		var baseRatio, tunedRatio, tunedNewRatio float64
		b.SetBytes(m.baseBytes + m.tunedBytes)
		b.ResetTimer()
		b.StopTimer()
		for range b.N {
			var it stImportTimes
			s := newStore(b, Options{})
			it.importBase, it.cpuBase = wallAndCPU(b, true, func() {
				res, err := s.Import(ctx, m.baseDir, "base", ImportOptions{})
				if err != nil {
					b.Fatal(err)
				}
				baseRatio = float64(res.LogicalBytes) / float64(res.StoredBytes)
			})
			it.importTuned, it.cpuTuned = wallAndCPU(b, true, func() {
				res, err := s.Import(ctx, m.tunedDir, "ft", ImportOptions{Base: "base"})
				if err != nil {
					b.Fatal(err)
				}
				tunedRatio = float64(res.LogicalBytes) / float64(res.StoredBytes)
				tunedNewRatio = float64(res.LogicalBytes) / float64(res.NewBytes)
			})
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			it.copyBase, it.copyTuned = copyBaseline(b, m)
			total.add(it)
		}
		reportSTImport(b, m, total)
		b.ReportMetric(baseRatio, "base-logical/stored")
		b.ReportMetric(tunedRatio, "ft-logical/stored")
		b.ReportMetric(tunedNewRatio, "ft-logical/new")
	})
}

// copyBaseline copies the base's and the fine-tune's folders with an fsync
// per file, as a durable import must at least write them, and returns the
// time of each.
func copyBaseline(b *testing.B, m stImportModel) (base, tuned time.Duration) {
	b.Helper()
	dst := b.TempDir()
	defer os.RemoveAll(dst)
	for _, c := range []struct {
		src string
		d   *time.Duration
	}{{m.baseDir, &base}, {m.tunedDir, &tuned}} {
		var err error
		*c.d, _ = wallAndCPU(b, false, func() { err = testfixture.CopyTree(c.src, filepath.Join(dst, filepath.Base(c.src))) })
		if err != nil {
			b.Fatal(err)
		}
	}
	return base, tuned
}

// reportSTImport reports each import's MB/s beside the copy's of the same
// files, and their ratios (above 1: the import is faster).
func reportSTImport(b *testing.B, m stImportModel, t stImportTimes) {
	n := float64(b.N) / 1e6
	rate := func(bytes int64, d time.Duration) float64 { return float64(bytes) * n / d.Seconds() }
	b.ReportMetric(rate(m.baseBytes, t.importBase), "import-base-MB/s")
	b.ReportMetric(rate(m.tunedBytes, t.importTuned), "import-ft-MB/s")
	b.ReportMetric(rate(m.baseBytes, t.copyBase), "copy-base-MB/s")
	b.ReportMetric(rate(m.tunedBytes, t.copyTuned), "copy-ft-MB/s")
	b.ReportMetric(t.copyBase.Seconds()/t.importBase.Seconds(), "base-vs-copy")
	b.ReportMetric(t.copyTuned.Seconds()/t.importTuned.Seconds(), "ft-vs-copy")
	b.ReportMetric(rate(m.baseBytes, t.cpuBase), "import-base-MB/cpu-s")
	b.ReportMetric(rate(m.tunedBytes, t.cpuTuned), "import-ft-MB/cpu-s")
}
