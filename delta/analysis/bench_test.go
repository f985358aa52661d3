package analysis

import (
	"testing"

	"github.com/klauspost/compress/zstd"

	"deltafs/delta"
	"deltafs/npy"
)

// Benchmarks of the analysis; the recommendation's best ratio is reported
// beside zstd SpeedDefault's (≈ zstd -3, literals entropy-coded) of the
// same bytes, the baseline.

func zstd3(b *testing.B, data []byte) int {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithAllLitEntropyCompression(true), zstd.WithEncoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	return len(enc.EncodeAll(data, nil))
}

func BenchmarkDeltaStatistics(b *testing.B) {
	base, tune := finetuneValues(1024, 1024, 6)
	t, r := tensorOf(npy.Float32, true, tune), tensorOf(npy.Float32, true, base)
	b.SetBytes(int64(len(t.Data)))
	for b.Loop() {
		if _, err := DeltaStatistics(t, &r, StatsConfig{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecommend(b *testing.B) {
	base, tune := finetuneValues(1024, 1024, 7)
	t, r := tensorOf(npy.Float32, true, tune), tensorOf(npy.Float32, true, base)
	t.Shape, r.Shape = []int64{1024, 1024}, []int64{1024, 1024}
	b.SetBytes(int64(len(t.Data)))
	var rec *Recommendation
	for b.Loop() {
		var err error
		if rec, err = Recommend(t, &r, RecommendConfig{SampleBytes: 1 << 20}); err != nil {
			b.Fatal(err)
		}
	}
	if rec.Best != delta.Auto {
		b.Logf("best %s", rec.Best)
	}
	b.ReportMetric(rec.Candidates[0].Ratio, "best-ratio")
	b.ReportMetric(float64(len(t.Data))/float64(zstd3(b, t.Data)), "zstd3-ratio")
}
